/* cmd_score.c — `flukewatch score FILE --truth FILE`: the mAP@5 of a Kaggle
 * submission against the true ids, printed as "mAP@5 <value>". */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "eval.h"

static int run(int argc, char **argv)
{
    const fw_command *cmd = &fw_cmd_score;
    const char *submission = NULL, *truth = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--truth")) {
            if (i + 1 >= argc)
                return fw_cli_usage_error(cmd, "--truth needs a value");
            if (truth)
                return fw_cli_usage_error(cmd, "--truth given twice");
            truth = argv[++i];
        } else if (!strncmp(argv[i], "--truth=", 8)) {
            if (truth)
                return fw_cli_usage_error(cmd, "--truth given twice");
            truth = argv[i] + 8;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return fw_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        } else if (submission) {
            return fw_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        } else {
            submission = argv[i];
        }
    }
    if (!submission)
        return fw_cli_usage_error(cmd, "the submission FILE is required");
    if (!truth || !*truth)
        return fw_cli_usage_error(cmd, "--truth FILE is required");

    fw_error err;
    fw_error_clear(&err);
    fw_submission sub, gold;
    if (fw_submission_read(submission, FW_MAP_K, &sub, &err) < 0)
        return fw_cli_report(cmd, &err);
    if (fw_submission_read(truth, 1, &gold, &err) < 0) {
        fw_submission_free(&sub);
        return fw_cli_report(cmd, &err);
    }
    double map5 = 0.0;
    int rc = fw_submission_score(&sub, submission, &gold, truth, &map5, &err);
    fw_submission_free(&sub);
    fw_submission_free(&gold);
    if (rc < 0)
        return fw_cli_report(cmd, &err);
    printf("mAP@5 %.6f\n", map5);
    return FW_EXIT_OK;
}

const fw_command fw_cmd_score = {
    "score",
    "FILE --truth FILE",
    "Print the mAP@5 of a submission file against the true ids.",
    "Reads a Kaggle submission (header 'Image,Id', up to five space-separated\n"
    "ids per row) and a truth file (header 'Image,Id', one id per row) and\n"
    "prints 'mAP@5 <value>': the mean over the truth images of 1/rank of the\n"
    "first correct id among the predictions, 0 when it is absent.\n"
    "\n"
    "Options:\n"
    "  --truth FILE   the true id of every image (required)\n"
    "\n"
    "Every truth image must have exactly one row, and the submission no other\n"
    "rows. A malformed file is reported as FILE:LINE and exits 1.\n",
    run,
};
