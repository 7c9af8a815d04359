/* run_form.h — the new-run form of the Runs screen, as a model without any
 * terminal: its rows (the run's name, every key of fw_run_config_keys in
 * table order, then a "[ Start ]" row), in-place editing of one value with a
 * cursor, validation as the user types, and building the fw_run_config to
 * start. The screen (screen_runs.c) translates ncurses keys into the
 * FW_FORM_KEY_* codes below, feeds them to fw_run_form_key and draws the
 * rows; tests drive it the same way.
 *
 * Editing: on a value row, typing a character starts an edit that replaces
 * the value; Enter or Backspace edits the value as it is. While editing,
 * Left/Right/Home/End move the cursor, Backspace/Delete/Ctrl-U/Ctrl-K/Ctrl-W
 * delete, Enter commits, Tab/Shift-Tab/Up/Down/PgUp/PgDn commit and move, Esc
 * drops the edit. Outside an edit Esc closes the form, Left/Right step
 * through the choices of an enumeration or boolean, and Submit (F2/Ctrl-S,
 * or Enter on "[ Start ]") asks to start the run. A value is checked with
 * fw_run_config_set on every keystroke; a row whose committed value is
 * refused stays refused (shown red) and the form cannot be submitted.
 */
#ifndef FW_RUN_FORM_H
#define FW_RUN_FORM_H

#include <stddef.h>

#include "fw_error.h"
#include "run_config.h"
#include "store.h"

/* Keys the form understands besides printable bytes (0x20..0xff except
 * 0x7f; UTF-8 arrives one byte at a time) and the control characters
 * Ctrl-A (1), Ctrl-E (5), Ctrl-K (11), Ctrl-U (21), Ctrl-W (23). */
enum {
    FW_FORM_KEY_UP = 0x1000,
    FW_FORM_KEY_DOWN,
    FW_FORM_KEY_LEFT,
    FW_FORM_KEY_RIGHT,
    FW_FORM_KEY_HOME,
    FW_FORM_KEY_END,
    FW_FORM_KEY_PGUP,
    FW_FORM_KEY_PGDN,
    FW_FORM_KEY_BACKSPACE,
    FW_FORM_KEY_DELETE,
    FW_FORM_KEY_ENTER,
    FW_FORM_KEY_TAB,
    FW_FORM_KEY_BTAB,
    FW_FORM_KEY_ESC,
    FW_FORM_KEY_SUBMIT, /* F2 or Ctrl-S */
};

typedef enum fw_form_result {
    FW_FORM_IGNORED = 0, /* not a key the form uses */
    FW_FORM_CHANGED,     /* used (redraw) */
    FW_FORM_SUBMIT,      /* start the run: fw_run_form_build, then start it */
    FW_FORM_CLOSE,       /* Esc outside an edit: close the form */
} fw_form_result;

#define FW_FORM_NAME_MAX 128
#define FW_FORM_VALUE_MAX FW_RUN_PATH_MAX
#define FW_FORM_ERROR_MAX 512 /* sizeof fw_error.msg */

typedef struct fw_form_field {
    const fw_config_key *key;          /* NULL for the name row */
    char value[FW_FORM_VALUE_MAX];     /* the committed text */
    char default_value[FW_FORM_VALUE_MAX]; /* the default's text ("" for name) */
    int invalid;                       /* value refused by fw_run_config_set */
    char error[FW_FORM_ERROR_MAX];     /* why (when invalid) */
} fw_form_field;

typedef struct fw_run_form {
    int n_fields;                      /* 1 (name) + config keys */
    fw_form_field *fields;             /* (n_fields): [0] name, [1 + i] key i */
    int sel;                           /* selected row: 0..n_fields (n_fields: Start) */
    int top;                           /* first row shown (fw_run_form_scroll) */
    int editing;                       /* an edit of row sel is open */
    char buf[FW_FORM_VALUE_MAX];       /* the edit's text */
    size_t len, cursor;                /* its bytes, the cursor's byte offset */
    int buf_invalid;
    char buf_error[FW_FORM_ERROR_MAX];
    char parent[FW_RUN_ID_CAP];        /* "" or the run this one is cloned from */
} fw_run_form;

/* A form over `config_text` parsed onto the defaults (NULL or "": the
 * defaults), named `name` (NULL: ""), with parent run `parent` (NULL/"":
 * none). FW_EINVAL when the text does not parse (nothing allocated then). */
int fw_run_form_init(fw_run_form *f, const char *config_text, const char *name,
                     const char *parent, fw_error *err);
void fw_run_form_free(fw_run_form *f);

/* Rows: n_fields value rows then the Start row. */
int fw_run_form_rows(const fw_run_form *f);
int fw_run_form_is_start_row(const fw_run_form *f, int row);
/* A value row's label ("name" or the key). */
const char *fw_run_form_label(const fw_run_form *f, int row);
/* The text a row shows: the edit buffer for the row being edited. */
const char *fw_run_form_text(const fw_run_form *f, int row);
/* 1 when the row's shown text is refused; its message (else NULL). */
int fw_run_form_row_invalid(const fw_run_form *f, int row);
const char *fw_run_form_row_error(const fw_run_form *f, int row);
/* 1 when the row's committed value differs from the default. */
int fw_run_form_row_changed(const fw_run_form *f, int row);
/* The selected row's error while it is refused, else NULL. */
const char *fw_run_form_error(const fw_run_form *f);
/* Rows whose committed value is refused. */
int fw_run_form_invalid_count(const fw_run_form *f);

/* Feed one key (see above). */
fw_form_result fw_run_form_key(fw_run_form *f, int key);
/* Select a row (a mouse click): an open edit is committed first. */
void fw_run_form_select(fw_run_form *f, int row);
/* Keep the selected row inside `visible` rows starting at f->top. */
void fw_run_form_scroll(fw_run_form *f, int visible);

/* The config to start: the defaults with every row's value set over them,
 * then fw_run_config_validate. Refused (FW_EINVAL, the selection moved to
 * the row at fault) while a row is refused, an edit is open or the dataset
 * is empty. name_out gets the name row (may be NULL). */
int fw_run_form_build(fw_run_form *f, fw_run_config *cfg, char name_out[FW_FORM_NAME_MAX],
                      fw_error *err);

/* The "key = value" lines of cfg that differ from base, in table order
 * (*text malloc'd, "" when none; *n_lines may be NULL). */
int fw_run_config_diff(const fw_run_config *cfg, const fw_run_config *base, char **text,
                       int *n_lines, fw_error *err);

#endif
