/* cmd_train.c — `flukewatch train`, `flukewatch lr-find` and
 * `flukewatch resume`: create (or pick up) a run in the workspace's store
 * and drive its trainer thread in the foreground — a progress bar on a
 * terminal, plain lines otherwise; SIGINT/SIGTERM stop it with a checkpoint —
 * or, with --detach, in a background process of its own whose output goes
 * to WORKSPACE/runs/RUNID/train.log.
 *
 * Under mpirun with several ranks (`mpirun -np N flukewatch train ...`) the
 * run is data parallel (trainer.h): rank 0 does everything this file does
 * alone (creating or picking up the run, printing, the store) and sends the
 * other ranks what to train (dist_start + the config text); they train
 * their shards silently. A rank whose trainer fails prints its error and
 * ends the whole group (MPI_Abort). --detach is refused there. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dist.h"
#include "fileio.h"
#include "progress.h"
#include "run_config.h"
#include "run_data.h"
#include "run_ref.h"
#include "sanitize.h"
#include "store.h"
#include "trainer.h"

static volatile sig_atomic_t stop_signal;

/* What rank 0 sends the other ranks of a data-parallel group (then the
 * config text, config_len bytes). */
typedef struct dist_start {
    int code;         /* 0: train; > 0: every rank exits with it; -1: nothing to train */
    int resume, lr_find_only;
    char run_id[FW_RUN_ID_CAP];
    char workspace[FW_RUN_PATH_MAX];
    char cache_dir[FW_RUN_PATH_MAX];
    uint64_t config_len;
} dist_start;

/* The group of this command and whether rank 0 has sent dist_start yet. */
typedef struct dist_ctx {
    fw_dist *d;
    int sent;
} dist_ctx;

static int multi_rank(const dist_ctx *dc)
{
    return dc && fw_dist_size(dc->d) > 1;
}

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

typedef struct train_args {
    const char *name, *config_file, *dataset, *run_ref;
    int detach, lr_find_only, no_disk_cache, n_sets;
    const char *cache_dir;
    char **sets; /* key=value arguments, in order */
} train_args;

static int parse_args(const fw_command *cmd, int argc, char **argv, int takes_run,
                      train_args *a)
{
    memset(a, 0, sizeof *a);
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets)
        return fw_cli_usage_error(cmd, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        if (!strcmp(arg, "--name"))
            slot = &a->name;
        else if (!strcmp(arg, "--config"))
            slot = &a->config_file;
        else if (!strcmp(arg, "--dataset"))
            slot = &a->dataset;
        else if (!strcmp(arg, "--cache-dir"))
            slot = &a->cache_dir;
        if (slot && takes_run && slot != &a->cache_dir)
            return fw_cli_usage_error(cmd, "unknown option '%s'", arg);
        if (slot) {
            if (i + 1 >= argc || !*argv[i + 1])
                return fw_cli_usage_error(cmd, "%s needs a value", arg);
            *slot = argv[++i];
        } else if (!strcmp(arg, "--detach")) {
            a->detach = 1;
        } else if (!strcmp(arg, "--no-disk-cache")) {
            a->no_disk_cache = 1;
        } else if (arg[0] == '-' && arg[1]) {
            return fw_cli_usage_error(cmd, "unknown option '%s'", arg);
        } else if (takes_run) {
            if (a->run_ref)
                return fw_cli_usage_error(cmd, "unexpected argument '%s'", arg);
            a->run_ref = arg;
        } else if (strchr(arg, '=')) {
            a->sets[a->n_sets++] = argv[i];
        } else {
            return fw_cli_usage_error(cmd, "expected key=value, got '%s' (see man flukewatch.conf)",
                                      arg);
        }
    }
    if (takes_run && !a->run_ref)
        return fw_cli_usage_error(cmd, "missing RUN");
    return FW_EXIT_OK;
}

/* The config from defaults, --config FILE, key=value arguments and
 * --dataset, validated. Exit code 2 with the message on any refusal. */
static int build_config(const fw_command *cmd, const train_args *a, fw_run_config *cfg)
{
    fw_error err;
    fw_error_clear(&err);
    fw_run_config_default(cfg);
    if (a->config_file && fw_run_config_load(cfg, a->config_file, &err) != FW_OK)
        return fw_cli_usage_error(cmd, "%s", err.msg);
    for (int i = 0; i < a->n_sets; i++)
        if (fw_run_config_set_arg(cfg, a->sets[i], &err) != FW_OK)
            return fw_cli_usage_error(cmd, "%s", err.msg);
    if (a->dataset) {
        if (strlen(a->dataset) >= sizeof cfg->dataset)
            return fw_cli_usage_error(cmd, "--dataset: path too long");
        snprintf(cfg->dataset, sizeof cfg->dataset, "%s", a->dataset);
    }
    if (!cfg->dataset[0])
        return fw_cli_usage_error(cmd, "no dataset: pass --dataset DIR or set dataset = DIR");
    if (fw_run_config_validate(cfg, &err) != FW_OK)
        return fw_cli_usage_error(cmd, "%s", err.msg);
    /* Store an absolute dataset path, so the run works from any directory. */
    char *abs = realpath(cfg->dataset, NULL);
    if (abs) {
        if (strlen(abs) < sizeof cfg->dataset)
            snprintf(cfg->dataset, sizeof cfg->dataset, "%s", abs);
        free(abs);
    }
    return FW_EXIT_OK;
}

/* ------------------------------------------------------------ foreground */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *phase_unit(fw_trainer_phase p)
{
    return p == FW_PHASE_TRAINING || p == FW_PHASE_LR_FIND ? "step" : "img";
}

/* Show the trainer's progress until it ends; print a line per epoch. */
static void watch(fw_trainer *t, const char *run_id)
{
    fw_trainer_state s, prev = {.phase = FW_PHASE_STARTING, .epoch = -1};
    fw_progress *bar = NULL;
    long printed_epoch = -1;
    for (;;) {
        fw_trainer_get_state(t, &s);
        if (s.phase != prev.phase) {
            fw_progress_finish(bar);
            bar = NULL;
            if (s.phase == FW_PHASE_PAUSED)
                printf("%s paused at step %lld\n", run_id, (long long)s.step);
            else if (prev.phase == FW_PHASE_PAUSED && s.phase == FW_PHASE_TRAINING)
                printf("%s resumed\n", run_id);
            fflush(stdout);
            if (s.phase == FW_PHASE_LOADING || s.phase == FW_PHASE_LR_FIND ||
                s.phase == FW_PHASE_TRAINING || s.phase == FW_PHASE_EVALUATING)
                bar = fw_progress_start_at(fw_trainer_phase_name(s.phase), s.done,
                                           s.total > 0 ? s.total : 1, phase_unit(s.phase),
                                           stderr);
        }
        if (bar && s.total > 0)
            fw_progress_set(bar, s.done);
        if (printed_epoch < 0)
            printed_epoch = s.start_epoch;
        while (printed_epoch >= 0 && printed_epoch < s.epoch) {
            fw_epoch_summary e;
            if (fw_trainer_epoch_summary(t, printed_epoch + 1, &e) != FW_OK)
                break;
            printed_epoch = e.epoch;
            printf("epoch %ld/%d  step %lld  loss %.4f  lr %.3g  %.1f img/s  data wait %.0f%%",
                   e.epoch, s.epochs, (long long)e.step, e.loss, e.lr, e.img_per_s,
                   100.0 * e.data_wait);
            if (e.val_map5 >= 0)
                printf("  val mAP@5 %.4f (best %.4f)", e.val_map5, e.best_map5);
            printf("\n");
            fflush(stdout);
        }
        prev = s;
        if (s.phase == FW_PHASE_DONE)
            break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (stop_signal) {
            static int told;
            if (!told) {
                fprintf(stderr, "\nflukewatch: %s: stopping at the next step (saving a checkpoint)...\n",
                        strsignal(stop_signal));
                told = 1;
            }
        }
    }
    fw_progress_finish(bar);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Print the run's outcome from the store. */
static void summarize(const char *workspace, const char *run_id, int lr_find_only)
{
    fw_error err;
    fw_store *s = NULL;
    if (fw_store_open(workspace, &s, &err) != FW_OK)
        return;
    if (lr_find_only) {
        fw_lr_curve c;
        if (fw_store_lr_curve_latest(s, run_id, &c, &err) == FW_OK) {
            printf("lr-find: %d points%s\n", c.n, c.diverged ? " (stopped at divergence)" : "");
            printf("%12s  %10s  %10s\n", "lr", "loss", "smoothed");
            int step = c.n > 20 ? c.n / 20 : 1;
            for (int i = 0; i < c.n; i += step)
                printf("%12.3g  %10.4f  %10.4f\n", c.lrs[i], c.losses[i], c.smoothed[i]);
            if (c.valid)
                printf("suggestions: valley %.3g  steep %.3g  minimum/10 %.3g\n"
                       "train with: flukewatch train ... lr=%.3g\n",
                       c.valley, c.steep, c.minimum, c.valley);
            else
                printf("no suggestion: too few points before the loss diverged\n");
            fw_lr_curve_free(&c);
        }
    } else {
        fw_evaluation *evals = NULL;
        int n = 0;
        if (fw_store_eval_list(s, run_id, &evals, &n, &err) == FW_OK && n > 0) {
            int best = 0;
            for (int i = 1; i < n; i++)
                if (evals[i].map5 > evals[best].map5)
                    best = i;
            printf("best val mAP@5 %.4f (top-1 %.4f) at epoch %.0f, step %lld\n",
                   evals[best].map5, evals[best].top1, evals[best].epoch,
                   (long long)evals[best].step);
        }
        fw_eval_list_free(evals, n);
    }
    fw_store_close(s);
}

/* Run the trainer here until it ends. Returns the exit code. */
/* Start the trainer with SIGINT/SIGTERM blocked in its threads. */
static int start_trainer(const fw_trainer_opts *o, fw_trainer **t, fw_error *err)
{
    install_signals();
    /* Only this thread takes SIGINT/SIGTERM: the trainer's threads (created
     * with them blocked) never see a system call interrupted by them. */
    sigset_t stop_set, old_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
    int started = fw_trainer_start(o, t, err);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return started;
}

/* A failed rank of a data-parallel group: the others wait in a collective. */
static void end_group(const dist_ctx *dc)
{
    if (multi_rank(dc)) {
        fflush(stdout);
        fflush(stderr);
        fw_dist_abort(dc->d, FW_EXIT_FAIL);
    }
}

/* Ranks other than 0: train what rank 0 sends, silently (errors to stderr). */
static int run_follower(const fw_command *cmd, dist_ctx *dc)
{
    dist_start ds;
    fw_error err;
    fw_error_clear(&err);
    if (fw_dist_bcast(dc->d, &ds, sizeof ds, &err) != FW_OK) {
        fw_cli_report(cmd, &err);
        end_group(dc);
        return FW_EXIT_FAIL;
    }
    if (ds.code != 0)
        return ds.code < 0 ? FW_EXIT_OK : ds.code;
    ds.run_id[sizeof ds.run_id - 1] = ds.workspace[sizeof ds.workspace - 1] =
        ds.cache_dir[sizeof ds.cache_dir - 1] = '\0';
    char *text = malloc(ds.config_len + 1);
    int rc = text ? FW_OK : fw_fail(&err, FW_ENOMEM, "out of memory");
    if (rc == FW_OK)
        rc = fw_dist_bcast(dc->d, text, ds.config_len, &err);
    fw_run_config cfg;
    fw_run_config_default(&cfg);
    if (rc == FW_OK) {
        text[ds.config_len] = '\0';
        rc = fw_run_config_parse(&cfg, text, ds.run_id, &err);
    }
    free(text);
    fw_trainer *t = NULL;
    fw_trainer_opts o = {.workspace = ds.workspace, .run_id = ds.run_id, .cfg = &cfg,
                         .resume = ds.resume, .lr_find_only = ds.lr_find_only,
                         .cache_dir = ds.cache_dir, .interrupt = &stop_signal, .dist = dc->d};
    if (rc == FW_OK)
        rc = start_trainer(&o, &t, &err);
    int stopped = 0;
    if (rc == FW_OK)
        rc = fw_trainer_join(t, &stopped, &err);
    if (rc != FW_OK) {
        fprintf(stderr, "flukewatch %s: rank %d of run %s failed\n", cmd->name,
                fw_dist_rank(dc->d), ds.run_id);
        fw_cli_report(cmd, &err);
        end_group(dc);
        return FW_EXIT_FAIL;
    }
    return stopped && stop_signal ? FW_EXIT_FAIL : FW_EXIT_OK;
}

/* Rank 0: tell the other ranks what to train (code 0) or to exit (code != 0). */
static int send_start(dist_ctx *dc, int code, const char *workspace, const char *run_id,
                      const fw_run_config *cfg, int resume, int lr_find_only,
                      const char *cache_dir, fw_error *err)
{
    if (!multi_rank(dc) || dc->sent)
        return FW_OK;
    dc->sent = 1;
    dist_start ds;
    memset(&ds, 0, sizeof ds);
    char *text = NULL;
    int rc = FW_OK;
    if (code == 0) {
        rc = fw_run_config_format(cfg, &text, err);
        if (rc != FW_OK)
            code = FW_EXIT_FAIL;
    }
    ds.code = code;
    if (code == 0) {
        ds.resume = resume;
        ds.lr_find_only = lr_find_only;
        snprintf(ds.run_id, sizeof ds.run_id, "%s", run_id);
        snprintf(ds.workspace, sizeof ds.workspace, "%s", workspace);
        snprintf(ds.cache_dir, sizeof ds.cache_dir, "%s", cache_dir ? cache_dir : "");
        ds.config_len = strlen(text);
    }
    fw_error e2;
    if (fw_dist_bcast(dc->d, &ds, sizeof ds, rc == FW_OK ? err : &e2) != FW_OK)
        rc = FW_EDEVICE;
    if (rc == FW_OK && code == 0)
        rc = fw_dist_bcast(dc->d, text, ds.config_len, err);
    free(text);
    return rc;
}

static int run_foreground(const fw_command *cmd, const char *workspace, const char *run_id,
                          const fw_run_config *cfg, int resume, int lr_find_only,
                          const char *cache_dir, dist_ctx *dc)
{
    fw_trainer_opts o = {.workspace = workspace, .run_id = run_id, .cfg = cfg,
                         .resume = resume, .lr_find_only = lr_find_only,
                         .cache_dir = cache_dir, .interrupt = &stop_signal,
                         .dist = dc ? dc->d : NULL};
    fw_error err;
    fw_error_clear(&err);
    fw_trainer *t = NULL;
    if (send_start(dc, 0, workspace, run_id, cfg, resume, lr_find_only, cache_dir, &err) !=
        FW_OK) {
        fw_cli_report(cmd, &err);
        end_group(dc);
        return FW_EXIT_FAIL;
    }
    int started = start_trainer(&o, &t, &err);
    if (started != FW_OK) {
        int code = fw_cli_report(cmd, &err);
        end_group(dc);
        return code;
    }
    double t0 = now_s();
    watch(t, run_id);
    int stopped = 0;
    int rc = fw_trainer_join(t, &stopped, &err);
    if (rc != FW_OK) {
        fprintf(stderr, "flukewatch %s: run %s failed\n", cmd->name, run_id);
        int code = fw_cli_report(cmd, &err);
        end_group(dc);
        return code;
    }
    summarize(workspace, run_id, lr_find_only);
    if (stopped) {
        printf("%s stopped after %.0f s; checkpoint saved. Continue with: flukewatch resume %s\n",
               run_id, now_s() - t0, run_id);
        return stop_signal ? FW_EXIT_FAIL : FW_EXIT_OK;
    }
    printf("%s finished in %.0f s\n", run_id, now_s() - t0);
    return FW_EXIT_OK;
}

/* ------------------------------------------------------------ detached */

/* Child side of --detach: a session of its own, output into the run's log. */
static int detach_child(const char *workspace, const char *run_id)
{
    char dir[FW_RUN_PATH_MAX + 64], log[FW_RUN_PATH_MAX + 96];
    fw_error err;
    snprintf(dir, sizeof dir, "%s/runs/%s", workspace, run_id);
    snprintf(log, sizeof log, "%s/train.log", dir);
    if (setsid() < 0 || fw_mkdirs(dir, &err) != FW_OK)
        return -1;
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0)
        return -1;
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    close(in);
    close(out);
    signal(SIGHUP, SIG_IGN);
    return 0;
}

/* Parent side: wait until the run leaves "queued" (or the child dies). */
static int wait_started(const fw_command *cmd, const char *workspace, const char *run_id,
                        pid_t child)
{
    fw_error err;
    fw_store *s = NULL;
    if (fw_store_open(workspace, &s, &err) != FW_OK)
        return fw_cli_report(cmd, &err);
    int code = FW_EXIT_FAIL;
    for (int i = 0; i < 600; i++) { /* up to 60 s */
        fw_run_info r;
        if (fw_store_run_get(s, run_id, &r, &err) != FW_OK) {
            code = fw_cli_report(cmd, &err);
            break;
        }
        fw_run_status st = r.status;
        fw_run_info_free(&r);
        if (st == FW_RUN_FAILED) {
            fprintf(stderr, "flukewatch %s: run %s failed at start; see %s/runs/%s/train.log\n",
                    cmd->name, run_id, workspace, run_id);
            break;
        }
        if (st != FW_RUN_QUEUED && st != FW_RUN_INTERRUPTED) {
            printf("%s running in the background (pid %ld); log: %s/runs/%s/train.log\n", run_id,
                   (long)child, workspace, run_id);
            code = FW_EXIT_OK;
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fw_store_close(s);
    return code;
}

static int detach_refused(const fw_command *cmd)
{
    return fw_cli_usage_error(cmd, "--detach does not work under mpirun with several ranks "
                                   "(run mpirun itself in the background)");
}

static int start(const fw_command *cmd, const char *workspace, const char *run_id,
                 const fw_run_config *cfg, int resume, int lr_find_only, const train_args *a,
                 dist_ctx *dc)
{
    char cache_dir[FW_RUN_PATH_MAX] = "";
    if (a->cache_dir)
        snprintf(cache_dir, sizeof cache_dir, "%s", a->cache_dir);
    else if (!a->no_disk_cache)
        fw_default_cache_dir(cache_dir, sizeof cache_dir);
    if (!a->detach)
        return run_foreground(cmd, workspace, run_id, cfg, resume, lr_find_only, cache_dir,
                              dc);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "flukewatch %s: fork: %s\n", cmd->name, strerror(errno));
        return FW_EXIT_FAIL;
    }
    if (pid == 0) {
        if (detach_child(workspace, run_id) != 0)
            _exit(FW_EXIT_FAIL);
        _exit(run_foreground(cmd, workspace, run_id, cfg, resume, lr_find_only, cache_dir,
                             NULL));
    }
    return wait_started(cmd, workspace, run_id, pid);
}

/* ------------------------------------------------------------ commands */

static int open_store(const fw_command *cmd, char *workspace, size_t cap, fw_store **s)
{
    fw_error err;
    fw_error_clear(&err);
    if (fw_store_resolve_workspace(NULL, workspace, cap, &err) != FW_OK ||
        fw_store_open(workspace, s, &err) != FW_OK)
        return fw_cli_report(cmd, &err);
    char *abs = realpath(workspace, NULL);
    if (abs) {
        if (strlen(abs) < cap)
            snprintf(workspace, cap, "%s", abs);
        free(abs);
    }
    return FW_EXIT_OK;
}

static int new_run(const fw_command *cmd, int argc, char **argv, int lr_find_only, dist_ctx *dc)
{
    train_args a;
    int code = parse_args(cmd, argc, argv, 0, &a);
    if (code == FW_EXIT_OK && a.detach && multi_rank(dc))
        code = detach_refused(cmd);
    fw_run_config cfg;
    if (code == FW_EXIT_OK)
        code = build_config(cmd, &a, &cfg);
    char workspace[FW_RUN_PATH_MAX], run_id[FW_RUN_ID_CAP];
    fw_store *s = NULL;
    fw_error err;
    fw_error_clear(&err);
    /* Refuse a dataset that does not load before anything is created. */
    if (code == FW_EXIT_OK && fw_trainer_check_config(&cfg, &err) != FW_OK)
        code = fw_cli_report(cmd, &err);
    if (code == FW_EXIT_OK)
        code = open_store(cmd, workspace, sizeof workspace, &s);
    char devices[sizeof cfg.device + 32] = "";
    if (code == FW_EXIT_OK && multi_rank(dc))
        snprintf(devices, sizeof devices, "%s x%d ranks (MPI)", cfg.device,
                 fw_dist_size(dc->d));
    if (code == FW_EXIT_OK && fw_trainer_create_run_on(s, &cfg, a.name, NULL, lr_find_only,
                                                       NULL, devices, run_id, &err) != FW_OK)
        code = fw_cli_report(cmd, &err);
    fw_store_close(s);
    if (code == FW_EXIT_OK) {
        printf("%s\n", run_id);
        fflush(stdout);
        code = start(cmd, workspace, run_id, &cfg, 0, lr_find_only, &a, dc);
    }
    free(a.sets);
    return code;
}

static int resume_run(const fw_command *cmd, int argc, char **argv, int unused, dist_ctx *dc)
{
    (void)unused;
    train_args a;
    int code = parse_args(cmd, argc, argv, 1, &a);
    if (code == FW_EXIT_OK && a.detach && multi_rank(dc))
        code = detach_refused(cmd);
    char workspace[FW_RUN_PATH_MAX], run_id[FW_RUN_ID_CAP], clean[256];
    fw_store *s = NULL;
    fw_run_info r = {0};
    fw_run_config cfg;
    fw_error err;
    fw_error_clear(&err);
    int have_run = 0;
    if (code == FW_EXIT_OK)
        code = open_store(cmd, workspace, sizeof workspace, &s);
    if (code == FW_EXIT_OK && (fw_run_ref_resolve(s, a.run_ref, run_id, &err) != FW_OK ||
                               fw_store_run_get(s, run_id, &r, &err) != FW_OK))
        code = fw_cli_report(cmd, &err);
    else if (code == FW_EXIT_OK)
        have_run = 1;
    if (code == FW_EXIT_OK && r.status == FW_RUN_PAUSED) {
        /* A live owner holds it: ask it to go on. */
        int64_t id = 0;
        if (fw_store_control_post(s, run_id, FW_CONTROL_RESUME, &id, &err) != FW_OK)
            code = fw_cli_report(cmd, &err);
        else
            printf("%s: asked its owner (pid %lld on %s) to resume\n", run_id,
                   (long long)r.owner_pid, fw_sanitize(r.owner_host, clean, sizeof clean));
        have_run = 0;
    } else if (code == FW_EXIT_OK && r.status == FW_RUN_RUNNING) {
        fprintf(stderr, "flukewatch resume: %s is already running (pid %lld on %s)\n", run_id,
                (long long)r.owner_pid, fw_sanitize(r.owner_host, clean, sizeof clean));
        code = FW_EXIT_FAIL;
    } else if (code == FW_EXIT_OK &&
               (r.status == FW_RUN_FINISHED || r.status == FW_RUN_FAILED)) {
        fprintf(stderr,
                "flukewatch resume: %s is %s and cannot continue; start a new run from its "
                "config (flukewatch show %s)\n",
                run_id, fw_run_status_name(r.status), run_id);
        code = FW_EXIT_FAIL;
    }
    if (code == FW_EXIT_OK && have_run) {
        fw_run_config_default(&cfg);
        if (fw_run_config_parse(&cfg, r.config, run_id, &err) != FW_OK)
            code = fw_cli_report(cmd, &err);
    }
    int resume = r.status == FW_RUN_INTERRUPTED;
    fw_run_info_free(&r);
    fw_store_close(s);
    if (code == FW_EXIT_OK && have_run) {
        printf("%s\n", run_id);
        fflush(stdout);
        code = start(cmd, workspace, run_id, &cfg, resume, 0, &a, dc);
    }
    free(a.sets);
    return code;
}

/* Run a command alone, or as one rank of a data-parallel group under mpirun:
 * rank 0 runs it (and tells the others what to train), the others follow. */
static int with_ranks(const fw_command *cmd, int argc, char **argv, int arg,
                      int (*body)(const fw_command *, int, char **, int, dist_ctx *))
{
    dist_ctx dc = {0};
    fw_error err;
    fw_error_clear(&err);
    if (fw_dist_init(&dc.d, &err) != FW_OK)
        return fw_cli_report(cmd, &err);
    int code;
    if (fw_dist_rank(dc.d) != 0) {
        code = run_follower(cmd, &dc);
    } else {
        code = body(cmd, argc, argv, arg, &dc);
        /* ended before training (an error, or nothing to train): release the others */
        if (send_start(&dc, code == FW_EXIT_OK ? -1 : code, NULL, NULL, NULL, 0, 0, NULL,
                       &err) != FW_OK)
            code = fw_cli_report(cmd, &err);
    }
    fflush(stdout);
    fw_dist_finalize(dc.d);
    return code;
}

static int run_train(int argc, char **argv)
{
    return with_ranks(&fw_cmd_train, argc, argv, 0, new_run);
}

static int run_lr_find(int argc, char **argv)
{
    return with_ranks(&fw_cmd_lr_find, argc, argv, 1, new_run);
}

static int run_resume(int argc, char **argv)
{
    return with_ranks(&fw_cmd_resume, argc, argv, 0, resume_run);
}

#define CONFIG_HELP                                                                         \
    "The run config is the defaults (man flukewatch.conf), then --config FILE,\n"          \
    "then each key=value in order (later ones win). An unknown key or a bad value\n"       \
    "is refused before anything starts (exit 2), naming the key and what it accepts.\n"

#define START_HELP                                                                          \
    "  --detach          run in a background process (output in\n"                         \
    "                    WORKSPACE/runs/RUN/train.log); return once it runs\n"             \
    "  --cache-dir DIR   where decoded images are cached (default\n"                       \
    "                    ~/.cache/flukewatch)\n"                                            \
    "  --no-disk-cache   decode every image, keep nothing on disk\n"

const fw_command fw_cmd_train = {
    "train",
    "--dataset DIR [--name NAME] [--config FILE] [--detach] [key=value ...]",
    "Train a model on a dataset as a new run in the workspace.",
    "Creates a run in the workspace's store, prints its id as the first line of\n"
    "standard output, and trains it in the foreground: a progress bar on a\n"
    "terminal, plain lines otherwise, one line per epoch. Validation (mAP@5 with\n"
    "the new_whale threshold) runs every eval_every epochs and at the end;\n"
    "checkpoints go to WORKSPACE/runs/RUN/checkpoints.\n"
    "\n"
    "Options:\n"
    "  --dataset DIR     the dataset (Kaggle layout); or dataset = DIR in the config\n"
    "  --name NAME       the run's name (default \"train\")\n"
    "  --config FILE     a run config file (key = value lines)\n" START_HELP "\n" CONFIG_HELP
    "Keys include epochs, backbone, input (WxH), channels, device, threads, seed,\n"
    "lr, schedule, head.\n"
    "\n"
    "Ctrl-C or SIGTERM stops at the next step with a checkpoint (exit 1);\n"
    "'flukewatch resume RUN' continues. 'flukewatch pause|stop RUN' steer it from\n"
    "another shell. Exit status: 0 finished, 1 failed or interrupted, 2 usage.\n",
    run_train,
};

const fw_command fw_cmd_lr_find = {
    "lr-find",
    "--dataset DIR [--name NAME] [--config FILE] [--detach] [key=value ...]",
    "Run the LR range test on a config and print its curve and suggestions.",
    "Creates a run (named \"lr-find\" unless --name), prints its id first, and\n"
    "trains 100 steps with the lr growing exponentially from 1e-7 to 10\n"
    "(stopping early when the loss diverges), then puts every weight back. The\n"
    "curve (raw and smoothed loss) is stored with the run and printed with the\n"
    "valley, steep and minimum/10 suggestions.\n"
    "\n"
    "Options:\n"
    "  --dataset DIR     the dataset (Kaggle layout); or dataset = DIR in the config\n"
    "  --name NAME       the run's name\n"
    "  --config FILE     a run config file (key = value lines)\n" START_HELP "\n" CONFIG_HELP,
    run_lr_find,
};

const fw_command fw_cmd_resume = {
    "resume",
    "RUN [--detach]",
    "Continue an interrupted or stopped run from its newest checkpoint.",
    "RUN is a run id (r0003), its number (3) or a unique run name.\n"
    "An interrupted run (stopped, killed, or its process died) continues from its\n"
    "newest checkpoint that loads, with the weights, optimizer state, schedule\n"
    "and sampler position saved there, in the foreground (or --detach). A paused\n"
    "run whose owner is alive is asked to resume instead. Finished and failed runs\n"
    "cannot continue.\n"
    "\n"
    "Options:\n" START_HELP,
    run_resume,
};
