/* cli.h — the subcommand table and small argument-parsing helpers shared by
 * the src/cmd_*.c files. Commands may print (they are the CLI layer); the
 * library code they call does not. Exit codes: 0 ok, 1 failure, 2 usage. */
#ifndef FW_CLI_H
#define FW_CLI_H

#include <stdio.h>

#include "fw_error.h"

enum { FW_EXIT_OK = 0, FW_EXIT_FAIL = 1, FW_EXIT_USAGE = 2 };

typedef struct fw_command {
    const char *name;     /* "synth", "data inspect" (one or two words) */
    const char *synopsis; /* arguments, e.g. "--out DIR [--whales N]" */
    const char *summary;  /* one line for `flukewatch --help` */
    const char *help;     /* the full `flukewatch CMD --help` text after the usage line */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} fw_command;

extern const fw_command fw_cmd_synth;
extern const fw_command fw_cmd_data_inspect;
extern const fw_command fw_cmd_data_check;
extern const fw_command fw_cmd_devices;
extern const fw_command fw_cmd_score;
extern const fw_command fw_cmd_train;
extern const fw_command fw_cmd_lr_find;
extern const fw_command fw_cmd_resume;
extern const fw_command fw_cmd_eval;
extern const fw_command fw_cmd_predict;
extern const fw_command fw_cmd_runs;
extern const fw_command fw_cmd_show;
extern const fw_command fw_cmd_compare;
extern const fw_command fw_cmd_export;
extern const fw_command fw_cmd_pause;
extern const fw_command fw_cmd_stop;
extern const fw_command fw_cmd_matches;
extern const fw_command fw_cmd_workbench;

/* Print "usage: flukewatch NAME SYNOPSIS" and the help text. */
void fw_cli_print_help(const fw_command *cmd, FILE *out);

/* Print "flukewatch NAME: message" (sanitised) to stderr and return FW_EXIT_USAGE. */
int fw_cli_usage_error(const fw_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print an fw_error (sanitised) as "flukewatch NAME: error: msg" to stderr; returns FW_EXIT_FAIL. */
int fw_cli_report(const fw_command *cmd, const fw_error *err);

/* Strict number parsing: whole string, within [lo, hi]. Return 0 or FW_EINVAL. */
int fw_parse_long(const char *s, long lo, long hi, long *out);
int fw_parse_u64(const char *s, unsigned long long *out);
int fw_parse_float(const char *s, double lo, double hi, double *out);
/* "WxH", e.g. "512x256" (each 8..16384). */
int fw_parse_size(const char *s, int *w, int *h);

/* "--name VALUE" or "--name=VALUE" at argv[*i]: returns the value (advancing
 * *i past a separate value) or NULL when argv[*i] is not this option;
 * *missing is set when the value is absent. */
const char *fw_cli_option_value(int argc, char **argv, int *i, const char *name, int *missing);

/* 1 if argv (from index 1) holds -h or --help. */
int fw_cli_wants_help(int argc, char **argv);

#endif
