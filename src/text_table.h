/* text_table.h — aligned text tables for the run commands (runs, compare).
 *
 * Cells are sanitised (fw_sanitize) when added, so a table never carries
 * control bytes to the terminal. Printed with two spaces between columns;
 * given a width (a terminal's), shrinkable columns are narrowed, widest
 * first, and their cells cut with "…" until the table fits; when that is
 * not enough, droppable columns are left out. Widths count
 * display columns (UTF-8 code points; East Asian wide characters as 2,
 * combining marks as 0).
 */
#ifndef FW_TEXT_TABLE_H
#define FW_TEXT_TABLE_H

#include <stdio.h>

#include "fw_error.h"

#define FW_TABLE_MAX_COLS 16

typedef struct fw_table {
    int n_cols, n_rows, cap_rows;
    char **cells;                        /* (n_rows, n_cols), malloc'd, sanitised */
    unsigned char right[FW_TABLE_MAX_COLS];  /* right-align this column */
    unsigned char shrink[FW_TABLE_MAX_COLS]; /* may be narrowed to fit */
    unsigned char drop[FW_TABLE_MAX_COLS];   /* may be left out when narrowing is not
                                                enough: the highest value goes first */
} fw_table;

int fw_table_init(fw_table *t, int n_cols, fw_error *err);
void fw_table_free(fw_table *t);

/* Append a row of n_cols cells (NULL cells print as "-"). */
int fw_table_add_row(fw_table *t, const char *const *cells, fw_error *err);

/* Print (header = row 0 when any). width 0: natural widths. */
void fw_table_print(const fw_table *t, FILE *out, int width);

/* Display columns of a UTF-8 string. */
int fw_text_width(const char *s);

/* Copy s into out cut to at most cols display columns, "…" marking a cut. */
void fw_text_fit(const char *s, int cols, char *out, size_t cap);

/* The terminal's width when out is a terminal (and CI is unset), else 0. */
int fw_terminal_width(FILE *out);

#endif
