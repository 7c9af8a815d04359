/* cmd_export.c — `flukewatch export RUN [--out FILE] [--metric NAME ...]`: a
 * run's metric points as CSV (run,step,epoch,name,value,wall_time), to
 * stdout or to FILE written atomically (temp file, fsync, rename). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "run_ref.h"
#include "sanitize.h"
#include "store.h"

enum { MAX_METRICS = 64, PAGE = 8192 };

/* A double that reads back exactly, as short as it can be. */
static void format_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* A CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF,
 * or spaces at an end; quotes doubled. */
static void put_field(FILE *f, const char *s)
{
    size_t len = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (len > 0 && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Write every selected point; names are sanitised when f is a terminal. */
static int write_csv(fw_store *s, const char *id, const char *const *metrics, int n_metrics,
                     FILE *f, int to_terminal, long long *rows, fw_error *err)
{
    fputs("run,step,epoch,name,value,wall_time\r\n", f);
    *rows = 0;
    for (int m = 0; m < (n_metrics ? n_metrics : 1); m++) {
        int64_t after = 0;
        for (;;) {
            fw_metric_query q = {.run_id = id, .name = n_metrics ? metrics[m] : NULL,
                                 .after_rowid = after, .min_step = INT64_MIN, .limit = PAGE};
            fw_metric_point *pts = NULL;
            int n = 0;
            FW_TRY(fw_store_metrics_read(s, &q, &pts, &n, err));
            for (int i = 0; i < n; i++) {
                char epoch[40], value[40], name[sizeof pts[i].name];
                format_double(pts[i].epoch, epoch, sizeof epoch);
                format_double(pts[i].value, value, sizeof value);
                fprintf(f, "%s,%lld,%s,", id, (long long)pts[i].step, epoch);
                put_field(f, to_terminal ? fw_sanitize(pts[i].name, name, sizeof name)
                                         : pts[i].name);
                fprintf(f, ",%s,%.6f\r\n", value, pts[i].wall_time);
            }
            *rows += n;
            if (n > 0)
                after = pts[n - 1].rowid;
            free(pts);
            if (n < PAGE)
                break;
        }
    }
    if (ferror(f))
        return fw_fail(err, FW_EIO, "writing the CSV: %s", strerror(errno));
    return 0;
}

/* Write into FILE.tmp.PID, fsync, rename over FILE, fsync the directory. */
static int export_to_file(fw_store *s, const char *id, const char *const *metrics,
                          int n_metrics, const char *path, long long *rows, fw_error *err)
{
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (!tmp)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int rc = fw_fail(err, FW_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return fw_fail(err, FW_EIO, "%s: %s", path, strerror(errno));
    }
    int rc = write_csv(s, id, metrics, n_metrics, f, 0, rows, err);
    if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = fw_fail(err, FW_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = fw_fail(err, FW_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fw_fail(err, FW_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc == 0)
        rc = fw_fsync_parent_dir(path, err);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_export;
    const char *ref = NULL, *out = NULL;
    const char *metrics[MAX_METRICS];
    int n_metrics = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") || !strncmp(a, "--out=", 6)) {
            const char *v = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v)
                return fw_cli_usage_error(cmd, "--out needs a file name");
            if (out)
                return fw_cli_usage_error(cmd, "--out given twice");
            out = v;
        } else if (!strcmp(a, "--metric") || !strncmp(a, "--metric=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || !*v)
                return fw_cli_usage_error(cmd, "--metric needs a metric name");
            if (n_metrics == MAX_METRICS)
                return fw_cli_usage_error(cmd, "at most %d --metric options", MAX_METRICS);
            metrics[n_metrics++] = v;
        } else if (a[0] == '-' && a[1]) {
            return fw_cli_usage_error(cmd, "unknown option '%s'", a);
        } else if (ref) {
            return fw_cli_usage_error(cmd, "unexpected argument '%s' (one RUN)", a);
        } else {
            ref = a;
        }
    }
    if (!ref)
        return fw_cli_usage_error(cmd, "RUN is required (an id, its number or a unique name)");

    fw_error err;
    fw_error_clear(&err);
    fw_store *s = NULL;
    char id[FW_RUN_ID_CAP];
    if (fw_run_ref_open(ref, &s, id, &err) < 0)
        return fw_cli_report(cmd, &err);
    int rc = FW_OK;
    /* A --metric the run never wrote is most likely a typo: say which exist. */
    char **names = NULL;
    int n_names = 0;
    if (rc == 0 && n_metrics > 0)
        rc = fw_store_metric_names(s, id, &names, &n_names, &err);
    for (int m = 0; rc == 0 && m < n_metrics; m++) {
        int known = 0;
        for (int k = 0; k < n_names && !known; k++)
            known = !strcmp(names[k], metrics[m]);
        if (!known) {
            char list[400] = "";
            size_t used = 0;
            for (int k = 0; k < n_names && used + 70 < sizeof list; k++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                         k ? ", " : "", names[k]);
            rc = fw_fail(&err, FW_ENOTFOUND, "run %s has no metric '%s' (it has: %s)", id,
                         metrics[m], n_names ? list : "none");
        }
    }
    fw_string_list_free(names, n_names);
    long long rows = 0;
    if (rc == 0 && out) {
        rc = export_to_file(s, id, metrics, n_metrics, out, &rows, &err);
        if (rc == 0) {
            char clean[1024];
            fprintf(stderr, "wrote %lld points of run %s to %s\n", rows, id,
                    fw_sanitize(out, clean, sizeof clean));
        }
    } else if (rc == 0) {
        rc = write_csv(s, id, metrics, n_metrics, stdout, isatty(STDOUT_FILENO), &rows, &err);
        if (rc == 0 && fflush(stdout) != 0)
            rc = fw_fail(&err, FW_EIO, "writing to stdout: %s", strerror(errno));
    }
    fw_store_close(s);
    return rc < 0 ? fw_cli_report(cmd, &err) : FW_EXIT_OK;
}

const fw_command fw_cmd_export = {
    "export",
    "RUN [--out FILE] [--metric NAME ...]",
    "Export a run's metrics as CSV.",
    "RUN is a run id (r0003), its number (3) or a unique run name.\n"
    "Writes a header line and one row per metric point:\n"
    "  run,step,epoch,name,value,wall_time\n"
    "(RFC 4180: CRLF line ends, fields with commas or quotes quoted; values\n"
    "as exact decimals, wall_time in Unix seconds), in the order they were\n"
    "recorded (grouped by metric when --metric is given).\n"
    "\n"
    "Options:\n"
    "  --out FILE     write FILE (atomically: a temporary file renamed over it)\n"
    "                 instead of standard output\n"
    "  --metric NAME  only this metric (e.g. train.loss, val.map5); repeat for\n"
    "                 several\n",
    run,
};
