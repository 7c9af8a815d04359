/* cmd_synth.c — `flukewatch synth`: write a synthetic humpback-fluke dataset
 * in the Kaggle layout (see data/synth_dataset.h for what is written). */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "parallel.h"
#include "progress.h"
#include "sanitize.h"
#include "synth_dataset.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_synth;
    fw_synth_opts opts = {.seed = FW_SYNTH_DEFAULT_SEED, .n_whales = FW_SYNTH_DEFAULT_WHALES};
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = fw_cli_option_value(argc, argv, &i, "--out", &missing))) {
            if (!*v)
                return fw_cli_usage_error(cmd, "--out needs a directory");
            out = v;
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--whales", &missing))) {
            long n;
            if (fw_parse_long(v, 1, FW_SYNTH_MAX_WHALES, &n))
                return fw_cli_usage_error(cmd, "--whales '%s' is not a whole number in 1..%d", v,
                                          FW_SYNTH_MAX_WHALES);
            opts.n_whales = (int)n;
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--seed", &missing))) {
            unsigned long long s;
            if (fw_parse_u64(v, &s))
                return fw_cli_usage_error(cmd, "--seed '%s' is not an unsigned 64-bit integer", v);
            opts.seed = s;
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--size", &missing))) {
            int w, h;
            if (fw_parse_size(v, &w, &h) || w < 64 || w > 4096 || h < 32 || h > 4096)
                return fw_cli_usage_error(cmd, "--size '%s' is not WxH within 64x32..4096x4096", v);
            opts.width = w;
            opts.height = h;
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--threads", &missing))) {
            long t;
            if (fw_parse_long(v, 0, 256, &t))
                return fw_cli_usage_error(cmd, "--threads '%s' is not a whole number in 0..256", v);
            opts.threads = (int)t;
        } else if (!strcmp(argv[i], "--force")) {
            opts.force = 1;
        } else if (missing) {
            return fw_cli_usage_error(cmd, "%s needs a value", argv[i]);
        } else if (argv[i][0] == '-') {
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else {
            return fw_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!out)
        return fw_cli_usage_error(cmd, "--out DIR is required");

    fw_error err;
    fw_error_clear(&err);
    fw_synth_plan plan;
    if (fw_synth_plan_make(&opts, &plan, &err) < 0)
        return fw_cli_report(cmd, &err);
    fw_synth_stats st;
    fw_synth_plan_stats(&plan, &st);
    char dir[512], size[32];
    fw_sanitize(out, dir, sizeof dir);
    if (opts.width)
        snprintf(size, sizeof size, "%dx%d", opts.width, opts.height);
    else
        snprintf(size, sizeof size, "varied");
    printf("synth: seed %llu, %d known whale%s, image size %s -> %s\n",
           (unsigned long long)opts.seed, st.n_whales, st.n_whales == 1 ? "" : "s", size, dir);
    printf("  train %6ld images: %ld of known whales (%d with one image = %.0f%%, "
           "%d with 10 or more, max %d) + %ld new_whale (%.1f%%)\n",
           st.n_train, st.n_train_known, st.singletons, 100.0 * st.singletons / st.n_whales,
           st.whales_ge10, st.max_images, st.n_train_new, 100.0 * st.n_train_new / st.n_train);
    printf("  test  %6ld images: %ld of known whales + %ld new_whale (%.1f%%)\n", st.n_test,
           st.n_test_known, st.n_test_new, 100.0 * st.n_test_new / st.n_test);
    fflush(stdout);

    fw_progress *bar = fw_progress_start("rendering", plan.n_items, "images", stderr);
    opts.progress = bar ? fw_progress_callback : NULL;
    opts.progress_ctx = bar;
    double t0 = now_s();
    int rc = fw_synth_write(out, &opts, &plan, &err);
    double dt = now_s() - t0;
    if (bar)
        fw_progress_finish(bar);
    long n_items = plan.n_items;
    fw_synth_plan_free(&plan);
    if (rc < 0)
        return fw_cli_report(cmd, &err);
    printf("wrote %ld images and train.csv, sample_submission.csv, test_truth.csv to %s "
           "in %.1f s (%.0f images/s, %d threads)\n",
           n_items, dir, dt, dt > 0 ? n_items / dt : 0.0, fw_resolve_threads(opts.threads));
    return FW_EXIT_OK;
}

const fw_command fw_cmd_synth = {
    "synth",
    "--out DIR [--whales N] [--seed S] [--size WxH] [--threads T] [--force]",
    "Write a synthetic humpback-fluke dataset in the Kaggle layout.",
    "Renders procedural fluke photos: every whale has a persistent tail outline,\n"
    "black/white pattern and scars; every photo varies viewpoint, lighting, sea,\n"
    "splash, blur, colour/grayscale, JPEG quality and size. The id distribution\n"
    "mirrors the real dataset scaled to N known whales (the real one has 5004):\n"
    "41% of whales with one image, a long tail, 38% new_whale in train, and a\n"
    "test set with 28% new_whale.\n"
    "\n"
    "Options:\n"
    "  --out DIR      output directory (required; created if missing). A non-empty\n"
    "                 DIR is refused unless it holds a previous synth output, which\n"
    "                 is replaced.\n"
    "  --whales N     known whales, 1..100000 (default 300: about 1,500 train and\n"
    "                 480 test images)\n"
    "  --seed S       random seed, any unsigned 64-bit integer (default 42)\n"
    "  --size WxH     make every image exactly WxH, 64x32..4096x4096 (default:\n"
    "                 varied, 320..1000 px wide, mostly 2:1 or wider)\n"
    "  --threads T    rendering threads, 0 = all CPUs (default 0)\n"
    "  --force        write into a non-empty DIR that is not a synth output\n"
    "                 (files with the same names are replaced, others kept)\n"
    "  -h, --help     show this help\n"
    "\n"
    "Writes DIR/train/*.jpg, DIR/test/*.jpg, DIR/train.csv (Image,Id),\n"
    "DIR/sample_submission.csv (Image,Id: a placeholder prediction),\n"
    "DIR/test_truth.csv (Image,Id: the true id of every test image) and the\n"
    "marker DIR/.flukewatch-synth. CSVs are written last, so an interrupted run\n"
    "leaves no CSV naming missing images. The same seed and options give\n"
    "byte-identical files whatever --threads is.\n"
    "\n"
    "Exit status: 0 success, 1 failure (e.g. DIR not writable), 2 usage error.\n",
    run,
};
