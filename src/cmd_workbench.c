/* cmd_workbench.c — `flukewatch workbench` (and `flukewatch` with no
 * arguments): open the ncurses workbench (tui/app.h) on the workspace.
 *
 * Process layout: the command forks once before any thread exists. The
 * child runs the workbench (UI and training threads) in the terminal's
 * foreground process group; the parent only waits. When the user quits
 * with runs training and chooses to leave them in the background, the
 * child says so through a pipe and the parent exits, so the shell gets its
 * prompt back while the child goes on training without a terminal. When
 * the child ends, the parent exits with its status.
 */
#include <config.h>

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "store.h"

typedef struct workbench_args {
    const char *graphics, *theme, *dataset, *config, *name;
} workbench_args;

static int parse_args(const fw_command *cmd, int argc, char **argv, workbench_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = fw_cli_option_value(argc, argv, &i, "--graphics", &missing)))
            a->graphics = v;
        else if ((v = fw_cli_option_value(argc, argv, &i, "--theme", &missing)))
            a->theme = v;
        else if ((v = fw_cli_option_value(argc, argv, &i, "--train", &missing)))
            a->dataset = v;
        else if ((v = fw_cli_option_value(argc, argv, &i, "--config", &missing)))
            a->config = v;
        else if ((v = fw_cli_option_value(argc, argv, &i, "--name", &missing)))
            a->name = v;
        else if (missing)
            return fw_cli_usage_error(cmd, "%s needs a value", argv[i]);
        else
            return fw_cli_usage_error(cmd, "unknown argument '%s'", argv[i]);
    }
    if (a->graphics && strcmp(a->graphics, "auto") && strcmp(a->graphics, "sixel") &&
        strcmp(a->graphics, "blocks") && strcmp(a->graphics, "text"))
        return fw_cli_usage_error(cmd, "--graphics: choose auto, sixel, blocks or text (not '%s')",
                                  a->graphics);
    if ((a->config || a->name) && !a->dataset)
        return fw_cli_usage_error(cmd, "--config and --name go with --train DATASET");
    return FW_EXIT_OK;
}

/* The child: the workbench itself. */
static int run_app(const fw_command *cmd, const workbench_args *a, const char *workspace,
                   int detach_fd)
{
    fw_app_opts o = {.workspace = workspace, .graphics = a->graphics, .theme = a->theme,
                     .start_dataset = a->dataset, .start_config = a->config,
                     .start_name = a->name, .detach_fd = detach_fd};
    fw_error err;
    fw_error_clear(&err);
    if (fw_app_run(&o, &err) != FW_OK)
        return fw_cli_report(cmd, &err);
    return FW_EXIT_OK;
}

/* The parent: wait for the child, or for its word that it left the
 * terminal. */
static int wait_for_child(pid_t child, int detach_read)
{
    char byte;
    ssize_t n;
    do
        n = read(detach_read, &byte, 1);
    while (n < 0 && errno == EINTR);
    if (n == 1)
        return FW_EXIT_OK; /* left training in the background */
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return FW_EXIT_FAIL;
}

static int run_workbench(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_workbench;
    workbench_args a;
    int code = parse_args(cmd, argc, argv, &a);
    if (code != FW_EXIT_OK)
        return code;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr,
                "flukewatch workbench: needs a terminal (stdin and stdout are not both one).\n"
                "Use the commands instead: flukewatch train, runs, show ... (flukewatch --help).\n");
        return FW_EXIT_USAGE;
    }
    setlocale(LC_ALL, "");
    char workspace[FW_RUN_PATH_MAX];
    fw_error err;
    if (fw_store_resolve_workspace(NULL, workspace, sizeof workspace, &err) != FW_OK)
        return fw_cli_report(cmd, &err);
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) {
        fprintf(stderr, "flukewatch workbench: pipe: %s\n", strerror(errno));
        return FW_EXIT_FAIL;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "flukewatch workbench: fork: %s\n", strerror(errno));
        return FW_EXIT_FAIL;
    }
    if (child == 0) {
        close(pipe_fd[0]);
        _exit(run_app(cmd, &a, workspace, pipe_fd[1]));
    }
    close(pipe_fd[1]);
    /* The terminal's keys reach the child (raw mode); the parent only
     * waits, and a resize is not its business. */
    signal(SIGWINCH, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    return wait_for_child(child, pipe_fd[0]);
}

const fw_command fw_cmd_workbench = {
    .name = "workbench",
    .synopsis = "[--train DATASET [--config FILE] [--name NAME]] [--graphics MODE] "
                "[--theme NAME]",
    .summary = "open the interactive workbench (also: flukewatch with no arguments)",
    .help =
        "The ncurses workbench on the workspace's run store: runs (start, pause,\n"
        "resume, stop, clone, rename, delete), live plots, the LR finder, system\n"
        "telemetry, nearest-neighbour matches as images, run comparison and logs.\n"
        "Runs started here train on threads of this process; they keep training if\n"
        "the terminal goes away (SIGHUP), and `flukewatch` started again attaches.\n\n"
        "Options:\n"
        "  --train DATASET   start a run of the default recipe on DATASET at once\n"
        "  --config FILE     that run's config file (see flukewatch.conf(5))\n"
        "  --name NAME       that run's name\n"
        "  --graphics MODE   auto | sixel | blocks | text: how images are drawn\n"
        "                    (default: the config file's graphics, else auto: sixel when\n"
        "                    the terminal lists it in its DA1 answer)\n"
        "  --theme NAME      a theme from themes/ or a path (default: the config's)\n\n"
        "Keys: 1-7 or Tab switch screens, ? shows every key, q quits.\n"
        "Settings: ~/.config/flukewatch/config (flukewatch-theme(5)).\n",
    .run = run_workbench,
};
