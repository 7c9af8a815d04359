/* main.c — flukewatch's entry point: global options and subcommand dispatch.
 *
 * With no command, on a terminal, it opens the workbench (cmd_workbench.c);
 * each subcommand lives in src/cmd_*.c.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sanitize.h"

static const fw_command *const commands[] = {
    &fw_cmd_synth,
    &fw_cmd_data_inspect,
    &fw_cmd_data_check,
    &fw_cmd_devices,
    &fw_cmd_score,
    &fw_cmd_train,
    &fw_cmd_lr_find,
    &fw_cmd_resume,
    &fw_cmd_eval,
    &fw_cmd_predict,
    &fw_cmd_runs,
    &fw_cmd_show,
    &fw_cmd_compare,
    &fw_cmd_export,
    &fw_cmd_pause,
    &fw_cmd_stop,
    &fw_cmd_matches,
    &fw_cmd_workbench,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_main_help(FILE *out)
{
    fprintf(out,
            "usage: flukewatch [--help | --version]\n"
            "       flukewatch [--workspace DIR]            (the workbench)\n"
            "       flukewatch [--workspace DIR] COMMAND [OPTIONS]\n\n"
            "flukewatch — a terminal workbench for whale-fluke re-identification.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out,
            "\nThe run store lives in the workspace: --workspace DIR, else $FLUKEWATCH_HOME,\n"
            "else ./flukewatch-runs.\n"
            "'flukewatch COMMAND --help' describes one command; man flukewatch has them all.\n");
}

/* Match argv[1] (and argv[2] for two-word commands such as "data inspect").
 * Returns the command and sets *words to the number of argv words it used. */
static const fw_command *find_command(int argc, char **argv, int *words)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i]->name;
        const char *space = strchr(name, ' ');
        if (!space) {
            if (!strcmp(argv[1], name)) {
                *words = 1;
                return commands[i];
            }
        } else if (argc > 2 && strlen(argv[1]) == (size_t)(space - name) &&
                   !strncmp(argv[1], name, (size_t)(space - name)) && !strcmp(argv[2], space + 1)) {
            *words = 2;
            return commands[i];
        }
    }
    return NULL;
}

/* A group word alone ("flukewatch data") lists its commands. */
static int print_group_help(const char *group)
{
    int found = 0;
    size_t len = strlen(group);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const char *name = commands[i]->name;
        if (!strncmp(name, group, len) && name[len] == ' ') {
            if (!found)
                printf("usage: flukewatch %s SUBCOMMAND ...\n\n", group);
            printf("  %-14s %s\n", name, commands[i]->summary);
            found = 1;
        }
    }
    return found;
}

/* Global options before the command: --workspace DIR (or --workspace=DIR)
 * is passed to every command as FLUKEWATCH_HOME. Returns the number of argv
 * words used, or -1 after printing a usage error. */
static int take_global_options(int argc, char **argv)
{
    int used = 0;
    while (1 + used < argc) {
        const char *a = argv[1 + used];
        const char *dir = NULL;
        if (!strcmp(a, "--workspace")) {
            if (2 + used >= argc) {
                fprintf(stderr, "flukewatch: --workspace needs a directory\n");
                return -1;
            }
            dir = argv[2 + used];
            used += 2;
        } else if (!strncmp(a, "--workspace=", 12)) {
            dir = a + 12;
            used += 1;
        } else {
            break;
        }
        if (!*dir) {
            fprintf(stderr, "flukewatch: --workspace needs a non-empty directory\n");
            return -1;
        }
        setenv("FLUKEWATCH_HOME", dir, 1);
    }
    return used;
}

int main(int argc, char **argv)
{
    int global = take_global_options(argc, argv);
    if (global < 0)
        return FW_EXIT_USAGE;
    if (global > 0) {
        argv[global] = argv[0];
        argv += global;
        argc -= global;
    }
    if (argc < 2) {
        if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
            char *wb_argv[] = {(char *)fw_cmd_workbench.name, NULL};
            return fw_cmd_workbench.run(1, wb_argv);
        }
        print_main_help(stderr);
        fprintf(stderr, "\n(Without a command flukewatch opens the workbench, which needs a "
                        "terminal.)\n");
        return FW_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_main_help(stdout);
        return FW_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("flukewatch %s\n", PACKAGE_VERSION);
        return FW_EXIT_OK;
    }
    int words = 0;
    const fw_command *cmd = find_command(argc, argv, &words);
    if (!cmd) {
        if (print_group_help(argv[1]))
            return (argc > 2 && strcmp(argv[2], "--help")) ? FW_EXIT_USAGE : FW_EXIT_OK;
        char clean[128];
        fprintf(stderr, "flukewatch: unknown command '%s'. Try 'flukewatch --help'.\n",
                fw_sanitize(argv[1], clean, sizeof clean));
        return FW_EXIT_USAGE;
    }
    int sub_argc = argc - words;
    char **sub_argv = argv + words;
    sub_argv[0] = (char *)cmd->name;
    if (fw_cli_wants_help(sub_argc, sub_argv)) {
        fw_cli_print_help(cmd, stdout);
        return FW_EXIT_OK;
    }
    return cmd->run(sub_argc, sub_argv);
}
