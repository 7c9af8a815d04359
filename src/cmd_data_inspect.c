/* cmd_data_inspect.c — `flukewatch data inspect DIR`: load a dataset, check
 * every image, and print what it holds (the report comes from data/inspect.c;
 * this file parses options and prints, sanitising every name and id). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "inspect.h"
#include "progress.h"
#include "sanitize.h"

static double percent(long part, long whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void print_report(const fw_dataset *ds, const fw_inspect_report *r)
{
    char clean[512];
    printf("dataset          %s\n", fw_sanitize(ds->root, clean, sizeof clean));
    printf("train images     %ld\n", r->n_train);
    printf("test images      %ld%s\n", r->n_test,
           r->n_test ? "" : " (no sample_submission.csv or no rows)");
    printf("known whales     %d\n", r->n_whales);
    printf("new_whale        %ld of %ld train images (%.1f%%)\n", r->train_new_whale, r->n_train,
           percent(r->train_new_whale, r->n_train));
    if (r->has_test_truth) {
        printf("                 %ld of %ld test images (%.1f%%, from test_truth.csv",
               r->test_new_whale, r->n_test, percent(r->test_new_whale, r->n_test));
        if (r->test_unseen)
            printf("; %ld with ids not in train.csv", r->test_unseen);
        printf(")\n");
    }
    if (r->has_boxes) {
        printf("bounding boxes   %ld of %ld images (%s", r->n_boxes, r->n_images,
               fw_sanitize(ds->bbox_path, clean, sizeof clean));
        if (r->n_boxes_unmatched)
            printf("; %ld rows for unlisted images ignored", r->n_boxes_unmatched);
        printf(")\n");
    }

    printf("\nimages per whale   whales   images\n");
    for (int b = 0; b < FW_INSPECT_BINS; b++)
        printf("  %-14s %8ld %8ld\n", r->bins[b].label, r->bins[b].whales, r->bins[b].images);
    if (r->n_top) {
        printf("most images      ");
        for (int k = 0; k < r->n_top; k++)
            printf("%s%s (%ld)", k ? ", " : "",
                   fw_sanitize(ds->whales[r->top_whale[k]], clean, sizeof clean),
                   r->top_count[k]);
        printf("\n");
    }

    printf("\nimages checked   %ld (train %ld, test %ld)\n", r->n_images, r->n_train, r->n_test);
    if (r->n_readable) {
        printf("image size       width %d-%d (median %d), height %d-%d (median %d)\n", r->min_w,
               r->max_w, r->median_w, r->min_h, r->max_h, r->median_h);
        printf("grayscale        %ld of %ld readable images (%.1f%%)\n", r->n_gray, r->n_readable,
               percent(r->n_gray, r->n_readable));
        if (r->work_w > 0)
            printf("smaller than %dx%d  %ld of %ld readable images (enlarged when cached)\n",
                   r->work_w, r->work_h, r->n_smaller, r->n_readable);
    } else {
        printf("image size       no readable images\n");
    }
    printf("unreadable       %ld of %ld images\n", r->n_bad, r->n_images);
    for (long i = 0; i < r->n_bad; i++) {
        char reason[512];
        printf("  %s/%s: %s\n", r->bad[i].in_test ? "test" : "train",
               fw_sanitize(r->bad[i].image, clean, sizeof clean),
               fw_sanitize(r->bad[i].reason, reason, sizeof reason));
    }
}

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_data_inspect;
    const char *dir = NULL, *bbox = NULL;
    long threads = 0;
    int work_w = 0, work_h = 0;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = fw_cli_option_value(argc, argv, &i, "--threads", &missing))) {
            if (fw_parse_long(v, 1, 256, &threads))
                return fw_cli_usage_error(cmd, "--threads wants a number from 1 to 256, not '%s'",
                                          v);
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--size", &missing))) {
            if (fw_parse_size(v, &work_w, &work_h))
                return fw_cli_usage_error(cmd, "--size wants WxH (each 8..16384), not '%s'", v);
        } else if ((v = fw_cli_option_value(argc, argv, &i, "--bbox", &missing))) {
            bbox = v;
        } else if (missing) {
            return fw_cli_usage_error(cmd, "%s needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (dir) {
            return fw_cli_usage_error(cmd, "one dataset directory only ('%s' and '%s')", dir,
                                      argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        return fw_cli_usage_error(cmd, "which dataset directory?");

    fw_dataset ds;
    fw_error err;
    fw_error_clear(&err);
    fw_dataset_opts dopts = {bbox, 0};
    if (fw_dataset_load(&ds, dir, &dopts, &err) < 0)
        return fw_cli_report(cmd, &err);

    fw_progress *bar = fw_progress_start("checking images", ds.n_train + ds.n_test, "img", stderr);
    fw_inspect_opts iopts = {(int)threads, work_w, work_h, bar ? fw_progress_callback : NULL, bar};
    fw_inspect_report rep;
    int rc = fw_inspect(&ds, &iopts, &rep, &err);
    if (bar)
        fw_progress_finish(bar);
    if (rc < 0) {
        fw_dataset_free(&ds);
        return fw_cli_report(cmd, &err);
    }
    print_report(&ds, &rep);
    fw_inspect_free(&rep);
    fw_dataset_free(&ds);
    return FW_EXIT_OK;
}

const fw_command fw_cmd_data_inspect = {
    "data inspect",
    "DIR [--threads N] [--size WxH] [--bbox FILE]",
    "Summarise a whale dataset and check that every image decodes.",
    "Reads DIR/train.csv (required), DIR/sample_submission.csv, DIR/test_truth.csv\n"
    "and bounding boxes (--bbox FILE, else DIR/bounding_boxes.csv when present),\n"
    "then reads every image they list under DIR/train/ and DIR/test/ (a header\n"
    "probe and a cheap 1/8-scale decode, which catches truncated files). Prints\n"
    "the number of train and test images and of known whales; the share of\n"
    "new_whale in train (and in test when test_truth.csv exists); how many whales\n"
    "have 1, 2, 3, 4-10 and more than 10 images, and how many images they hold;\n"
    "the whales with the most images; the range and median of image sizes; the\n"
    "share of grayscale images; and every file that cannot be read, with the\n"
    "reason (\"missing\" for a listed file that does not exist).\n"
    "\n"
    "CSV files follow RFC 4180 (UTF-8 BOM, CRLF and blank lines are fine);\n"
    "headers must be Image,Id (train.csv, sample_submission.csv, test_truth.csv)\n"
    "and Image,x0,y0,x1,y1 (boxes), in any letter case.\n"
    "\n"
    "Options:\n"
    "  --threads N   read and decode with N threads (default: all CPUs)\n"
    "  --size WxH    also count images smaller than the working size WxH\n"
    "                (they are enlarged when cached)\n"
    "  --bbox FILE   bounding boxes (Image,x0,y0,x1,y1) instead of\n"
    "                DIR/bounding_boxes.csv\n"
    "\n"
    "Exit status: 0 when the CSV files are valid, even if some images are\n"
    "unreadable (they are listed); 1 when a CSV file is malformed (the message\n"
    "names the file and line) or a required file or directory is missing;\n"
    "2 for bad usage.\n",
    run,
};
