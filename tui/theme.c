/* theme.c — theme files: parsing, fallbacks, finding by name, and resolving
 * colours for a terminal's colour depth (see theme.h and
 * man/flukewatch-theme.5). */
#include "theme.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "edit_distance.h"
#include "fileio.h"
#include "kv_text.h"
#include "sanitize.h"
#include "thumbs.h"

#define THEME_FILE_MAX (64 * 1024) /* bytes of a theme file */
#define NO_PARENT (-1)

/* ---- roles ------------------------------------------------------------------- */

static const char *const ROLE_NAMES[FW_ROLE_COUNT] = {
    [FW_ROLE_BACKGROUND] = "background",
    [FW_ROLE_TEXT] = "text",
    [FW_ROLE_DIM] = "dim",
    [FW_ROLE_ACCENT] = "accent",
    [FW_ROLE_BORDER] = "border",
    [FW_ROLE_TITLE] = "title",
    [FW_ROLE_SELECTION] = "selection",
    [FW_ROLE_HINT] = "hint",
    [FW_ROLE_STATUS_QUEUED] = "status.queued",
    [FW_ROLE_STATUS_RUNNING] = "status.running",
    [FW_ROLE_STATUS_PAUSED] = "status.paused",
    [FW_ROLE_STATUS_FINISHED] = "status.finished",
    [FW_ROLE_STATUS_FAILED] = "status.failed",
    [FW_ROLE_STATUS_INTERRUPTED] = "status.interrupted",
    [FW_ROLE_GOOD] = "good",
    [FW_ROLE_BAD] = "bad",
    [FW_ROLE_WARNING] = "warning",
    [FW_ROLE_PLOT1] = "plot.1",
    [FW_ROLE_PLOT2] = "plot.2",
    [FW_ROLE_PLOT3] = "plot.3",
    [FW_ROLE_PLOT4] = "plot.4",
    [FW_ROLE_PLOT5] = "plot.5",
    [FW_ROLE_PLOT6] = "plot.6",
    [FW_ROLE_PLOT7] = "plot.7",
    [FW_ROLE_PLOT8] = "plot.8",
    [FW_ROLE_GRID] = "grid",
    [FW_ROLE_CURSOR] = "cursor",
    [FW_ROLE_SPARKLINE] = "sparkline",
};

/* What a role falls back to when a theme leaves it out (its parent's look),
 * and its attributes on a monochrome terminal. */
typedef struct role_rule {
    int parent; /* a role, or NO_PARENT (then: `default`) */
    unsigned mono;
} role_rule;

enum { B = FW_ATTR_BOLD, U = FW_ATTR_UNDERLINE, R = FW_ATTR_REVERSE, D = FW_ATTR_DIM };

static const role_rule RULES[FW_ROLE_COUNT] = {
    [FW_ROLE_BACKGROUND] = {NO_PARENT, 0},
    [FW_ROLE_TEXT] = {NO_PARENT, 0},
    [FW_ROLE_DIM] = {FW_ROLE_TEXT, D},
    [FW_ROLE_ACCENT] = {FW_ROLE_TEXT, B},
    [FW_ROLE_BORDER] = {FW_ROLE_DIM, 0},
    [FW_ROLE_TITLE] = {FW_ROLE_ACCENT, B},
    [FW_ROLE_SELECTION] = {FW_ROLE_TEXT, R},
    [FW_ROLE_HINT] = {FW_ROLE_DIM, 0},
    [FW_ROLE_STATUS_QUEUED] = {FW_ROLE_DIM, D},
    [FW_ROLE_STATUS_RUNNING] = {FW_ROLE_GOOD, B},
    [FW_ROLE_STATUS_PAUSED] = {FW_ROLE_WARNING, U},
    [FW_ROLE_STATUS_FINISHED] = {FW_ROLE_TEXT, 0},
    [FW_ROLE_STATUS_FAILED] = {FW_ROLE_BAD, B | U},
    [FW_ROLE_STATUS_INTERRUPTED] = {FW_ROLE_WARNING, D | U},
    [FW_ROLE_GOOD] = {FW_ROLE_TEXT, B},
    [FW_ROLE_BAD] = {FW_ROLE_TEXT, B | U},
    [FW_ROLE_WARNING] = {FW_ROLE_TEXT, U},
    [FW_ROLE_PLOT1] = {FW_ROLE_ACCENT, 0},
    [FW_ROLE_PLOT2] = {FW_ROLE_PLOT1, B},
    [FW_ROLE_PLOT3] = {FW_ROLE_PLOT1, D},
    [FW_ROLE_PLOT4] = {FW_ROLE_PLOT1, U},
    [FW_ROLE_PLOT5] = {FW_ROLE_PLOT1, B | U},
    [FW_ROLE_PLOT6] = {FW_ROLE_PLOT1, D | U},
    [FW_ROLE_PLOT7] = {FW_ROLE_PLOT1, B},
    [FW_ROLE_PLOT8] = {FW_ROLE_PLOT1, D},
    [FW_ROLE_GRID] = {FW_ROLE_BORDER, D},
    [FW_ROLE_CURSOR] = {FW_ROLE_SELECTION, R | B},
    [FW_ROLE_SPARKLINE] = {FW_ROLE_ACCENT, 0},
};

const char *const *fw_theme_role_names(int *count)
{
    if (count)
        *count = FW_ROLE_COUNT;
    return ROLE_NAMES;
}

int fw_theme_role_find(const char *name)
{
    for (int r = 0; r < FW_ROLE_COUNT; r++)
        if (strcmp(ROLE_NAMES[r], name) == 0)
            return r;
    return -1;
}

unsigned fw_theme_mono_attrs(fw_theme_role role)
{
    return (unsigned)role < FW_ROLE_COUNT ? RULES[role].mono : 0;
}

/* ---- colours ------------------------------------------------------------------ */

static const char *const COLOR_NAMES[16] = {
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
    "bright-black", "bright-red", "bright-green", "bright-yellow",
    "bright-blue", "bright-magenta", "bright-cyan", "bright-white",
};

/* xterm's default RGB for the sixteen basic colours. */
static const uint32_t BASIC_RGB[16] = {
    0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
    0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff,
};

static const uint8_t CUBE_LEVELS[6] = {0, 95, 135, 175, 215, 255};

/* RGB of an xterm palette index: 0..15 basic, 16..231 the 6x6x6 cube,
 * 232..255 the grey ramp 8, 18, ..., 238. */
static uint32_t palette_rgb(int index)
{
    if (index < 16)
        return BASIC_RGB[index];
    if (index < 232) {
        int i = index - 16;
        return (uint32_t)CUBE_LEVELS[i / 36] << 16 | (uint32_t)CUBE_LEVELS[i / 6 % 6] << 8 |
               CUBE_LEVELS[i % 6];
    }
    uint32_t grey = 8 + 10 * (uint32_t)(index - 232);
    return grey << 16 | grey << 8 | grey;
}

static int rgb_dist2(uint32_t a, uint32_t b)
{
    int dr = (int)(a >> 16 & 255) - (int)(b >> 16 & 255);
    int dg = (int)(a >> 8 & 255) - (int)(b >> 8 & 255);
    int db = (int)(a & 255) - (int)(b & 255);
    return dr * dr + dg * dg + db * db;
}

/* The palette index in [lo, hi) nearest rgb, other than `except` (-1: none). */
static int nearest_index(uint32_t rgb, int lo, int hi, int except)
{
    int best = -1, best_d = 0;
    for (int i = lo; i < hi; i++) {
        if (i == except)
            continue;
        int d = rgb_dist2(rgb, palette_rgb(i));
        if (best < 0 || d < best_d)
            best = i, best_d = d;
    }
    return best;
}

int32_t fw_theme_color_rgb(fw_color c)
{
    switch (c.kind) {
    case FW_COLOR_INDEX:
        return (int32_t)palette_rgb((int)(c.value & 255));
    case FW_COLOR_RGB:
        return (int32_t)(c.value & 0xffffff);
    default:
        return -1;
    }
}

/* The basic colour (index < n: 8 or 16) nearest rgb, other than `except`.
 * A colour with a clear hue (a channel spread of at least 32 and a quarter
 * of its brightest channel) is first pushed to full saturation, keeping
 * its hue and brightness; one without matches only the greys (black,
 * white, bright-black, bright-white). The basic colours are all grey or
 * fully saturated, so by plain squared distance a soft green and a soft
 * red (good and bad) would both land on grey, and a blue-grey on cyan. */
static int nearest_basic(uint32_t rgb, int n, int except)
{
    int c[3] = {(int)(rgb >> 16 & 255), (int)(rgb >> 8 & 255), (int)(rgb & 255)};
    int hi = c[0], lo = c[0];
    for (int k = 1; k < 3; k++) {
        hi = c[k] > hi ? c[k] : hi;
        lo = c[k] < lo ? c[k] : lo;
    }
    int spread = hi - lo, has_hue = spread >= 32 && 4 * spread >= hi;
    uint32_t match = rgb;
    if (has_hue) {
        match = 0;
        for (int k = 0; k < 3; k++)
            match = match << 8 | (uint32_t)(((c[k] - lo) * hi + spread / 2) / spread);
    }
    int best = -1, best_d = 0;
    for (int i = 0; i < n; i++) {
        int grey = i == 0 || i == 7 || i == 8 || i == 15;
        if (i == except || (!has_hue && !grey))
            continue;
        int d = rgb_dist2(match, palette_rgb(i));
        if (best < 0 || d < best_d)
            best = i, best_d = d;
    }
    return best;
}

/* Colour counts as the four depths a theme resolves for. */
static int normalize_depth(int depth)
{
    if (depth >= FW_COLORS_TRUE)
        return FW_COLORS_TRUE;
    if (depth >= 256)
        return FW_COLORS_256;
    if (depth >= 16)
        return FW_COLORS_16;
    if (depth >= 8)
        return FW_COLORS_8;
    return FW_COLORS_NONE;
}

/* c in the space of a normalised depth, avoiding index `except` (-1: none)
 * in the palette depths. */
static int color_at(fw_color c, int depth, int except)
{
    if (c.kind == FW_COLOR_DEFAULT || depth == FW_COLORS_NONE)
        return -1;
    uint32_t rgb = (uint32_t)fw_theme_color_rgb(c);
    switch (depth) {
    case FW_COLORS_TRUE:
        return (int)rgb;
    case FW_COLORS_256:
        if (c.kind == FW_COLOR_INDEX && (int)c.value != except)
            return (int)c.value;
        if (except < 0)
            return fw_cell_color_256((uint8_t)(rgb >> 16), (uint8_t)(rgb >> 8), (uint8_t)rgb);
        return nearest_index(rgb, 16, 256, except);
    case FW_COLORS_16:
        if (c.kind == FW_COLOR_INDEX && c.value < 16 && (int)c.value != except)
            return (int)c.value;
        return nearest_basic(rgb, 16, except);
    default: /* 8 */
        if (c.kind == FW_COLOR_INDEX && c.value < 16 && (int)(c.value & 7) != except)
            return (int)(c.value & 7);
        return nearest_basic(rgb, 8, except);
    }
}

int fw_theme_color_at(fw_color c, int depth)
{
    return color_at(c, normalize_depth(depth), -1);
}

static int is_hex(char c)
{
    return isxdigit((unsigned char)c) != 0;
}

int fw_theme_color_parse(const char *w, fw_color *out)
{
    if (w[0] == '#') {
        if (strlen(w) != 7)
            return FW_EINVAL;
        for (int i = 1; i < 7; i++)
            if (!is_hex(w[i]))
                return FW_EINVAL;
        *out = (fw_color){FW_COLOR_RGB, (uint32_t)strtoul(w + 1, NULL, 16)};
        return FW_OK;
    }
    if ((w[0] == 'c' || w[0] == 'C') && w[1] >= '0' && w[1] <= '9') {
        size_t n = strlen(w + 1);
        if (n > 3 || strspn(w + 1, "0123456789") != n)
            return FW_EINVAL;
        long v = strtol(w + 1, NULL, 10);
        if (v > 255)
            return FW_EINVAL;
        *out = (fw_color){FW_COLOR_INDEX, (uint32_t)v};
        return FW_OK;
    }
    if (strcasecmp(w, "default") == 0) {
        *out = (fw_color){FW_COLOR_DEFAULT, 0};
        return FW_OK;
    }
    for (int i = 0; i < 16; i++)
        if (strcasecmp(w, COLOR_NAMES[i]) == 0) {
            *out = (fw_color){FW_COLOR_INDEX, (uint32_t)i};
            return FW_OK;
        }
    return FW_EINVAL;
}

static int same_color(fw_color a, fw_color b)
{
    return a.kind == b.kind && (a.kind == FW_COLOR_DEFAULT || a.value == b.value);
}

/* ---- parsing ------------------------------------------------------------------ */

static const struct {
    const char *name;
    unsigned bit;
} ATTRS[] = {{"bold", B}, {"underline", U}, {"reverse", R}, {"dim", D}};

static int attr_bit(const char *w)
{
    for (size_t i = 0; i < sizeof ATTRS / sizeof ATTRS[0]; i++)
        if (strcasecmp(w, ATTRS[i].name) == 0)
            return (int)ATTRS[i].bit;
    return 0;
}

#define COLOR_FORMS "#rrggbb, c0..c255, a name (black red green yellow blue magenta cyan " \
                    "white, bright-black .. bright-white) or default"
#define ATTR_FORMS "bold, underline, reverse or dim"

static int unknown_role(const char *role, const char *origin, long line, fw_error *err)
{
    char shown[96];
    fw_sanitize(role, shown, sizeof shown);
    int best = -1, best_d = 3;
    for (int r = 0; r < FW_ROLE_COUNT; r++) {
        int d = fw_edit_distance(role, ROLE_NAMES[r]);
        if (d < best_d)
            best = r, best_d = d;
    }
    if (best >= 0)
        return fw_fail(err, FW_EINVAL, "%s:%ld: unknown role '%s'; did you mean '%s'?", origin,
                       line, shown, ROLE_NAMES[best]);
    return fw_fail(err, FW_EINVAL,
                   "%s:%ld: unknown role '%s' (the roles are listed in flukewatch-theme(5))",
                   origin, line, shown);
}

/* Parse the value of one role (a writable, comment-free, trimmed string). */
static int parse_value(char *value, int role, const char *origin, long line,
                       fw_theme_entry *e, fw_error *err)
{
    const char *rn = ROLE_NAMES[role];
    char shown[96];
    int have_fg = 0, have_bg = 0, have_attr = 0;
    fw_theme_entry out = {.line = (int)line};
    char *save = NULL;
    for (char *w = strtok_r(value, " \t\r\n\v\f", &save); w;
         w = strtok_r(NULL, " \t\r\n\v\f", &save)) {
        fw_color c;
        unsigned bit = (unsigned)attr_bit(w);
        fw_sanitize(w, shown, sizeof shown);
        if (strcasecmp(w, "on") == 0) {
            if (role == FW_ROLE_BACKGROUND)
                return fw_fail(err, FW_EINVAL,
                               "%s:%ld: background: one colour (the screen's), without 'on'",
                               origin, line);
            if (have_bg || have_attr)
                return fw_fail(err, FW_EINVAL,
                               "%s:%ld: %s: 'on' must follow the foreground colour "
                               "(FG on BG [ATTRIBUTES])", origin, line, rn);
            char *bg = strtok_r(NULL, " \t\r\n\v\f", &save);
            if (!bg)
                return fw_fail(err, FW_EINVAL, "%s:%ld: %s: 'on' needs a colour after it",
                               origin, line, rn);
            if (fw_theme_color_parse(bg, &c) < 0) {
                fw_sanitize(bg, shown, sizeof shown);
                return fw_fail(err, FW_EINVAL, "%s:%ld: %s: bad colour '%s' (expected %s)",
                               origin, line, rn, shown, COLOR_FORMS);
            }
            out.bg = c;
            have_bg = 1;
        } else if (bit) {
            out.attrs |= bit;
            have_attr = 1;
        } else if (fw_theme_color_parse(w, &c) == FW_OK) {
            if (have_fg || have_bg)
                return fw_fail(err, FW_EINVAL,
                               "%s:%ld: %s: a second colour '%s' (write FG on BG)", origin,
                               line, rn, shown);
            if (have_attr)
                return fw_fail(err, FW_EINVAL,
                               "%s:%ld: %s: colour '%s' after the attributes (write the "
                               "colours first)", origin, line, rn, shown);
            out.fg = c;
            have_fg = 1;
        } else if (w[0] == '#' || (w[0] == 'c' && isdigit((unsigned char)w[1]))) {
            return fw_fail(err, FW_EINVAL, "%s:%ld: %s: bad colour '%s' (expected %s)", origin,
                           line, rn, shown, COLOR_FORMS);
        } else {
            return fw_fail(err, FW_EINVAL,
                           "%s:%ld: %s: unknown colour or attribute '%s' (colours: %s; "
                           "attributes: %s)", origin, line, rn, shown, COLOR_FORMS, ATTR_FORMS);
        }
    }
    if (!have_fg && !have_bg && !have_attr)
        return fw_fail(err, FW_EINVAL, "%s:%ld: %s: no value (expected a colour, 'FG on BG' "
                       "and/or attributes)", origin, line, rn);
    if (role == FW_ROLE_BACKGROUND) { /* its one colour is the screen's background */
        out.bg = out.fg;
        out.fg = (fw_color){FW_COLOR_DEFAULT, 0};
    }
    *e = out;
    return FW_OK;
}

/* Fill role r (and first its parents) from the fallback rules. */
static void fill_role(fw_theme *t, int r, unsigned char *given)
{
    if (given[r])
        return;
    given[r] = 1;
    int p = RULES[r].parent;
    if (p == NO_PARENT) {
        t->role[r] = (fw_theme_entry){.attrs = RULES[r].mono};
        return;
    }
    fill_role(t, p, given);
    t->role[r] = t->role[p];
    t->role[r].attrs |= RULES[r].mono;
    t->role[r].line = 0;
}

typedef struct theme_parse {
    const char *origin; /* what errors call the text */
    fw_theme t;
    unsigned char given[FW_ROLE_COUNT];
} theme_parse;

/* One line of a theme: `role = value`. */
static int theme_line(void *ctx, const fw_kv_line *l, fw_error *err)
{
    theme_parse *tp = ctx;
    if (!l->value || !l->key[0]) {
        char shown[96];
        fw_sanitize(l->text, shown, sizeof shown);
        return fw_fail(err, FW_EINVAL, "%s: expected 'role = value', got '%s'", l->origin,
                       shown);
    }
    int role = fw_theme_role_find(l->key);
    if (role < 0)
        return unknown_role(l->key, tp->origin, l->lineno, err);
    tp->given[role] = 1;
    return parse_value(l->value, role, tp->origin, l->lineno, &tp->t.role[role], err);
}

int fw_theme_parse(const char *text, const char *origin, const char *name, fw_theme *theme,
                   fw_error *err)
{
    if (!name)
        name = "theme";
    theme_parse tp;
    memset(&tp, 0, sizeof tp);
    tp.origin = origin ? origin : name;
    snprintf(tp.t.name, sizeof tp.t.name, "%s", name);
    FW_TRY(fw_kv_parse(text, tp.origin, FW_KV_HASH_ALONE, theme_line, &tp, err));
    for (int r = 0; r < FW_ROLE_COUNT; r++)
        fill_role(&tp.t, r, tp.given);
    *theme = tp.t;
    return FW_OK;
}

int fw_theme_load(const char *path, fw_theme *theme, fw_error *err)
{
    char *text = NULL;
    FW_TRY(fw_kv_read_file(path, THEME_FILE_MAX, "a theme", &text, err));
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char name[FW_THEME_NAME_MAX];
    snprintf(name, sizeof name, "%s", base);
    size_t n = strlen(name);
    if (n > 6 && strcmp(name + n - 6, ".theme") == 0)
        name[n - 6] = '\0';
    int rc = fw_theme_parse(text, path, name, theme, err);
    free(text);
    return rc;
}

/* The terminal's own colours: readable on dark and light screens alike. */
static const char BUILTIN_THEME[] =
    "background = default\n"
    "text = default\n"
    "dim = dim\n"
    "accent = cyan\n"
    "border = dim\n"
    "title = bold\n"
    "selection = reverse\n"
    "hint = dim\n"
    "status.queued = dim\n"
    "status.running = green bold\n"
    "status.paused = yellow\n"
    "status.finished = default\n"
    "status.failed = red bold\n"
    "status.interrupted = magenta\n"
    "good = green\n"
    "bad = red bold\n"
    "warning = yellow\n"
    "plot.1 = cyan\n"
    "plot.2 = yellow\n"
    "plot.3 = green\n"
    "plot.4 = magenta\n"
    "plot.5 = red\n"
    "plot.6 = blue\n"
    "plot.7 = bright-cyan\n"
    "plot.8 = bright-yellow\n"
    "grid = dim\n"
    "cursor = reverse bold\n"
    "sparkline = cyan\n";

void fw_theme_builtin(fw_theme *theme)
{
    fw_error err;
    if (fw_theme_parse(BUILTIN_THEME, "builtin", "builtin", theme, &err) < 0)
        memset(theme, 0, sizeof *theme); /* unreachable: the text is tested */
}

/* ---- finding -------------------------------------------------------------------- */

static int valid_name(const char *name, size_t len)
{
    if (len == 0 || len >= FW_THEME_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return 0;
    return 1;
}

int fw_theme_name_valid(const char *name)
{
    return valid_name(name, strlen(name));
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int fw_theme_list(const char *const *dirs, int n_dirs, char (*names)[FW_THEME_NAME_MAX], int cap,
                  int *count, fw_error *err)
{
    char(*all)[FW_THEME_NAME_MAX] = NULL;
    int n = 0, all_cap = 0;
    for (int d = 0; d < n_dirs; d++) {
        if (!dirs[d] || !dirs[d][0])
            continue;
        DIR *dir = opendir(dirs[d]);
        if (!dir)
            continue; /* missing or unreadable: nothing there */
        for (struct dirent *de; (de = readdir(dir));) {
            size_t len = strlen(de->d_name);
            if (len <= 6 || strcmp(de->d_name + len - 6, ".theme") != 0 ||
                !valid_name(de->d_name, len - 6))
                continue;
            char path[4096];
            if (snprintf(path, sizeof path, "%s/%s", dirs[d], de->d_name) >= (int)sizeof path ||
                !is_regular_file(path))
                continue;
            if (n == all_cap) {
                int new_cap = all_cap ? 2 * all_cap : 16;
                void *grown = realloc(all, (size_t)new_cap * sizeof *all);
                if (!grown) {
                    closedir(dir);
                    free(all);
                    return fw_fail(err, FW_ENOMEM, "themes: out of memory");
                }
                all = grown;
                all_cap = new_cap;
            }
            memcpy(all[n], de->d_name, len - 6);
            all[n][len - 6] = '\0';
            n++;
        }
        closedir(dir);
    }
    if (n > 0)
        qsort(all, (size_t)n, sizeof *all, compare_names);
    int unique = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(all[i], all[i - 1]) == 0)
            continue;
        if (unique < cap)
            memcpy(names[unique], all[i], FW_THEME_NAME_MAX);
        unique++;
    }
    free(all);
    *count = unique;
    return FW_OK;
}

/* "dark, light, ..." or "none" into buf. */
static void describe_available(const char *const *dirs, int n_dirs, char *buf, size_t cap)
{
    char names[32][FW_THEME_NAME_MAX];
    int count = 0;
    size_t used = 0;
    buf[0] = '\0';
    if (fw_theme_list(dirs, n_dirs, names, 32, &count, NULL) < 0 || count == 0) {
        snprintf(buf, cap, "none");
        return;
    }
    for (int i = 0; i < count && i < 32 && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
}

int fw_theme_find(const char *name, const char *const *dirs, int n_dirs, char *path, size_t cap,
                  fw_error *err)
{
    char shown[96];
    fw_sanitize(name, shown, sizeof shown);
    if (strchr(name, '/')) {
        if (!is_regular_file(name))
            return fw_fail(err, FW_ENOTFOUND, "theme file '%s' not found", shown);
        if (strlen(name) >= cap)
            return fw_fail(err, FW_ETOOBIG, "theme path '%s' is too long", shown);
        memcpy(path, name, strlen(name) + 1);
        return FW_OK;
    }
    if (!valid_name(name, strlen(name)))
        return fw_fail(err, FW_EINVAL,
                       "bad theme name '%s' (letters, digits, '.', '_' and '-'; or a path "
                       "holding '/')", shown);
    char tried[256] = "";
    size_t used = 0;
    for (int d = 0; d < n_dirs; d++) {
        if (!dirs[d] || !dirs[d][0])
            continue;
        int n = snprintf(path, cap, "%s/%s.theme", dirs[d], name);
        if (n < 0 || (size_t)n >= cap)
            return fw_fail(err, FW_ETOOBIG, "theme path in '%s' is too long", dirs[d]);
        if (is_regular_file(path))
            return FW_OK;
        if (used < sizeof tried)
            used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "",
                                     dirs[d]);
    }
    path[0] = '\0';
    char available[200];
    describe_available(dirs, n_dirs, available, sizeof available);
    return fw_fail(err, FW_ENOTFOUND, "theme '%s' not found in %s (themes there: %s)", shown,
                   used ? tried : "no directory", available);
}

/* ---- resolving ------------------------------------------------------------------ */

void fw_theme_resolve(const fw_theme *theme, int depth, fw_theme_resolved *out)
{
    depth = normalize_depth(depth);
    out->depth = (fw_color_depth)depth;
    const fw_color text_fg = theme->role[FW_ROLE_TEXT].fg;
    const fw_color screen_src = theme->role[FW_ROLE_BACKGROUND].bg;
    const int screen_bg = color_at(screen_src, depth, -1);
    const int palette = depth != FW_COLORS_NONE && depth != FW_COLORS_TRUE;
    for (int r = 0; r < FW_ROLE_COUNT; r++) {
        const fw_theme_entry *e = &theme->role[r];
        fw_style *s = &out->role[r];
        if (depth == FW_COLORS_NONE) {
            s->fg = s->bg = -1;
            s->attrs = RULES[r].mono | (e->attrs & (B | U | D));
            continue;
        }
        fw_color fg_src = e->fg.kind == FW_COLOR_DEFAULT ? text_fg : e->fg;
        fw_color bg_src = e->bg.kind == FW_COLOR_DEFAULT ? screen_src : e->bg;
        s->fg = color_at(fg_src, depth, -1);
        s->bg = color_at(bg_src, depth, -1);
        s->attrs = e->attrs;
        if (!palette)
            continue;
        /* keep apart in the palette what the theme keeps apart */
        if (r != FW_ROLE_BACKGROUND && s->bg >= 0 && s->bg == screen_bg &&
            !same_color(bg_src, screen_src))
            s->bg = color_at(bg_src, depth, screen_bg);
        if (s->fg >= 0 && s->fg == s->bg && !same_color(fg_src, bg_src))
            s->fg = color_at(fg_src, depth, s->bg);
    }
}
