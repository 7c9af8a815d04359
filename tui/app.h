/* app.h — the workbench: the ncurses application that `flukewatch` opens
 * with no arguments, and the interface its screens are written against.
 *
 * Screen layout (stdscr, LINES x COLS, at least FW_APP_MIN_W x FW_APP_MIN_H):
 *
 *     row 0            tab bar: "flukewatch" then one tab per screen
 *                      ("1 Runs  2 Plots ..."), the active one highlighted
 *     rows 1..LINES-3  the active screen's area (top = 1, h = LINES - 3)
 *     row LINES-2      the message line (fw_app_message) or a prompt
 *     row LINES-1      the hint line: the screen's hints, then "? help  q quit"
 *
 * Threads: everything here runs on the UI thread, except the training
 * threads the app starts (trainer.h), which talk to the UI only through
 * fw_trainer_get_state/fw_trainer_control and the run store.
 *
 * Data: screens read what they show from the run store (fw_app_store), so
 * runs trained by this process and by other processes look the same; for
 * the runs this process trains, fw_app_trainer_state gives the live phase.
 *
 * Losing the terminal (SIGHUP, EIO/HUP on the tty) drops the UI for good:
 * the app records an event on each run it trains, stops drawing and waits
 * for its trainers to end. `q` with runs active asks whether to stop them
 * or leave them training in the background (the app then drops the UI the
 * same way and the shell gets its prompt back: see cmd_workbench.c).
 *
 * Every string from data or other processes goes through fw_sanitize before
 * it is drawn: fw_draw_text does it.
 */
#ifndef FW_APP_H
#define FW_APP_H

#include <curses.h>
#include <stdarg.h>
#include <stdint.h>

#include "fw_error.h"
#include "plot.h"
#include "run_config.h"
#include "store.h"
#include "theme.h"
#include "trainer.h"
#include "user_config.h"

#define FW_APP_MIN_W 80
#define FW_APP_MIN_H 24
#define FW_APP_MAX_TRAINERS 16

typedef struct fw_app fw_app;

/* One screen. Every callback except draw may be NULL. `self` is what
 * create returned (NULL is fine for a screen without state). */
typedef struct fw_screen_ops {
    const char *title; /* tab label, e.g. "Runs" */
    const char *hints; /* the screen's part of the hint line, e.g. "n new  p pause" */
    void *(*create)(fw_app *app);
    void (*destroy)(void *self);
    /* Called every refresh tick while the screen is active (and once when it
     * becomes active): read new data from the store. Return 1 when what the
     * screen shows changed (the app then redraws). */
    int (*tick)(void *self, fw_app *app);
    /* Called every refresh tick while the screen is NOT active: keep what
     * must not have gaps (telemetry histories). Must be cheap; no drawing. */
    void (*background)(void *self, fw_app *app);
    /* Draw rows [top, top + h) x columns [0, w) of stdscr; never touch other
     * rows. Called after tick when something changed, after a key, on resize
     * and on theme changes. */
    void (*draw)(void *self, fw_app *app, int top, int h, int w);
    /* A key (ncurses code: a character, KEY_UP, ..., KEY_MOUSE with
     * fw_app_mouse filled). Return 1 when the screen used it. Screens see
     * every key first, so a screen that is editing text may take digits and
     * 'q'; otherwise they leave 1-7, Tab, ?, q, T and Ctrl-L to the app. */
    int (*key)(void *self, fw_app *app, int ch);
    /* After ncurses has refreshed the terminal: write what ncurses cannot
     * (sixel images) with fw_app_tty_write. */
    void (*after_refresh)(void *self, fw_app *app);
    /* The terminal's contents were lost or covered (resize, leaving the
     * screen, an overlay, Ctrl-L): images must be written again. */
    void (*invalidate)(void *self, fw_app *app);
} fw_screen_ops;

/* The screens, in tab order (defined in their tui/screen_*.c files). */
extern const fw_screen_ops fw_screen_runs;
extern const fw_screen_ops fw_screen_plots;
extern const fw_screen_ops fw_screen_lrfind;
extern const fw_screen_ops fw_screen_system;
extern const fw_screen_ops fw_screen_matches;
extern const fw_screen_ops fw_screen_compare;
extern const fw_screen_ops fw_screen_log;

/* How the app was asked to start (cmd_workbench.c fills it). */
typedef struct fw_app_opts {
    const char *workspace;    /* the run store's workspace (resolved) */
    const char *graphics;     /* "auto"/"sixel"/"blocks"/"text" or NULL: user config */
    const char *theme;        /* theme name or path, or NULL: user config */
    const char *start_dataset;/* when set, start a run on this dataset at once */
    const char *start_config; /* config file for that run, or NULL for the defaults */
    const char *start_name;   /* that run's name, or NULL ("run") */
    int detach_fd;            /* write end of the launcher's pipe, or -1 (cmd_workbench.c) */
} fw_app_opts;

/* Run the workbench until the user quits (or, after losing the terminal,
 * until the runs it trains end). Returns FW_OK or an error (the terminal
 * is restored before returning). */
int fw_app_run(const fw_app_opts *opts, fw_error *err);

/* ---------------------------------------------------------------- state */

fw_store *fw_app_store(fw_app *app);
const char *fw_app_workspace(const fw_app *app);
const fw_user_config *fw_app_user_config(const fw_app *app);

/* The runs in the store (creation order), read again every tick; valid
 * until the next tick. */
const fw_run_info *fw_app_runs(const fw_app *app, int *n);
/* The selected run's id ("" when the store has none). Screens that show
 * one run show this one; the Runs screen changes it. */
const char *fw_app_selected(const fw_app *app);
void fw_app_select(fw_app *app, const char *run_id);
/* The selected run's info, or NULL. */
const fw_run_info *fw_app_selected_info(const fw_app *app);

/* Seconds on a monotonic clock. */
double fw_app_now(void);

/* Switch to screen `index` (tab order) / by its ops. */
void fw_app_show_screen(fw_app *app, const fw_screen_ops *screen);

/* ------------------------------------------------------------ training */

/* Create a run in the store from cfg (validated here; its formatted text
 * is the run's config) named `name` (NULL or "" = "run"), with parent run
 * `parent` (NULL = none: a clone names its source), and train it on a
 * thread of this process; lr_find_only runs only the LR range test. The
 * new id goes to id_out. */
int fw_app_start_run(fw_app *app, const fw_run_config *cfg, const char *name,
                     const char *parent, int lr_find_only, char id_out[FW_RUN_ID_CAP],
                     fw_error *err);
/* Continue an interrupted run on a thread of this process. */
int fw_app_resume_run(fw_app *app, const char *run_id, fw_error *err);
/* Pause / resume / stop a run: directly when this process trains it,
 * otherwise through the store's control requests to its owner. */
int fw_app_control(fw_app *app, const char *run_id, fw_control_action a, fw_error *err);
/* 1 and *s filled when this process trains run_id, else 0. */
int fw_app_trainer_state(fw_app *app, const char *run_id, fw_trainer_state *s);
/* Runs this process is training now. */
int fw_app_active_count(const fw_app *app);

/* ------------------------------------------------------------ messages */

/* Show one line in the message row until the next message (or ~8 s);
 * role is FW_ROLE_TEXT, FW_ROLE_GOOD, FW_ROLE_BAD or FW_ROLE_WARNING. The
 * text is sanitised. */
void fw_app_message(fw_app *app, fw_theme_role role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Ask a yes/no question in the message row; `yes` runs when the user
 * answers y. ctx is passed back (kept by pointer: it must stay valid). */
typedef void (*fw_app_yes_fn)(fw_app *app, void *ctx);
void fw_app_confirm(fw_app *app, const char *question, fw_app_yes_fn yes, void *ctx);

/* Ask for one line of text in the message row, prefilled with `initial`;
 * `done` runs with the text when the user presses Enter (not on Esc). */
typedef void (*fw_app_text_fn)(fw_app *app, void *ctx, const char *text);
void fw_app_prompt(fw_app *app, const char *label, const char *initial, fw_app_text_fn done,
                   void *ctx);

/* ------------------------------------------------------------ drawing */

/* The ncurses attributes (colour pair and A_* bits) of a theme role. */
attr_t fw_app_attr(const fw_app *app, fw_theme_role role);
/* 1 when the terminal takes UTF-8 (Braille plots, box lines, ▀ blocks). */
int fw_app_utf8(const fw_app *app);
/* The colour depth the theme was resolved for (FW_COLORS_*). */
int fw_app_color_depth(const fw_app *app);
/* How images are drawn: FW_GRAPHICS_SIXEL, FW_GRAPHICS_BLOCKS or
 * FW_GRAPHICS_TEXT (never AUTO: resolved at start-up). */
fw_graphics_mode fw_app_graphics(const fw_app *app);
/* The last mouse event (valid while a KEY_MOUSE is handled). */
const MEVENT *fw_app_mouse(const fw_app *app);

/* Draw untrusted text at (y, x), sanitised, clipped to max_cols display
 * columns, in a role's attributes (extra A_* bits may be or-ed in).
 * Returns the columns used. */
int fw_draw_text(fw_app *app, int y, int x, int max_cols, fw_theme_role role, attr_t extra,
                 const char *text);
int fw_draw_textf(fw_app *app, int y, int x, int max_cols, fw_theme_role role, attr_t extra,
                  const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Blank rows [top, top + h) x [x, x + w) in the background role. */
void fw_draw_clear(fw_app *app, int top, int x, int h, int w);
/* A horizontal rule with an optional title ("── Title ─────"). */
void fw_draw_rule(fw_app *app, int y, int x, int w, const char *title);
/* Draw a rendered plot grid with its top-left at (y, x); series colour c
 * is drawn in role FW_ROLE_PLOT1 + (c % 8). */
void fw_draw_plot(fw_app *app, const fw_plot_grid *grid, int y, int x);

/* Write raw bytes to the terminal (sixel images), after moving the cursor
 * to (y, x). A write error (EIO: the terminal is gone) drops the UI. */
void fw_app_tty_write(fw_app *app, int y, int x, const void *bytes, size_t n);

/* Text width in terminal columns of a UTF-8 string (wcwidth per character,
 * 1 for ones it does not know). */
int fw_text_columns(const char *s);

#endif
