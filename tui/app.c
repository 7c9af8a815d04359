/* app.c — the workbench's application: the ncurses session, the main loop
 * (keys, refresh ticks, resize), the tab bar, message and hint lines, the
 * help overlay and the prompts, the training threads this process runs, and
 * dropping the UI when the terminal goes away (training goes on headless).
 *
 * Layout and the screen interface: tui/app.h. Drawing helpers: tui/draw.c.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <term.h>

#include "app.h"
#include "run_data.h"
#include "sanitize.h"
#include "term_caps.h"

#define APP_MESSAGE_CAP 512
#define APP_INPUT_CAP 1024
#define APP_MESSAGE_SECONDS 8.0
#define APP_MAX_THEMES 32
#define APP_DA1_TIMEOUT_MS 300
#define APP_HEADLESS_POLL_MS 250

static const fw_screen_ops *const all_screens[] = {
    &fw_screen_runs,    &fw_screen_plots,   &fw_screen_lrfind, &fw_screen_system,
    &fw_screen_matches, &fw_screen_compare, &fw_screen_log,
};
#define N_SCREENS ((int)(sizeof all_screens / sizeof all_screens[0]))

typedef enum modal_kind {
    MODAL_NONE = 0,
    MODAL_CONFIRM, /* y / anything else */
    MODAL_PROMPT,  /* a line of text */
    MODAL_QUIT,    /* runs are training: stop / leave / cancel */
    MODAL_HELP,    /* the help overlay: any key closes it */
} modal_kind;

typedef struct app_trainer {
    char run_id[FW_RUN_ID_CAP];
    fw_trainer *trainer;
} app_trainer;

struct fw_app {
    fw_app_opts opts;
    char workspace[FW_RUN_PATH_MAX];
    fw_store *store;
    fw_user_config ucfg;

    /* terminal */
    int utf8;
    int depth;                 /* FW_COLORS_* the theme is resolved for */
    fw_graphics_mode graphics; /* resolved: sixel, blocks or text */
    fw_theme theme;
    attr_t role_attr[FW_ROLE_COUNT];
    MEVENT mouse;

    /* runs */
    fw_run_info *runs;
    int n_runs;
    char selected[FW_RUN_ID_CAP];
    app_trainer trainers[FW_APP_MAX_TRAINERS];
    int n_trainers;

    /* screens */
    void *screen_self[N_SCREENS];
    int current;
    int tab_x[N_SCREENS + 1]; /* column where each tab starts, and the end */

    /* message line and prompts */
    char message[APP_MESSAGE_CAP];
    fw_theme_role message_role;
    double message_at;
    modal_kind modal;
    char modal_label[APP_MESSAGE_CAP];
    char input[APP_INPUT_CAP];
    size_t input_len;
    fw_app_yes_fn yes_fn;
    fw_app_text_fn text_fn;
    void *modal_ctx;

    /* lifecycle */
    int redraw;       /* something changed: draw before waiting again */
    int quit;         /* leave the main loop */
    int stopping_all; /* quit once every trainer has stopped */
    int headless;     /* the terminal is gone (or was given back) */
    int curses_on;
};

/* Signals seen by the UI thread (this module's only mutable statics). */
static volatile sig_atomic_t got_hangup;
static volatile sig_atomic_t got_terminate;

static void on_hangup(int sig)
{
    (void)sig;
    got_hangup = 1;
}

static void on_terminate(int sig)
{
    (void)sig;
    got_terminate = 1;
}

/* ------------------------------------------------------------ accessors */

fw_store *fw_app_store(fw_app *app) { return app->store; }
const char *fw_app_workspace(const fw_app *app) { return app->workspace; }
const fw_user_config *fw_app_user_config(const fw_app *app) { return &app->ucfg; }
int fw_app_utf8(const fw_app *app) { return app->utf8; }
int fw_app_color_depth(const fw_app *app) { return app->depth; }
fw_graphics_mode fw_app_graphics(const fw_app *app) { return app->graphics; }
const MEVENT *fw_app_mouse(const fw_app *app) { return &app->mouse; }

attr_t fw_app_attr(const fw_app *app, fw_theme_role role)
{
    return (role >= 0 && role < FW_ROLE_COUNT) ? app->role_attr[role] : A_NORMAL;
}

double fw_app_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const fw_run_info *fw_app_runs(const fw_app *app, int *n)
{
    *n = app->n_runs;
    return app->runs;
}

const char *fw_app_selected(const fw_app *app) { return app->selected; }

void fw_app_select(fw_app *app, const char *run_id)
{
    if (strcmp(app->selected, run_id ? run_id : "")) {
        snprintf(app->selected, sizeof app->selected, "%s", run_id ? run_id : "");
        app->redraw = 1;
    }
}

const fw_run_info *fw_app_selected_info(const fw_app *app)
{
    for (int i = 0; i < app->n_runs; i++)
        if (!strcmp(app->runs[i].id, app->selected))
            return &app->runs[i];
    return NULL;
}

int fw_app_active_count(const fw_app *app) { return app->n_trainers; }

/* ------------------------------------------------------------ messages */

static void set_message_v(fw_app *app, fw_theme_role role, const char *fmt, va_list ap)
{
    char raw[APP_MESSAGE_CAP];
    vsnprintf(raw, sizeof raw, fmt, ap);
    fw_sanitize(raw, app->message, sizeof app->message);
    app->message_role = role;
    app->message_at = fw_app_now();
    app->redraw = 1;
}

void fw_app_message(fw_app *app, fw_theme_role role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message_v(app, role, fmt, ap);
    va_end(ap);
}

void fw_app_confirm(fw_app *app, const char *question, fw_app_yes_fn yes, void *ctx)
{
    fw_sanitize(question, app->modal_label, sizeof app->modal_label);
    app->modal = MODAL_CONFIRM;
    app->yes_fn = yes;
    app->modal_ctx = ctx;
    app->redraw = 1;
}

void fw_app_prompt(fw_app *app, const char *label, const char *initial, fw_app_text_fn done,
                   void *ctx)
{
    fw_sanitize(label, app->modal_label, sizeof app->modal_label);
    fw_sanitize(initial ? initial : "", app->input, sizeof app->input);
    app->input_len = strlen(app->input);
    app->modal = MODAL_PROMPT;
    app->text_fn = done;
    app->modal_ctx = ctx;
    app->redraw = 1;
}

/* ------------------------------------------------------------ screens */

static void invalidate_screen(fw_app *app)
{
    const fw_screen_ops *s = all_screens[app->current];
    if (s->invalidate)
        s->invalidate(app->screen_self[app->current], app);
    app->redraw = 1;
}

static void activate_screen(fw_app *app, int index)
{
    if (index < 0 || index >= N_SCREENS)
        return;
    if (index != app->current) {
        invalidate_screen(app);
        app->current = index;
        invalidate_screen(app);
    }
    const fw_screen_ops *s = all_screens[index];
    if (s->tick)
        s->tick(app->screen_self[index], app);
    app->redraw = 1;
}

void fw_app_show_screen(fw_app *app, const fw_screen_ops *screen)
{
    for (int i = 0; i < N_SCREENS; i++)
        if (all_screens[i] == screen)
            activate_screen(app, i);
}

/* ------------------------------------------------------------ training */

static app_trainer *find_trainer(fw_app *app, const char *run_id)
{
    for (int i = 0; i < app->n_trainers; i++)
        if (!strcmp(app->trainers[i].run_id, run_id))
            return &app->trainers[i];
    return NULL;
}

/* Start a trainer thread; the UI thread alone takes the signals. */
static int start_trainer(fw_app *app, const char *run_id, const fw_run_config *cfg, int resume,
                         int lr_find_only, fw_error *err)
{
    if (app->n_trainers >= FW_APP_MAX_TRAINERS)
        return fw_fail(err, FW_ETOOBIG, "this workbench already trains %d runs (the most it can)",
                       app->n_trainers);
    char cache_dir[FW_RUN_PATH_MAX] = "";
    fw_default_cache_dir(cache_dir, sizeof cache_dir);
    fw_trainer_opts o = {.workspace = app->workspace, .run_id = run_id, .cfg = cfg,
                         .resume = resume, .lr_find_only = lr_find_only,
                         .cache_dir = cache_dir, .interrupt = NULL};
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    fw_trainer *t = NULL;
    int rc = fw_trainer_start(&o, &t, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != FW_OK)
        return rc;
    app_trainer *slot = &app->trainers[app->n_trainers++];
    snprintf(slot->run_id, sizeof slot->run_id, "%s", run_id);
    slot->trainer = t;
    app->redraw = 1;
    return FW_OK;
}

int fw_app_start_run(fw_app *app, const fw_run_config *cfg, const char *name,
                     const char *parent, int lr_find_only, char id_out[FW_RUN_ID_CAP],
                     fw_error *err)
{
    FW_TRY(fw_trainer_check_config(cfg, err));
    int rc = fw_trainer_create_run(app->store, cfg, (name && *name) ? name : "run", parent,
                                   lr_find_only, id_out, err);
    if (rc == FW_OK)
        rc = start_trainer(app, id_out, cfg, 0, lr_find_only, err);
    if (rc == FW_OK)
        fw_app_select(app, id_out);
    return rc;
}

int fw_app_resume_run(fw_app *app, const char *run_id, fw_error *err)
{
    fw_run_info r = {0};
    FW_TRY(fw_store_run_get(app->store, run_id, &r, err));
    int rc = FW_OK;
    if (r.status == FW_RUN_PAUSED)
        rc = fw_app_control(app, run_id, FW_CONTROL_RESUME, err);
    else if (r.status != FW_RUN_INTERRUPTED)
        rc = fw_fail(err, FW_EINVAL, "%s is %s: only an interrupted run can be resumed", run_id,
                     fw_run_status_name(r.status));
    else {
        fw_run_config cfg;
        fw_run_config_default(&cfg);
        rc = fw_run_config_parse(&cfg, r.config, run_id, err);
        if (rc == FW_OK)
            rc = start_trainer(app, run_id, &cfg, 1, 0, err);
    }
    fw_run_info_free(&r);
    return rc;
}

int fw_app_control(fw_app *app, const char *run_id, fw_control_action a, fw_error *err)
{
    app_trainer *own = find_trainer(app, run_id);
    if (own) {
        fw_trainer_control(own->trainer, a);
        return FW_OK;
    }
    fw_run_info r = {0};
    FW_TRY(fw_store_run_get(app->store, run_id, &r, err));
    int live = r.status == FW_RUN_RUNNING || r.status == FW_RUN_PAUSED;
    fw_run_status st = r.status;
    fw_run_info_free(&r);
    if (!live)
        return fw_fail(err, FW_EINVAL, "%s is %s: nothing trains it to %s", run_id,
                       fw_run_status_name(st), fw_control_action_name(a));
    return fw_store_control_post(app->store, run_id, a, NULL, err);
}

int fw_app_trainer_state(fw_app *app, const char *run_id, fw_trainer_state *s)
{
    app_trainer *own = find_trainer(app, run_id);
    if (!own)
        return 0;
    fw_trainer_get_state(own->trainer, s);
    return 1;
}

/* Join the trainers whose thread has ended and say how their run went. */
static void reap_trainers(fw_app *app)
{
    for (int i = 0; i < app->n_trainers;) {
        fw_trainer_state st;
        fw_trainer_get_state(app->trainers[i].trainer, &st);
        if (st.phase != FW_PHASE_DONE) {
            i++;
            continue;
        }
        char id[FW_RUN_ID_CAP];
        snprintf(id, sizeof id, "%s", app->trainers[i].run_id);
        int stopped = 0;
        fw_error err;
        fw_error_clear(&err);
        int rc = fw_trainer_join(app->trainers[i].trainer, &stopped, &err);
        app->trainers[i] = app->trainers[--app->n_trainers];
        if (app->headless)
            continue;
        if (rc != FW_OK)
            fw_app_message(app, FW_ROLE_BAD, "%s failed: %s", id, err.msg);
        else if (stopped)
            fw_app_message(app, FW_ROLE_WARNING, "%s stopped; checkpoint saved (r resumes it)", id);
        else if (st.best_map5 >= 0)
            fw_app_message(app, FW_ROLE_GOOD, "%s finished: best mAP@5 %.4f", id, st.best_map5);
        else
            fw_app_message(app, FW_ROLE_GOOD, "%s finished", id);
        app->redraw = 1;
    }
}

static void stop_all_trainers(fw_app *app)
{
    for (int i = 0; i < app->n_trainers; i++)
        fw_trainer_control(app->trainers[i].trainer, FW_CONTROL_STOP);
}

/* ------------------------------------------------------------ headless */

/* Say in each run's events why its UI went away. */
static void record_detach(fw_app *app, const char *why)
{
    for (int i = 0; i < app->n_trainers; i++) {
        fw_metric_writer *w = NULL;
        fw_error err;
        if (fw_metric_writer_open(app->store, app->trainers[i].run_id, NULL, &w, &err) != FW_OK)
            continue;
        char msg[256];
        snprintf(msg, sizeof msg,
                 "workbench: %s; training goes on without a terminal (pid %ld). Run "
                 "flukewatch to attach.",
                 why, (long)getpid());
        fw_metric_writer_event(w, -1, FW_EVENT_WARNING, msg, &err);
        fw_metric_writer_close(w, &err);
    }
}

/* Stop using the terminal for good: fds 0-2 go to /dev/null, so no write
 * can block, fail or stop the process (SIGTTOU) later. */
static void drop_terminal(fw_app *app, const char *why)
{
    if (app->headless)
        return;
    app->headless = 1;
    record_detach(app, why);
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
        if (null_fd > STDERR_FILENO)
            close(null_fd);
    }
}

/* `q`, then "leave them training": give the terminal back to the shell
 * (the launcher in cmd_workbench.c exits when told through detach_fd) and
 * carry on in a session of our own. */
static void leave_in_background(fw_app *app)
{
    int n = app->n_trainers;
    endwin();
    app->curses_on = 0;
    printf("flukewatch: %d run%s training in the background (pid %ld); run flukewatch to "
           "attach.\n",
           n, n == 1 ? "" : "s", (long)getpid());
    fflush(stdout);
    drop_terminal(app, "left training in the background (q)");
    if (app->opts.detach_fd >= 0) {
        ssize_t w = write(app->opts.detach_fd, "D", 1);
        (void)w;
        close(app->opts.detach_fd);
        app->opts.detach_fd = -1;
    }
    setsid();
}

/* After the UI is gone: wait for the trainers (SIGTERM stops them). */
static void run_headless(fw_app *app)
{
    int stop_sent = 0;
    while (app->n_trainers > 0) {
        if (got_terminate && !stop_sent) {
            stop_all_trainers(app);
            stop_sent = 1;
        }
        poll(NULL, 0, APP_HEADLESS_POLL_MS);
        reap_trainers(app);
    }
}

/* ------------------------------------------------------------ themes */

static attr_t attrs_of(unsigned a)
{
    attr_t out = A_NORMAL;
    if (a & FW_ATTR_BOLD)
        out |= A_BOLD;
    if (a & FW_ATTR_UNDERLINE)
        out |= A_UNDERLINE;
    if (a & FW_ATTR_REVERSE)
        out |= A_REVERSE;
    if (a & FW_ATTR_DIM)
        out |= A_DIM;
    return out;
}

/* Colour pairs 1..FW_ROLE_COUNT hold the roles. */
static void apply_theme(fw_app *app)
{
    fw_theme_resolved r;
    fw_theme_resolve(&app->theme, app->depth, &r);
    for (int role = 0; role < FW_ROLE_COUNT; role++) {
        attr_t a = attrs_of(r.role[role].attrs);
        if (app->depth >= 8) {
            init_extended_pair(role + 1, r.role[role].fg, r.role[role].bg);
            a |= COLOR_PAIR(role + 1);
        }
        app->role_attr[role] = a;
    }
    bkgdset(' ' | app->role_attr[FW_ROLE_BACKGROUND]);
    clearok(curscr, TRUE);
    invalidate_screen(app);
}

static int load_theme(fw_app *app, const char *name, fw_error *err)
{
    fw_theme_dirs dirs;
    fw_theme_dirs_default(&dirs);
    char path[FW_USER_PATH_MAX];
    FW_TRY(fw_theme_find(name, dirs.list, dirs.n, path, sizeof path, err));
    return fw_theme_load(path, &app->theme, err);
}

static void next_theme(fw_app *app)
{
    fw_theme_dirs dirs;
    fw_theme_dirs_default(&dirs);
    fw_error err;
    int count = 0;
    char names[APP_MAX_THEMES][FW_THEME_NAME_MAX];
    if (fw_theme_list(dirs.list, dirs.n, names, APP_MAX_THEMES, &count, &err) !=
            FW_OK ||
        count == 0) {
        fw_app_message(app, FW_ROLE_BAD, "no themes found");
        return;
    }
    if (count > APP_MAX_THEMES)
        count = APP_MAX_THEMES;
    int next = 0;
    for (int i = 0; i < count; i++)
        if (!strcmp(names[i], app->theme.name))
            next = (i + 1) % count;
    if (load_theme(app, names[next], &err) != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "%s", err.msg);
        return;
    }
    apply_theme(app);
    fw_app_message(app, FW_ROLE_TEXT, "theme %s (T for the next; set theme = %s in %s)",
                   app->theme.name, app->theme.name, "~/.config/flukewatch/config");
}

/* ------------------------------------------------------------ drawing */

static void draw_tabs(fw_app *app)
{
    fw_draw_clear(app, 0, 0, 1, COLS);
    int x = fw_draw_text(app, 0, 0, COLS, FW_ROLE_TITLE, A_BOLD, " flukewatch ");
    for (int i = 0; i < N_SCREENS; i++) {
        char label[64];
        snprintf(label, sizeof label, " %d %s ", i + 1, all_screens[i]->title);
        app->tab_x[i] = x;
        x += fw_draw_text(app, 0, x, COLS - x,
                          i == app->current ? FW_ROLE_SELECTION : FW_ROLE_DIM,
                          i == app->current ? A_BOLD : 0, label);
    }
    app->tab_x[N_SCREENS] = x;
    if (app->n_trainers > 0) {
        char busy[48];
        snprintf(busy, sizeof busy, "%d training ", app->n_trainers);
        int w = fw_text_columns(busy);
        if (x + w + 1 < COLS)
            fw_draw_text(app, 0, COLS - w, w, FW_ROLE_STATUS_RUNNING, 0, busy);
    }
}

static void draw_message_line(fw_app *app)
{
    int y = LINES - 2;
    fw_draw_clear(app, y, 0, 1, COLS);
    switch (app->modal) {
    case MODAL_CONFIRM: {
        int x = fw_draw_text(app, y, 0, COLS, FW_ROLE_WARNING, A_BOLD, app->modal_label);
        fw_draw_text(app, y, x, COLS - x, FW_ROLE_ACCENT, 0, " [y/N]");
        break;
    }
    case MODAL_PROMPT: {
        int x = fw_draw_text(app, y, 0, COLS, FW_ROLE_ACCENT, 0, app->modal_label);
        x += fw_draw_text(app, y, x, COLS - x, FW_ROLE_ACCENT, 0, ": ");
        /* Show the end of a long input. */
        const char *shown = app->input;
        while (fw_text_columns(shown) > COLS - x - 2 && *shown)
            shown++;
        x += fw_draw_text(app, y, x, COLS - x - 1, FW_ROLE_TEXT, 0, shown);
        fw_draw_text(app, y, x, 1, FW_ROLE_SELECTION, 0, " ");
        break;
    }
    case MODAL_QUIT: {
        char q[160];
        snprintf(q, sizeof q,
                 "%d run%s training here: s stop them and quit · b leave them training in the "
                 "background · Esc cancel",
                 app->n_trainers, app->n_trainers == 1 ? "" : "s");
        fw_draw_text(app, y, 0, COLS, FW_ROLE_WARNING, A_BOLD, q);
        break;
    }
    default:
        if (app->message[0])
            fw_draw_text(app, y, 0, COLS, app->message_role, 0, app->message);
        break;
    }
}

/* The items of a hint string: "n new  p pause" holds "n new" and "p pause".
 * Writes at most cap items into item[] (each up to 127 bytes); returns the
 * count. */
static int hint_items(const char *hints, char item[][128], int cap)
{
    int n = 0;
    const char *p = hints;
    while (p && *p && n < cap) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *end = strstr(p, "  ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(item[n++], 128, "%.*s", (int)len, p);
        p = end ? end + 2 : NULL;
    }
    return n;
}

#define APP_MAX_HINTS 48

/* The screen's hints, whole items only, then the global keys at the right. */
static void draw_hint_line(fw_app *app)
{
    int y = LINES - 1;
    fw_draw_clear(app, y, 0, 1, COLS);
    const char *global = "? help  T theme  q quit";
    int gw = fw_text_columns(global);
    char item[APP_MAX_HINTS][128];
    int n = hint_items(all_screens[app->current]->hints, item, APP_MAX_HINTS);
    int x = 0, room = COLS - gw - 3;
    for (int i = 0; i < n; i++) {
        int w = fw_text_columns(item[i]);
        if (x + w > room)
            break;
        fw_draw_text(app, y, x, w, FW_ROLE_HINT, 0, item[i]);
        x += w + 2;
    }
    fw_draw_text(app, y, COLS - gw - 1, gw, FW_ROLE_HINT, A_BOLD, global);
}

/* The help overlay: the global keys, then the screen's, in as many columns
 * as the box needs. */
static void draw_help(fw_app *app, int top, int h, int w)
{
    static const char *const global_keys[] = {
        "1-7 Tab S-Tab  switch screen (or click a tab)",
        "?              this help (any key closes it)",
        "T              next colour theme",
        "Ctrl-L         redraw the screen",
        "q Ctrl-C       quit (asks while runs train here)",
    };
    int n_global = (int)(sizeof global_keys / sizeof global_keys[0]);
    char item[APP_MAX_HINTS][128];
    int n = hint_items(all_screens[app->current]->hints, item, APP_MAX_HINTS);
    int bw = w - 4, bh = h - 1;
    int bx = (w - bw) / 2, by = top;
    fw_draw_clear(app, by, bx, bh, bw);
    fw_draw_rule(app, by, bx, bw, "Help");
    int y = by + 1;
    for (int i = 0; i < n_global && y < by + bh - 1; i++)
        fw_draw_text(app, y++, bx + 2, bw - 4, FW_ROLE_TEXT, 0, global_keys[i]);
    if (y < by + bh - 1)
        fw_draw_textf(app, y++, bx + 2, bw - 4, FW_ROLE_TITLE, A_BOLD, "%s screen",
                      all_screens[app->current]->title);
    int rows = by + bh - 1 - y;
    if (rows < 1)
        rows = 1;
    int cols = (n + rows - 1) / rows;
    if (cols < 1)
        cols = 1;
    int col_w = (bw - 4) / cols;
    for (int i = 0; i < n; i++) {
        int c = i / rows, r = i % rows;
        fw_draw_text(app, y + r, bx + 2 + c * col_w, col_w - 1, FW_ROLE_TEXT, 0, item[i]);
    }
    fw_draw_rule(app, by + bh - 1, bx, bw, NULL);
}

static void draw_all(fw_app *app)
{
    erase();
    if (COLS < FW_APP_MIN_W || LINES < FW_APP_MIN_H) {
        fw_draw_textf(app, 0, 0, COLS, FW_ROLE_WARNING, A_BOLD,
                      "flukewatch needs %dx%d; this window is %dx%d.", FW_APP_MIN_W,
                      FW_APP_MIN_H, COLS, LINES);
        if (LINES > 1)
            fw_draw_text(app, 1, 0, COLS, FW_ROLE_TEXT, 0,
                         "Make it larger (training goes on); q quits.");
        refresh();
        return;
    }
    draw_tabs(app);
    int top = 1, h = LINES - 3;
    const fw_screen_ops *s = all_screens[app->current];
    s->draw(app->screen_self[app->current], app, top, h, COLS);
    if (app->modal == MODAL_HELP)
        draw_help(app, top, h, COLS);
    draw_message_line(app);
    draw_hint_line(app);
    refresh();
    if (app->modal != MODAL_HELP && s->after_refresh)
        s->after_refresh(app->screen_self[app->current], app);
}

void fw_app_tty_write(fw_app *app, int y, int x, const void *bytes, size_t n)
{
    if (app->headless)
        return;
    char move_to[32];
    int m = snprintf(move_to, sizeof move_to, "\033[%d;%dH", y + 1, x + 1);
    const char *parts[2] = {move_to, bytes};
    size_t lens[2] = {(size_t)m, n};
    for (int p = 0; p < 2; p++) {
        size_t done = 0;
        while (done < lens[p]) {
            ssize_t w = write(STDOUT_FILENO, parts[p] + done, lens[p] - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && errno == EAGAIN) {
                poll(&(struct pollfd){.fd = STDOUT_FILENO, .events = POLLOUT}, 1, 100);
                continue;
            }
            if (w <= 0) {
                drop_terminal(app, "the terminal went away (write failed)");
                return;
            }
            done += (size_t)w;
        }
    }
    /* Put the cursor back where ncurses believes it is. */
    int cy, cx;
    getyx(curscr, cy, cx);
    m = snprintf(move_to, sizeof move_to, "\033[%d;%dH", cy + 1, cx + 1);
    if (write(STDOUT_FILENO, move_to, (size_t)m) < 0)
        drop_terminal(app, "the terminal went away (write failed)");
}

/* ------------------------------------------------------------ keys */

static void prompt_key(fw_app *app, int ch)
{
    if (ch == 27) {
        app->modal = MODAL_NONE;
    } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        app->modal = MODAL_NONE;
        char text[APP_INPUT_CAP];
        snprintf(text, sizeof text, "%s", app->input);
        if (app->text_fn)
            app->text_fn(app, app->modal_ctx, text);
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        /* Remove one UTF-8 character. */
        while (app->input_len > 0) {
            unsigned char c = (unsigned char)app->input[--app->input_len];
            if ((c & 0xC0) != 0x80)
                break;
        }
        app->input[app->input_len] = '\0';
    } else if (ch == 21) { /* Ctrl-U */
        app->input_len = 0;
        app->input[0] = '\0';
    } else if (ch >= 0x20 && ch < 0x100 && ch != 127 && app->input_len + 1 < sizeof app->input) {
        app->input[app->input_len++] = (char)ch;
        app->input[app->input_len] = '\0';
    }
    app->redraw = 1;
}

static void quit_key(fw_app *app, int ch)
{
    app->modal = MODAL_NONE;
    if (ch == 's' || ch == 'S') {
        stop_all_trainers(app);
        app->stopping_all = 1;
        fw_app_message(app, FW_ROLE_WARNING, "stopping %d run%s (saving checkpoints) ...",
                       app->n_trainers, app->n_trainers == 1 ? "" : "s");
    } else if (ch == 'b' || ch == 'B') {
        leave_in_background(app);
    } else {
        fw_app_message(app, FW_ROLE_TEXT, "still here");
    }
}

static void ask_quit(fw_app *app)
{
    if (app->n_trainers == 0)
        app->quit = 1;
    else
        app->modal = MODAL_QUIT;
    app->redraw = 1;
}

static void mouse_key(fw_app *app)
{
    if (getmouse(&app->mouse) != OK)
        return;
    if (app->mouse.y == 0 && (app->mouse.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED))) {
        for (int i = 0; i < N_SCREENS; i++)
            if (app->mouse.x >= app->tab_x[i] && app->mouse.x < app->tab_x[i + 1])
                activate_screen(app, i);
        return;
    }
    const fw_screen_ops *s = all_screens[app->current];
    if (s->key && s->key(app->screen_self[app->current], app, KEY_MOUSE))
        app->redraw = 1;
}

static void handle_key(fw_app *app, int ch)
{
    if (ch == KEY_RESIZE) {
        invalidate_screen(app);
        clearok(curscr, TRUE);
        return;
    }
    switch (app->modal) {
    case MODAL_PROMPT:
        prompt_key(app, ch);
        return;
    case MODAL_CONFIRM:
        app->modal = MODAL_NONE;
        app->redraw = 1;
        if ((ch == 'y' || ch == 'Y') && app->yes_fn)
            app->yes_fn(app, app->modal_ctx);
        else
            fw_app_message(app, FW_ROLE_TEXT, "cancelled");
        return;
    case MODAL_QUIT:
        quit_key(app, ch);
        return;
    case MODAL_HELP:
        app->modal = MODAL_NONE;
        invalidate_screen(app);
        return;
    default:
        break;
    }
    if (COLS < FW_APP_MIN_W || LINES < FW_APP_MIN_H) { /* too small: only quit */
        if (ch == 'q' || ch == 3)
            ask_quit(app);
        return;
    }
    if (ch == KEY_MOUSE) {
        mouse_key(app);
        return;
    }
    const fw_screen_ops *s = all_screens[app->current];
    if (s->key && s->key(app->screen_self[app->current], app, ch)) {
        app->redraw = 1;
        return;
    }
    if (ch >= '1' && ch < '1' + N_SCREENS)
        activate_screen(app, ch - '1');
    else if (ch == '\t')
        activate_screen(app, (app->current + 1) % N_SCREENS);
    else if (ch == KEY_BTAB)
        activate_screen(app, (app->current + N_SCREENS - 1) % N_SCREENS);
    else if (ch == '?') {
        app->modal = MODAL_HELP;
        invalidate_screen(app);
    } else if (ch == 'q' || ch == 3)
        ask_quit(app);
    else if (ch == 'T')
        next_theme(app);
    else if (ch == 12) {
        clearok(curscr, TRUE);
        invalidate_screen(app);
    }
}

/* ------------------------------------------------------------ ticks */

/* Read the run list again; redraw when any run changed. */
static void refresh_runs(fw_app *app)
{
    fw_run_info *runs = NULL;
    int n = 0;
    fw_error err;
    if (fw_store_run_list(app->store, &runs, &n, &err) != FW_OK) {
        fw_app_message(app, FW_ROLE_BAD, "run store: %s", err.msg);
        return;
    }
    int changed = n != app->n_runs;
    for (int i = 0; !changed && i < n; i++)
        changed = strcmp(runs[i].id, app->runs[i].id) || runs[i].status != app->runs[i].status ||
                  runs[i].updated_at != app->runs[i].updated_at ||
                  strcmp(runs[i].name, app->runs[i].name);
    fw_run_list_free(app->runs, app->n_runs);
    app->runs = runs;
    app->n_runs = n;
    if (changed)
        app->redraw = 1;
    /* Keep a selection while there are runs: the newest by default. */
    if (n > 0 && !fw_app_selected_info(app))
        fw_app_select(app, runs[n - 1].id);
    else if (n == 0)
        fw_app_select(app, "");
}

static void tick(fw_app *app)
{
    reap_trainers(app);
    refresh_runs(app);
    if (app->message[0] && app->modal == MODAL_NONE &&
        fw_app_now() - app->message_at > APP_MESSAGE_SECONDS) {
        app->message[0] = '\0';
        app->redraw = 1;
    }
    const fw_screen_ops *s = all_screens[app->current];
    if (s->tick && s->tick(app->screen_self[app->current], app))
        app->redraw = 1;
    for (int i = 0; i < N_SCREENS; i++)
        if (i != app->current && all_screens[i]->background)
            all_screens[i]->background(app->screen_self[i], app);
    if (app->stopping_all && app->n_trainers == 0)
        app->quit = 1;
}

/* ------------------------------------------------------------ start-up */

static fw_graphics_mode resolve_graphics(const fw_app *app, const char *option)
{
    fw_graphics_mode mode = app->ucfg.graphics;
    if (option) {
        fw_user_config tmp = app->ucfg;
        fw_error err;
        if (fw_user_config_set(&tmp, "graphics", option, "--graphics", &err) == FW_OK)
            mode = tmp.graphics;
    }
    if (mode == FW_GRAPHICS_AUTO) {
        fw_error err;
        if (fw_term_probe_sixel(APP_DA1_TIMEOUT_MS, &err) == 1)
            return FW_GRAPHICS_SIXEL;
        return app->depth >= 256 && app->utf8 ? FW_GRAPHICS_BLOCKS : FW_GRAPHICS_TEXT;
    }
    return mode;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_hangup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_terminate;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static int start_curses(fw_app *app)
{
    /* ncurses answers bare Esc after ESCDELAY ms. */
    if (!getenv("ESCDELAY"))
        set_escdelay(25);
    if (!newterm(NULL, stdout, stdin))
        return -1;
    /* A terminal that cannot move the cursor (TERM=dumb) cannot show it. */
    const char *cup = tigetstr("cup");
    if (!cup || cup == (char *)-1) {
        endwin();
        return -1;
    }
    app->curses_on = 1;
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON1_RELEASED | BUTTON4_PRESSED |
                  BUTTON5_PRESSED,
              NULL);
    mouseinterval(0);
    int detected = FW_COLORS_NONE;
    if (has_colors()) {
        start_color();
        use_default_colors();
        detected = COLORS >= (1 << 24) ? FW_COLORS_TRUE : COLORS;
    }
    app->depth = fw_user_config_color_depth(&app->ucfg, detected);
    if (app->depth > detected) /* ncurses cannot show more than terminfo says */
        app->depth = detected;
    if (app->depth == FW_COLORS_TRUE && COLORS < (1 << 24))
        app->depth = FW_COLORS_256;
    return 0;
}

static int app_init(fw_app *app, const fw_app_opts *opts, fw_error *err)
{
    app->opts = *opts;
    app->current = 0;
    snprintf(app->workspace, sizeof app->workspace, "%s", opts->workspace);
    fw_user_config_defaults(&app->ucfg);
    FW_TRY(fw_user_config_load_default(&app->ucfg, NULL, NULL, err));
    const char *theme = opts->theme ? opts->theme : app->ucfg.theme;
    if (load_theme(app, theme, err) != FW_OK) {
        if (opts->theme)
            return err->code;
        fw_theme_builtin(&app->theme); /* no theme files: the builtin one */
    }
    FW_TRY(fw_store_open(app->workspace, &app->store, err));
    app->utf8 = fw_locale_is_utf8();
    /* Ask the terminal about sixel before ncurses owns it. */
    app->depth = FW_COLORS_256;
    app->graphics = FW_GRAPHICS_TEXT;
    fw_graphics_mode probe = resolve_graphics(app, opts->graphics);
    if (start_curses(app) != 0)
        return fw_fail(err, FW_EIO,
                       "cannot start the terminal UI: TERM=%s is unknown or cannot move the "
                       "cursor; set TERM to your terminal's type (e.g. xterm-256color)",
                       getenv("TERM") ? getenv("TERM") : "(unset)");
    app->graphics = probe;
    if (probe == FW_GRAPHICS_BLOCKS && (app->depth < 256 || !app->utf8))
        app->graphics = FW_GRAPHICS_TEXT;
    for (int i = 0; i < N_SCREENS; i++)
        app->screen_self[i] = all_screens[i]->create ? all_screens[i]->create(app) : NULL;
    apply_theme(app);
    refresh_runs(app);
    return FW_OK;
}

static void start_requested_run(fw_app *app)
{
    if (!app->opts.start_dataset)
        return;
    fw_run_config cfg;
    fw_run_config_default(&cfg);
    fw_error err;
    fw_error_clear(&err);
    int rc = FW_OK;
    if (app->opts.start_config)
        rc = fw_run_config_load(&cfg, app->opts.start_config, &err);
    if (rc == FW_OK) {
        char *abs = realpath(app->opts.start_dataset, NULL);
        snprintf(cfg.dataset, sizeof cfg.dataset, "%s", abs ? abs : app->opts.start_dataset);
        free(abs);
        char id[FW_RUN_ID_CAP];
        rc = fw_app_start_run(app, &cfg, app->opts.start_name, NULL, 0, id, &err);
        if (rc == FW_OK)
            fw_app_message(app, FW_ROLE_GOOD, "started %s on %s", id, cfg.dataset);
    }
    if (rc != FW_OK)
        fw_app_message(app, FW_ROLE_BAD, "cannot start the run: %s", err.msg);
}

static void app_free(fw_app *app)
{
    for (int i = 0; i < N_SCREENS; i++)
        if (all_screens[i]->destroy && app->screen_self[i])
            all_screens[i]->destroy(app->screen_self[i]);
    if (app->curses_on)
        endwin();
    fw_run_list_free(app->runs, app->n_runs);
    fw_store_close(app->store);
}

/* ------------------------------------------------------------ main loop */

static void read_keys(fw_app *app)
{
    int ch;
    while (!app->headless && (ch = getch()) != ERR)
        handle_key(app, ch);
}

int fw_app_run(const fw_app_opts *opts, fw_error *err)
{
    fw_app *app = calloc(1, sizeof *app);
    if (!app)
        return fw_fail(err, FW_ENOMEM, "out of memory");
    install_signals();
    int rc = app_init(app, opts, err);
    if (rc != FW_OK) {
        app_free(app);
        free(app);
        return rc;
    }
    start_requested_run(app);
    activate_screen(app, 0);
    double refresh_s = app->ucfg.refresh_ms / 1000.0;
    double next_tick = 0;
    while (!app->quit && !app->headless) {
        if (got_hangup) {
            drop_terminal(app, "the terminal hung up (SIGHUP)");
            break;
        }
        if (got_terminate && !app->stopping_all) {
            stop_all_trainers(app);
            app->stopping_all = 1;
            fw_app_message(app, FW_ROLE_WARNING, "SIGTERM: stopping every run, then quitting");
        }
        double now = fw_app_now();
        if (now >= next_tick) {
            tick(app);
            next_tick = now + refresh_s;
        }
        if (app->redraw && !app->headless && !app->quit) {
            app->redraw = 0;
            draw_all(app);
        }
        int wait_ms = (int)((next_tick - fw_app_now()) * 1000.0) + 1;
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&p, 1, wait_ms < 0 ? 0 : wait_ms);
        if (r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p.revents & POLLIN)) {
            drop_terminal(app, "the terminal went away (hang-up on the tty)");
            break;
        }
        if (r > 0 || (r < 0 && errno == EINTR))
            read_keys(app);
    }
    if (app->headless) {
        app->curses_on = 0; /* the terminal is gone: nothing to restore */
        run_headless(app);
    } else {
        /* Quit without runs, or after they stopped. */
        stop_all_trainers(app);
        while (app->n_trainers > 0) {
            poll(NULL, 0, APP_HEADLESS_POLL_MS);
            reap_trainers(app);
        }
    }
    app_free(app);
    free(app);
    return FW_OK;
}
