/* user_config.c — the workbench's user settings file and the places its
 * themes come from (see user_config.h and man/flukewatch-theme.5). */
#include "user_config.h"

#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "kv_text.h"
#include "sanitize.h"

#define USER_CONFIG_FILE_MAX (64 * 1024) /* bytes of the settings file */
#define REFRESH_MS_MIN 50
#define REFRESH_MS_MAX 60000

enum { KEY_THEME, KEY_REFRESH_MS, KEY_GRAPHICS, KEY_SMOOTHING, KEY_COLORS, N_KEYS };

static const fw_user_config_key KEYS[N_KEYS] = {
    [KEY_THEME] = {"theme", "a theme name or a path holding '/'", "dark",
                   "the colour theme (see THEME FILES)"},
    [KEY_REFRESH_MS] = {"refresh_ms", "an integer from 50 to 60000", "500",
                        "milliseconds between redraws of live plots and telemetry"},
    [KEY_GRAPHICS] = {"graphics", "auto, sixel, blocks or text", "auto",
                      "how fluke images are shown"},
    [KEY_SMOOTHING] = {"smoothing", "a number from 0 up to (not including) 1", "0.9",
                       "strength of the training loss's debiased EMA smoothing"},
    [KEY_COLORS] = {"colors", "auto, none, 8, 16, 256 or truecolor", "auto",
                    "the terminal's colour depth, when detection gets it wrong"},
};

static const char *const GRAPHICS_NAMES[] = {"auto", "sixel", "blocks", "text"};

static const struct {
    const char *name;
    int depth;
} COLOR_SETTINGS[] = {
    {"auto", -1}, {"none", FW_COLORS_NONE}, {"8", FW_COLORS_8}, {"16", FW_COLORS_16},
    {"256", FW_COLORS_256}, {"truecolor", FW_COLORS_TRUE},
};

const fw_user_config_key *fw_user_config_keys(int *count)
{
    if (count)
        *count = N_KEYS;
    return KEYS;
}

void fw_user_config_defaults(fw_user_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->theme, sizeof cfg->theme, "%s", KEYS[KEY_THEME].default_value);
    cfg->refresh_ms = 500;
    cfg->graphics = FW_GRAPHICS_AUTO;
    cfg->smoothing = 0.9;
    cfg->colors = -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Copy [s, e) trimmed of white space into a fresh string (NULL: no memory). */
static char *trimmed_copy(const char *s, const char *e)
{
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    char *out = malloc((size_t)(e - s) + 1);
    if (out) {
        memcpy(out, s, (size_t)(e - s));
        out[e - s] = '\0';
    }
    return out;
}

static int bad_value(int key, const char *value, const char *origin, fw_error *err)
{
    char shown[96];
    fw_sanitize(value, shown, sizeof shown);
    return fw_fail(err, FW_EINVAL, "%s: %s: expected %s, got '%s'", origin, KEYS[key].name,
                   KEYS[key].accepts, shown);
}

/* strtod / strtol in the "C" locale, the whole string or fail. */
static int parse_number(const char *v, int integer, double *out)
{
    if (!*v)
        return -1;
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    locale_t saved = c ? uselocale(c) : (locale_t)0;
    char *end = NULL;
    double x = integer ? (double)strtol(v, &end, 10) : strtod(v, &end);
    if (c) {
        uselocale(saved);
        freelocale(c);
    }
    if (*end != '\0' || x != x)
        return -1;
    *out = x;
    return 0;
}

static int set_key(fw_user_config *cfg, int key, const char *v, const char *origin,
                   fw_error *err)
{
    double x;
    switch (key) {
    case KEY_THEME: {
        size_t len = strlen(v);
        int printable = len > 0 && len < sizeof cfg->theme;
        for (size_t i = 0; i < len && printable; i++)
            printable = (unsigned char)v[i] >= 0x20 && v[i] != 0x7f;
        if (!printable || (!strchr(v, '/') && !fw_theme_name_valid(v)))
            return bad_value(key, v, origin, err);
        memcpy(cfg->theme, v, len + 1);
        return FW_OK;
    }
    case KEY_REFRESH_MS:
        if (parse_number(v, 1, &x) < 0 || x < REFRESH_MS_MIN || x > REFRESH_MS_MAX)
            return bad_value(key, v, origin, err);
        cfg->refresh_ms = (int)x;
        return FW_OK;
    case KEY_GRAPHICS:
        for (int i = 0; i < (int)(sizeof GRAPHICS_NAMES / sizeof GRAPHICS_NAMES[0]); i++)
            if (strcmp(v, GRAPHICS_NAMES[i]) == 0) {
                cfg->graphics = (fw_graphics_mode)i;
                return FW_OK;
            }
        return bad_value(key, v, origin, err);
    case KEY_SMOOTHING:
        if (parse_number(v, 0, &x) < 0 || !(x >= 0.0 && x < 1.0))
            return bad_value(key, v, origin, err);
        cfg->smoothing = x;
        return FW_OK;
    default: /* KEY_COLORS */
        for (size_t i = 0; i < sizeof COLOR_SETTINGS / sizeof COLOR_SETTINGS[0]; i++)
            if (strcmp(v, COLOR_SETTINGS[i].name) == 0) {
                cfg->colors = COLOR_SETTINGS[i].depth;
                return FW_OK;
            }
        return bad_value(key, v, origin, err);
    }
}

int fw_user_config_set(fw_user_config *cfg, const char *key, const char *value,
                       const char *origin, fw_error *err)
{
    if (!origin)
        origin = "config";
    for (int k = 0; k < N_KEYS; k++)
        if (strcmp(key, KEYS[k].name) == 0) {
            char *v = trimmed_copy(value, value + strlen(value));
            if (!v)
                return fw_fail(err, FW_ENOMEM, "%s: out of memory", origin);
            int rc = set_key(cfg, k, v, origin, err);
            free(v);
            return rc;
        }
    char shown[96], keys[128] = "";
    fw_sanitize(key, shown, sizeof shown);
    for (int k = 0, used = 0; k < N_KEYS && used < (int)sizeof keys; k++)
        used += snprintf(keys + used, sizeof keys - (size_t)used, "%s%s",
                         k == 0 ? "" : k == N_KEYS - 1 ? " and " : ", ", KEYS[k].name);
    return fw_fail(err, FW_EINVAL, "%s: unknown key '%s' (the keys are %s)", origin, shown,
                   keys);
}

/* One line of the settings file. */
static int settings_line(void *ctx, const fw_kv_line *l, fw_error *err)
{
    if (!l->value) {
        char shown[96];
        fw_sanitize(l->text, shown, sizeof shown);
        return fw_fail(err, FW_EINVAL, "%s: expected 'key = value', got '%s'", l->origin, shown);
    }
    if (!l->key[0])
        return fw_fail(err, FW_EINVAL, "%s: a value without a key", l->origin);
    return fw_user_config_set(ctx, l->key, l->value, l->origin, err);
}

int fw_user_config_parse(fw_user_config *cfg, const char *text, const char *name, fw_error *err)
{
    return fw_kv_parse(text, name ? name : "config", FW_KV_HASH_AFTER_SPACE, settings_line, cfg,
                       err);
}

int fw_user_config_load(fw_user_config *cfg, const char *path, int *found, fw_error *err)
{
    fw_user_config_defaults(cfg);
    if (found)
        *found = 0;
    char *text = NULL;
    int rc = fw_kv_read_file(path, USER_CONFIG_FILE_MAX, "the settings file", &text, err);
    if (rc == FW_ENOTFOUND) {
        fw_error_clear(err);
        return FW_OK;
    }
    FW_TRY(rc);
    rc = fw_user_config_parse(cfg, text, path, err);
    free(text);
    if (rc == FW_OK && found)
        *found = 1;
    return rc;
}

int fw_user_config_dir_from(const char *xdg_config_home, const char *home, char *dir, size_t cap,
                            fw_error *err)
{
    int n;
    if (xdg_config_home && xdg_config_home[0] == '/')
        n = snprintf(dir, cap, "%s/flukewatch", xdg_config_home);
    else if (home && home[0])
        n = snprintf(dir, cap, "%s/.config/flukewatch", home);
    else
        return fw_fail(err, FW_ENOTFOUND,
                       "no config directory: neither XDG_CONFIG_HOME nor HOME is set");
    if (n < 0 || (size_t)n >= cap)
        return fw_fail(err, FW_ETOOBIG, "the config directory's path is over %zu bytes", cap);
    return FW_OK;
}

int fw_user_config_dir(char *dir, size_t cap, fw_error *err)
{
    const char *home = getenv("HOME");
    if (!home || !home[0]) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    return fw_user_config_dir_from(getenv("XDG_CONFIG_HOME"), home, dir, cap, err);
}

int fw_user_config_load_default(fw_user_config *cfg, char *path, int *found, fw_error *err)
{
    char dir[FW_USER_PATH_MAX - 8], file[FW_USER_PATH_MAX];
    fw_user_config_defaults(cfg);
    if (found)
        *found = 0;
    FW_TRY(fw_user_config_dir(dir, sizeof dir, err));
    snprintf(file, sizeof file, "%s/config", dir);
    if (path)
        snprintf(path, FW_USER_PATH_MAX, "%s", file);
    return fw_user_config_load(cfg, file, found, err);
}

int fw_user_config_color_depth(const fw_user_config *cfg, int detected)
{
    return cfg->colors < 0 ? detected : cfg->colors;
}

void fw_theme_dirs_init(fw_theme_dirs *dirs, const char *config_dir, const char *installed_dir,
                        const char *source_dir)
{
    dirs->n = 0;
    dirs->user[0] = '\0';
    if (config_dir && config_dir[0]) {
        int n = snprintf(dirs->user, sizeof dirs->user, "%s/themes", config_dir);
        if (n > 0 && (size_t)n < sizeof dirs->user)
            dirs->list[dirs->n++] = dirs->user;
    }
    if (installed_dir && installed_dir[0])
        dirs->list[dirs->n++] = installed_dir;
    if (source_dir && source_dir[0])
        dirs->list[dirs->n++] = source_dir;
}

void fw_theme_dirs_default(fw_theme_dirs *dirs)
{
    char config_dir[FW_USER_PATH_MAX];
    if (fw_user_config_dir(config_dir, sizeof config_dir, NULL) < 0)
        config_dir[0] = '\0';
    fw_theme_dirs_init(dirs, config_dir, FW_THEMES_DIR, FW_SOURCE_THEMES_DIR);
}
