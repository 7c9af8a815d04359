/* run_form.c — the new-run form's model: rows, in-place editing with a
 * cursor, validation on every keystroke and the config it builds (see
 * run_form.h). No terminal code: the Runs screen draws it. */
#include "run_form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORM_ORIGIN "new-run form"

enum { CTRL_A = 1, CTRL_E = 5, CTRL_K = 11, CTRL_U = 21, CTRL_W = 23 };

static int is_value_row(const fw_run_form *f, int row)
{
    return row >= 0 && row < f->n_fields;
}

/* Check a value of one row: the name takes anything; a key must be taken
 * by fw_run_config_set (on the defaults: keys are checked one by one). */
static int check_value(const fw_form_field *fld, const char *value, char *error, size_t cap)
{
    error[0] = '\0';
    if (!fld->key)
        return 0;
    fw_run_config tmp;
    fw_run_config_default(&tmp);
    fw_error err;
    fw_error_clear(&err);
    if (fw_run_config_set(&tmp, fld->key->name, value, FORM_ORIGIN, &err) == 0)
        return 0;
    snprintf(error, cap, "%s", err.msg);
    return 1;
}

int fw_run_form_init(fw_run_form *f, const char *config_text, const char *name,
                     const char *parent, fw_error *err)
{
    memset(f, 0, sizeof *f);
    fw_run_config cfg, def;
    fw_run_config_default(&cfg);
    fw_run_config_default(&def);
    if (config_text && *config_text)
        FW_TRY(fw_run_config_parse(&cfg, config_text, "run config", err));
    int n_keys = 0;
    const fw_config_key *keys = fw_run_config_keys(&n_keys);
    f->n_fields = n_keys + 1;
    f->fields = calloc((size_t)f->n_fields, sizeof *f->fields);
    if (!f->fields)
        return fw_fail(err, FW_ENOMEM, "out of memory for the new-run form");
    if (name && strlen(name) >= FW_FORM_NAME_MAX)
        snprintf(f->fields[0].value, FW_FORM_NAME_MAX, "%.*s", FW_FORM_NAME_MAX - 1, name);
    else
        snprintf(f->fields[0].value, FW_FORM_NAME_MAX, "%s", name ? name : "");
    for (int i = 0; i < n_keys; i++) {
        fw_form_field *fld = &f->fields[i + 1];
        fld->key = &keys[i];
        int rc = fw_run_config_get(&cfg, keys[i].name, fld->value, sizeof fld->value, err);
        if (rc == 0)
            rc = fw_run_config_get(&def, keys[i].name, fld->default_value,
                                   sizeof fld->default_value, err);
        if (rc < 0) {
            fw_run_form_free(f);
            return rc;
        }
        fld->invalid = check_value(fld, fld->value, fld->error, sizeof fld->error);
    }
    snprintf(f->parent, sizeof f->parent, "%s", parent ? parent : "");
    return 0;
}

void fw_run_form_free(fw_run_form *f)
{
    free(f->fields);
    f->fields = NULL;
    f->n_fields = 0;
}

int fw_run_form_rows(const fw_run_form *f)
{
    return f->n_fields + 1;
}

int fw_run_form_is_start_row(const fw_run_form *f, int row)
{
    return row == f->n_fields;
}

const char *fw_run_form_label(const fw_run_form *f, int row)
{
    if (!is_value_row(f, row))
        return "";
    return f->fields[row].key ? f->fields[row].key->name : "name";
}

const char *fw_run_form_text(const fw_run_form *f, int row)
{
    if (!is_value_row(f, row))
        return "";
    if (f->editing && row == f->sel)
        return f->buf;
    return f->fields[row].value;
}

int fw_run_form_row_invalid(const fw_run_form *f, int row)
{
    if (!is_value_row(f, row))
        return 0;
    if (f->editing && row == f->sel)
        return f->buf_invalid;
    return f->fields[row].invalid;
}

const char *fw_run_form_row_error(const fw_run_form *f, int row)
{
    if (!fw_run_form_row_invalid(f, row))
        return NULL;
    return f->editing && row == f->sel ? f->buf_error : f->fields[row].error;
}

int fw_run_form_row_changed(const fw_run_form *f, int row)
{
    if (!is_value_row(f, row) || !f->fields[row].key)
        return 0;
    return strcmp(f->fields[row].value, f->fields[row].default_value) != 0;
}

const char *fw_run_form_error(const fw_run_form *f)
{
    return fw_run_form_row_error(f, f->sel);
}

int fw_run_form_invalid_count(const fw_run_form *f)
{
    int n = 0;
    for (int i = 0; i < f->n_fields; i++)
        n += f->fields[i].invalid != 0;
    return n;
}

/* ------------------------------------------------------------- editing */

static size_t buf_cap(const fw_run_form *f)
{
    return f->sel == 0 ? FW_FORM_NAME_MAX : FW_FORM_VALUE_MAX;
}

static void revalidate(fw_run_form *f)
{
    f->buf_invalid =
        check_value(&f->fields[f->sel], f->buf, f->buf_error, sizeof f->buf_error);
}

static void begin_edit(fw_run_form *f, const char *initial)
{
    snprintf(f->buf, buf_cap(f), "%s", initial);
    f->len = strlen(f->buf);
    f->cursor = f->len;
    f->editing = 1;
    revalidate(f);
}

static void commit_edit(fw_run_form *f)
{
    if (!f->editing)
        return;
    fw_form_field *fld = &f->fields[f->sel];
    snprintf(fld->value, sizeof fld->value, "%s", f->buf);
    fld->invalid = f->buf_invalid;
    snprintf(fld->error, sizeof fld->error, "%s", f->buf_error);
    f->editing = 0;
}

static int is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Byte offsets of the character before / after the cursor (UTF-8). */
static size_t prev_char(const fw_run_form *f, size_t at)
{
    if (at == 0)
        return 0;
    at--;
    while (at > 0 && is_continuation((unsigned char)f->buf[at]))
        at--;
    return at;
}

static size_t next_char(const fw_run_form *f, size_t at)
{
    if (at >= f->len)
        return f->len;
    at++;
    while (at < f->len && is_continuation((unsigned char)f->buf[at]))
        at++;
    return at;
}

/* Remove bytes [from, to) of the buffer; the cursor goes to from. */
static void erase(fw_run_form *f, size_t from, size_t to)
{
    if (to <= from)
        return;
    memmove(f->buf + from, f->buf + to, f->len - to + 1);
    f->len -= to - from;
    f->cursor = from;
}

static void insert_byte(fw_run_form *f, unsigned char c)
{
    if (f->len + 1 >= buf_cap(f))
        return; /* full: the byte is dropped */
    memmove(f->buf + f->cursor + 1, f->buf + f->cursor, f->len - f->cursor + 1);
    f->buf[f->cursor++] = (char)c;
    f->len++;
}

static void move_sel(fw_run_form *f, int delta)
{
    int rows = fw_run_form_rows(f);
    int s = f->sel + delta;
    f->sel = s < 0 ? 0 : s >= rows ? rows - 1 : s;
}

/* Step an enumeration or boolean row to its next/previous choice. */
static int cycle_choice(fw_run_form *f, int dir)
{
    fw_form_field *fld = &f->fields[f->sel];
    if (!fld->key || (fld->key->type != FW_CFG_ENUM && fld->key->type != FW_CFG_BOOL))
        return 0;
    const char *choices = fld->key->type == FW_CFG_BOOL ? "0|1" : fld->key->choices;
    if (!choices)
        return 0;
    /* Split "a|b|c" into names; find the current one. */
    char names[16][64];
    int n = 0;
    for (const char *p = choices; *p && n < 16;) {
        size_t k = strcspn(p, "|");
        snprintf(names[n++], sizeof names[0], "%.*s", (int)k, p);
        p += k;
        if (*p == '|')
            p++;
    }
    if (n == 0)
        return 0;
    int cur = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], fld->value) == 0)
            cur = i;
    int next = cur < 0 ? 0 : (cur + dir + n) % n;
    snprintf(fld->value, sizeof fld->value, "%s", names[next]);
    fld->invalid = check_value(fld, fld->value, fld->error, sizeof fld->error);
    return 1;
}

static int is_text_byte(int key)
{
    return key >= 0x20 && key <= 0xff && key != 0x7f;
}

static fw_form_result edit_key(fw_run_form *f, int key)
{
    switch (key) {
    case FW_FORM_KEY_ENTER:
        commit_edit(f);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_ESC:
        f->editing = 0; /* the committed value stays */
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_TAB:
    case FW_FORM_KEY_DOWN:
        commit_edit(f);
        move_sel(f, 1);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_BTAB:
    case FW_FORM_KEY_UP:
        commit_edit(f);
        move_sel(f, -1);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_PGUP:
    case FW_FORM_KEY_PGDN:
        commit_edit(f);
        move_sel(f, key == FW_FORM_KEY_PGUP ? -10 : 10);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_SUBMIT:
        commit_edit(f);
        return FW_FORM_SUBMIT;
    case FW_FORM_KEY_LEFT:
        f->cursor = prev_char(f, f->cursor);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_RIGHT:
        f->cursor = next_char(f, f->cursor);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_HOME:
    case CTRL_A:
        f->cursor = 0;
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_END:
    case CTRL_E:
        f->cursor = f->len;
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_BACKSPACE:
        erase(f, prev_char(f, f->cursor), f->cursor);
        break;
    case FW_FORM_KEY_DELETE:
        erase(f, f->cursor, next_char(f, f->cursor));
        break;
    case CTRL_U:
        erase(f, 0, f->cursor);
        break;
    case CTRL_K:
        erase(f, f->cursor, f->len);
        break;
    case CTRL_W: {
        size_t at = f->cursor;
        while (at > 0 && f->buf[at - 1] == ' ')
            at--;
        while (at > 0 && f->buf[at - 1] != ' ')
            at--;
        erase(f, at, f->cursor);
        break;
    }
    default:
        if (!is_text_byte(key))
            return FW_FORM_CHANGED; /* the form takes every key while editing */
        insert_byte(f, (unsigned char)key);
        break;
    }
    revalidate(f);
    return FW_FORM_CHANGED;
}

fw_form_result fw_run_form_key(fw_run_form *f, int key)
{
    if (f->editing)
        return edit_key(f, key);
    int on_value = is_value_row(f, f->sel);
    switch (key) {
    case FW_FORM_KEY_ESC:
        return FW_FORM_CLOSE;
    case FW_FORM_KEY_SUBMIT:
        return FW_FORM_SUBMIT;
    case FW_FORM_KEY_UP:
    case FW_FORM_KEY_BTAB:
        move_sel(f, -1);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_DOWN:
    case FW_FORM_KEY_TAB:
        move_sel(f, 1);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_PGUP:
        move_sel(f, -10);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_PGDN:
        move_sel(f, 10);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_HOME:
        f->sel = 0;
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_END:
        f->sel = fw_run_form_rows(f) - 1;
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_LEFT:
    case FW_FORM_KEY_RIGHT:
        if (on_value)
            cycle_choice(f, key == FW_FORM_KEY_RIGHT ? 1 : -1);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_ENTER:
        if (!on_value)
            return FW_FORM_SUBMIT;
        begin_edit(f, f->fields[f->sel].value);
        return FW_FORM_CHANGED;
    case FW_FORM_KEY_BACKSPACE:
        if (on_value) {
            begin_edit(f, f->fields[f->sel].value);
            erase(f, prev_char(f, f->cursor), f->cursor);
            revalidate(f);
        }
        return FW_FORM_CHANGED;
    default:
        if (!is_text_byte(key))
            return FW_FORM_IGNORED;
        if (on_value) {
            begin_edit(f, "");
            insert_byte(f, (unsigned char)key);
            revalidate(f);
        }
        return FW_FORM_CHANGED;
    }
}

void fw_run_form_select(fw_run_form *f, int row)
{
    commit_edit(f);
    if (row >= 0 && row < fw_run_form_rows(f))
        f->sel = row;
}

void fw_run_form_scroll(fw_run_form *f, int visible)
{
    int rows = fw_run_form_rows(f);
    if (visible < 1)
        visible = 1;
    if (f->sel < f->top)
        f->top = f->sel;
    if (f->sel >= f->top + visible)
        f->top = f->sel - visible + 1;
    if (f->top > rows - visible)
        f->top = rows - visible;
    if (f->top < 0)
        f->top = 0;
}

/* ------------------------------------------------------------- result */

static int dataset_row(const fw_run_form *f)
{
    for (int i = 1; i < f->n_fields; i++)
        if (strcmp(f->fields[i].key->name, "dataset") == 0)
            return i;
    return -1;
}

int fw_run_form_build(fw_run_form *f, fw_run_config *cfg, char name_out[FW_FORM_NAME_MAX],
                      fw_error *err)
{
    if (f->editing)
        return fw_fail(err, FW_EINVAL, "%s: finish editing first (Enter or Esc)",
                       fw_run_form_label(f, f->sel));
    int bad = fw_run_form_invalid_count(f);
    for (int i = 0; i < f->n_fields; i++)
        if (f->fields[i].invalid) {
            f->sel = i;
            return fw_fail(err, FW_EINVAL, "%d value%s refused; first: %s", bad,
                           bad == 1 ? "" : "s", f->fields[i].error);
        }
    fw_run_config_default(cfg);
    for (int i = 1; i < f->n_fields; i++) {
        int rc = fw_run_config_set(cfg, f->fields[i].key->name, f->fields[i].value,
                                   FORM_ORIGIN, err);
        if (rc < 0) {
            f->sel = i;
            return rc;
        }
    }
    if (!cfg->dataset[0]) {
        int row = dataset_row(f);
        if (row >= 0)
            f->sel = row;
        return fw_fail(err, FW_EINVAL, "dataset: give the dataset directory (train.csv, train/)");
    }
    FW_TRY(fw_run_config_validate(cfg, err));
    if (name_out)
        snprintf(name_out, FW_FORM_NAME_MAX, "%.*s", FW_FORM_NAME_MAX - 1, f->fields[0].value);
    return 0;
}

int fw_run_config_diff(const fw_run_config *cfg, const fw_run_config *base, char **text,
                       int *n_lines, fw_error *err)
{
    *text = NULL;
    if (n_lines)
        *n_lines = 0;
    int n_keys = 0;
    const fw_config_key *keys = fw_run_config_keys(&n_keys);
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    out[0] = '\0';
    int lines = 0;
    for (int i = 0; i < n_keys; i++) {
        char a[FW_FORM_VALUE_MAX], b[FW_FORM_VALUE_MAX];
        int rc = fw_run_config_get(cfg, keys[i].name, a, sizeof a, err);
        if (rc == 0)
            rc = fw_run_config_get(base, keys[i].name, b, sizeof b, err);
        if (rc < 0) {
            free(out);
            return rc;
        }
        if (strcmp(a, b) == 0)
            continue;
        size_t need = strlen(keys[i].name) + strlen(a) + 5;
        if (len + need >= cap) {
            while (len + need >= cap)
                cap *= 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return fw_fail(err, FW_ENOMEM, "out of memory");
            }
            out = grown;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s = %s\n", keys[i].name, a);
        lines++;
    }
    *text = out;
    if (n_lines)
        *n_lines = lines;
    return 0;
}
