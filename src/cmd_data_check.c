/* cmd_data_check.c — TEMPORARY scaffold, replaced by the module's owner. */
#include "cli.h"
static int run(int argc, char **argv) { (void)argc; (void)argv; return FW_EXIT_FAIL; }
const fw_command fw_cmd_data_check = {"data check", "", "(being written)", "", run};
