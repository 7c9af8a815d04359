/* cmd_synth.c — TEMPORARY scaffold, replaced by the module's owner. */
#include "cli.h"
static int run(int argc, char **argv) { (void)argc; (void)argv; return FW_EXIT_FAIL; }
const fw_command fw_cmd_synth = {"synth", "", "(being written)", "", run};
