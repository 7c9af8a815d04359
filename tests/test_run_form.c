/* test_run_form.c — the new-run form's model driven by key codes as the
 * Runs screen feeds them: typed values reach the built config, refused
 * values are marked while typing and block the start, Esc drops an edit
 * and then closes, prefilled configs round-trip through
 * fw_run_config_format, cursor editing over UTF-8, choice cycling, the
 * Start row, scrolling, and the config diff of the details pane. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_config.h"
#include "run_form.h"
#include "tap.h"

enum { CTRL_E = 5, CTRL_U = 21, CTRL_W = 23 };

static void type(fw_run_form *f, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        CHECK_INT(fw_run_form_key(f, *p), FW_FORM_CHANGED);
}

/* Walk to the row labelled `label` with arrow keys; its index, or -1. */
static int go_to(fw_run_form *f, const char *label)
{
    fw_run_form_key(f, FW_FORM_KEY_HOME);
    for (int i = 0; i < fw_run_form_rows(f); i++) {
        if (strcmp(fw_run_form_label(f, f->sel), label) == 0)
            return f->sel;
        fw_run_form_key(f, FW_FORM_KEY_DOWN);
    }
    CHECK_MSG(0, "no row %s", label);
    return -1;
}

static void set_row(fw_run_form *f, const char *label, const char *value)
{
    if (go_to(f, label) < 0)
        return;
    type(f, value);
    CHECK_INT(fw_run_form_key(f, FW_FORM_KEY_ENTER), FW_FORM_CHANGED);
    CHECK(!f->editing);
}

static void test_defaults(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, NULL, NULL, NULL, &err), 0);
    int n_keys = 0;
    const fw_config_key *keys = fw_run_config_keys(&n_keys);
    CHECK_INT(fw_run_form_rows(&f), n_keys + 2);
    CHECK_STR(fw_run_form_label(&f, 0), "name");
    for (int i = 0; i < n_keys; i++)
        CHECK_STR(fw_run_form_label(&f, i + 1), keys[i].name);
    CHECK(fw_run_form_is_start_row(&f, n_keys + 1));
    CHECK_INT(fw_run_form_invalid_count(&f), 0);
    fw_run_config def;
    fw_run_config_default(&def);
    for (int i = 0; i < n_keys; i++) {
        char want[FW_FORM_VALUE_MAX];
        CHECK_INT(fw_run_config_get(&def, keys[i].name, want, sizeof want, &err), 0);
        CHECK_STR(fw_run_form_text(&f, i + 1), want);
        CHECK(!fw_run_form_row_changed(&f, i + 1));
    }
    CHECK_STR(f.parent, "");
    /* Defaults with no dataset cannot start; the selection shows why. */
    fw_run_config cfg;
    CHECK_INT(fw_run_form_build(&f, &cfg, NULL, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "dataset") != NULL);
    CHECK_STR(fw_run_form_label(&f, f.sel), "dataset");
    fw_run_form_free(&f);
}

static void test_typed_values_reach_config(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, NULL, NULL, "r0007", &err), 0);
    set_row(&f, "name", "my run");
    set_row(&f, "dataset", "/data/whales");
    set_row(&f, "lr", "1e-3");
    set_row(&f, "epochs", "12");
    set_row(&f, "input", "64x32");
    set_row(&f, "head", "arcface+triplet");
    set_row(&f, "seed", "18446744073709551615");
    CHECK_STR(fw_run_form_text(&f, go_to(&f, "lr")), "1e-3");
    CHECK(fw_run_form_row_changed(&f, f.sel));
    CHECK_INT(fw_run_form_invalid_count(&f), 0);
    fw_run_config cfg;
    char name[FW_FORM_NAME_MAX];
    int rc = fw_run_form_build(&f, &cfg, name, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(cfg.lr == 1e-3);
    CHECK_INT(cfg.epochs, 12);
    CHECK_INT(cfg.input_w, 64);
    CHECK_INT(cfg.input_h, 32);
    CHECK_INT(cfg.losses, FW_RUN_LOSS_ARCFACE | FW_RUN_LOSS_TRIPLET);
    CHECK(cfg.seed == UINT64_MAX);
    CHECK_STR(cfg.dataset, "/data/whales");
    CHECK_STR(name, "my run");
    CHECK_STR(f.parent, "r0007");
    /* Everything else is the default. */
    fw_run_config def;
    fw_run_config_default(&def);
    CHECK(cfg.weight_decay == def.weight_decay);
    CHECK_INT(cfg.sampler_p, def.sampler_p);
    fw_run_form_free(&f);
}

static void test_invalid_value_blocks_start(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, "dataset = /d\n", NULL, NULL, &err), 0);
    int row = go_to(&f, "epochs");
    type(&f, "a");
    CHECK(f.editing);
    CHECK(fw_run_form_row_invalid(&f, row)); /* marked while typing */
    type(&f, "bc");
    CHECK_STR(fw_run_form_text(&f, row), "abc");
    const char *msg = fw_run_form_error(&f);
    CHECK(msg && strstr(msg, "epochs") && strstr(msg, "abc"));
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_TAB), FW_FORM_CHANGED); /* commit, move on */
    CHECK(!f.editing);
    CHECK_INT(f.sel, row + 1);
    CHECK(fw_run_form_row_invalid(&f, row)); /* stays refused */
    CHECK(fw_run_form_error(&f) == NULL);    /* the new row is fine */
    CHECK_INT(fw_run_form_invalid_count(&f), 1);
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_SUBMIT), FW_FORM_SUBMIT);
    fw_run_config cfg;
    CHECK_INT(fw_run_form_build(&f, &cfg, NULL, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "epochs") != NULL);
    CHECK_INT(f.sel, row); /* taken to the refused row */
    /* Typing a valid value clears it as soon as it is typed. */
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_ENTER), FW_FORM_CHANGED); /* edit "abc" */
    CHECK(f.editing && f.cursor == 3);
    CHECK_INT(fw_run_form_key(&f, CTRL_U), FW_FORM_CHANGED);
    type(&f, "7");
    CHECK(!fw_run_form_row_invalid(&f, row));
    /* Submit commits the open edit first. */
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_SUBMIT), FW_FORM_SUBMIT);
    CHECK(!f.editing);
    int rc = fw_run_form_build(&f, &cfg, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK_INT(cfg.epochs, 7);

    /* Cross-key checks (fw_run_config_validate) refuse too. */
    set_row(&f, "precision", "bf16"); /* on the cpu device */
    CHECK_INT(fw_run_form_invalid_count(&f), 0);
    CHECK_INT(fw_run_form_build(&f, &cfg, NULL, &err), FW_EINVAL);
    CHECK(strstr(err.msg, "precision") != NULL);
    fw_run_form_free(&f);
}

static void test_escape(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, "epochs = 5\n", NULL, NULL, &err), 0);
    int row = go_to(&f, "epochs");
    type(&f, "9x");
    CHECK(fw_run_form_row_invalid(&f, row));
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_ESC), FW_FORM_CHANGED); /* drops the edit */
    CHECK(!f.editing);
    CHECK_STR(fw_run_form_text(&f, row), "5");
    CHECK(!fw_run_form_row_invalid(&f, row));
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_ESC), FW_FORM_CLOSE); /* then closes */
    /* Keys the form does not use outside an edit are left to others. */
    CHECK_INT(fw_run_form_key(&f, 0x2000), FW_FORM_IGNORED);
    CHECK_INT(fw_run_form_key(&f, 3), FW_FORM_IGNORED); /* Ctrl-C */
    /* ... but inside an edit it takes everything. */
    type(&f, "1");
    CHECK_INT(fw_run_form_key(&f, 0x2000), FW_FORM_CHANGED);
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_ESC), FW_FORM_CHANGED);
    fw_run_form_free(&f);
}

/* A config text prefilled into the form comes out of it unchanged. */
static void test_prefill_round_trip(void)
{
    fw_error err = {0};
    fw_run_config src;
    fw_run_config_default(&src);
    const char *sets[] = {"dataset=/tmp/some dir/with spaces", "input=64x32", "epochs=3",
                          "head=softmax+contrastive", "lr=0.0123", "optimizer=sgd",
                          "schedule=sgdr", "aug.p_flip=0", "seed=123456789012",
                          "tta_flip=no", "channels=3", "label_smoothing=0.1"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CHECK_MSG(fw_run_config_set_arg(&src, sets[i], &err) == 0, "%s", err.msg);
    char *text = NULL;
    CHECK_INT(fw_run_config_format(&src, &text, &err), 0);
    fw_run_form f;
    CHECK_INT(fw_run_form_init(&f, text, "clone", "r0002", &err), 0);
    fw_run_config cfg;
    int rc = fw_run_form_build(&f, &cfg, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    char *again = NULL;
    CHECK_INT(fw_run_config_format(&cfg, &again, &err), 0);
    CHECK_STR(again, text);
    free(again);
    fw_run_form_free(&f);
    free(text);

    /* A partial text: the rest are defaults (as train would read it). */
    const char *partial = "# a comment\ndataset = /d\nepochs = 2\n\nlr = 0.01\n";
    fw_run_config want;
    fw_run_config_default(&want);
    CHECK_INT(fw_run_config_parse(&want, partial, "t", &err), 0);
    CHECK_INT(fw_run_form_init(&f, partial, NULL, NULL, &err), 0);
    CHECK_INT(fw_run_form_build(&f, &cfg, NULL, &err), 0);
    char *a = NULL, *b = NULL;
    CHECK_INT(fw_run_config_format(&want, &a, &err), 0);
    CHECK_INT(fw_run_config_format(&cfg, &b, &err), 0);
    CHECK_STR(b, a);
    free(a);
    free(b);
    CHECK(fw_run_form_row_changed(&f, go_to(&f, "epochs")));
    CHECK(!fw_run_form_row_changed(&f, go_to(&f, "momentum")));
    fw_run_form_free(&f);

    /* A text that does not parse is refused (the screen falls back). */
    CHECK_INT(fw_run_form_init(&f, "epochs = many\n", NULL, NULL, &err), FW_EINVAL);
    CHECK(f.fields == NULL);
}

static void test_cursor_editing(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, "dataset = /d\n", "old", NULL, &err), 0);
    CHECK_INT(f.sel, 0); /* the name row */
    type(&f, "ab\xc3\xa9"); /* "abé": replaces "old" */
    CHECK_STR(fw_run_form_text(&f, 0), "ab\xc3\xa9");
    fw_run_form_key(&f, FW_FORM_KEY_LEFT); /* before é: one character, two bytes */
    CHECK_INT(f.cursor, 2);
    fw_run_form_key(&f, FW_FORM_KEY_BACKSPACE);
    CHECK_STR(fw_run_form_text(&f, 0), "a\xc3\xa9");
    fw_run_form_key(&f, FW_FORM_KEY_RIGHT);
    type(&f, "z");
    CHECK_STR(fw_run_form_text(&f, 0), "a\xc3\xa9z");
    fw_run_form_key(&f, FW_FORM_KEY_HOME);
    fw_run_form_key(&f, FW_FORM_KEY_DELETE);
    CHECK_STR(fw_run_form_text(&f, 0), "\xc3\xa9z");
    fw_run_form_key(&f, FW_FORM_KEY_DELETE); /* é goes whole */
    CHECK_STR(fw_run_form_text(&f, 0), "z");
    fw_run_form_key(&f, CTRL_E);
    type(&f, " two words");
    fw_run_form_key(&f, CTRL_W);
    CHECK_STR(fw_run_form_text(&f, 0), "z two ");
    fw_run_form_key(&f, FW_FORM_KEY_ENTER);
    /* Backspace outside an edit edits the value as it is. */
    fw_run_form_key(&f, FW_FORM_KEY_BACKSPACE);
    CHECK(f.editing);
    fw_run_form_key(&f, FW_FORM_KEY_ENTER);
    CHECK_STR(fw_run_form_text(&f, 0), "z two");
    /* Long input stops at the field's size. */
    fw_run_form_key(&f, FW_FORM_KEY_ENTER);
    for (int i = 0; i < 300; i++)
        fw_run_form_key(&f, 'x');
    fw_run_form_key(&f, FW_FORM_KEY_ENTER);
    CHECK_INT(strlen(fw_run_form_text(&f, 0)), FW_FORM_NAME_MAX - 1);
    char name[FW_FORM_NAME_MAX];
    fw_run_config cfg;
    CHECK_INT(fw_run_form_build(&f, &cfg, name, &err), 0);
    CHECK_INT(strlen(name), FW_FORM_NAME_MAX - 1);
    /* A click elsewhere commits an open edit. */
    fw_run_form_key(&f, FW_FORM_KEY_HOME);
    fw_run_form_key(&f, FW_FORM_KEY_ENTER);
    fw_run_form_key(&f, CTRL_U);
    type(&f, "clicked");
    fw_run_form_select(&f, 5);
    CHECK(!f.editing);
    CHECK_INT(f.sel, 5);
    CHECK_STR(fw_run_form_text(&f, 0), "clicked");
    fw_run_form_free(&f);
}

static void test_choices_and_start_row(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, "dataset = /d\n", NULL, NULL, &err), 0);
    int row = go_to(&f, "optimizer");
    CHECK_STR(fw_run_form_text(&f, row), "adamw");
    fw_run_form_key(&f, FW_FORM_KEY_RIGHT); /* wraps around to the first */
    CHECK_STR(fw_run_form_text(&f, row), "sgd");
    fw_run_form_key(&f, FW_FORM_KEY_LEFT);
    fw_run_form_key(&f, FW_FORM_KEY_LEFT);
    CHECK_STR(fw_run_form_text(&f, row), "sgd");
    row = go_to(&f, "tta_flip");
    fw_run_form_key(&f, FW_FORM_KEY_RIGHT);
    CHECK_STR(fw_run_form_text(&f, row), "0");
    row = go_to(&f, "epochs"); /* not a choice: arrows do nothing */
    fw_run_form_key(&f, FW_FORM_KEY_RIGHT);
    CHECK(!f.editing);
    /* End reaches the Start row; Enter there submits. */
    fw_run_form_key(&f, FW_FORM_KEY_END);
    CHECK(fw_run_form_is_start_row(&f, f.sel));
    CHECK_INT(fw_run_form_key(&f, 'x'), FW_FORM_CHANGED); /* no text on it */
    CHECK(!f.editing);
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_DOWN), FW_FORM_CHANGED); /* stays */
    CHECK(fw_run_form_is_start_row(&f, f.sel));
    CHECK_INT(fw_run_form_key(&f, FW_FORM_KEY_ENTER), FW_FORM_SUBMIT);
    fw_run_config cfg;
    CHECK_INT(fw_run_form_build(&f, &cfg, NULL, &err), 0);
    CHECK_INT(cfg.optimizer, FW_OPTIM_SGD);
    CHECK_INT(cfg.tta_flip, 0);
    fw_run_form_free(&f);
}

static void test_scroll(void)
{
    fw_run_form f;
    fw_error err = {0};
    CHECK_INT(fw_run_form_init(&f, NULL, NULL, NULL, &err), 0);
    int rows = fw_run_form_rows(&f);
    fw_run_form_scroll(&f, 10);
    CHECK_INT(f.top, 0);
    for (int i = 0; i < 50; i++)
        fw_run_form_key(&f, FW_FORM_KEY_DOWN);
    fw_run_form_scroll(&f, 10);
    CHECK_INT(f.top, 41);
    fw_run_form_key(&f, FW_FORM_KEY_PGUP);
    fw_run_form_scroll(&f, 10);
    CHECK_INT(f.sel, 40);
    CHECK_INT(f.top, 40);
    fw_run_form_key(&f, FW_FORM_KEY_END);
    fw_run_form_scroll(&f, 10);
    CHECK_INT(f.top, rows - 10);
    fw_run_form_scroll(&f, rows + 5); /* taller than the form */
    CHECK_INT(f.top, 0);
    fw_run_form_free(&f);
}

static void test_config_diff(void)
{
    fw_error err = {0};
    fw_run_config def, cfg;
    fw_run_config_default(&def);
    fw_run_config_default(&cfg);
    char *text = NULL;
    int n = -1;
    CHECK_INT(fw_run_config_diff(&cfg, &def, &text, &n, &err), 0);
    CHECK_STR(text, "");
    CHECK_INT(n, 0);
    free(text);
    CHECK_INT(fw_run_config_set_arg(&cfg, "epochs=2", &err), 0);
    CHECK_INT(fw_run_config_set_arg(&cfg, "lr=0.01", &err), 0);
    CHECK_INT(fw_run_config_set_arg(&cfg, "dataset=/w", &err), 0);
    CHECK_INT(fw_run_config_set_arg(&cfg, "momentum=0.9", &err), 0); /* the default */
    CHECK_INT(fw_run_config_diff(&cfg, &def, &text, &n, &err), 0);
    /* Table order: dataset, lr, epochs. */
    CHECK_STR(text, "dataset = /w\nlr = 0.01\nepochs = 2\n");
    CHECK_INT(n, 3);
    free(text);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_typed_values_reach_config);
    RUN(test_invalid_value_blocks_start);
    RUN(test_escape);
    RUN(test_prefill_round_trip);
    RUN(test_cursor_editing);
    RUN(test_choices_and_start_row);
    RUN(test_scroll);
    RUN(test_config_diff);
    return tap_done();
}
