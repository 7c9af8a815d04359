/* user_config.h — the workbench's user settings: the file
 * $XDG_CONFIG_HOME/flukewatch/config (~/.config/flukewatch/config when
 * XDG_CONFIG_HOME is unset, empty or relative), in the run configs' syntax:
 * `key = value` lines, `#` comments at the start of a line or after white
 * space, blank lines ignored, a key given twice keeps its last value.
 *
 *   theme = dark            # a theme name (or a path holding '/')
 *   refresh_ms = 500        # how often the screens redraw
 *   graphics = auto         # auto | sixel | blocks | text: how images show
 *   smoothing = 0.9         # the loss plot's EMA strength, 0 <= s < 1
 *   colors = auto           # auto | none | 8 | 16 | 256 | truecolor
 *
 * A missing file means every default; an unknown key or a bad value is
 * refused naming FILE:LINE and what is accepted (man/flukewatch-theme.5).
 * Also: where the themes are looked for.
 */
#ifndef FW_USER_CONFIG_H
#define FW_USER_CONFIG_H

#include <stddef.h>

#include "fw_error.h"
#include "theme.h"

#define FW_USER_PATH_MAX 4096

typedef enum fw_graphics_mode {
    FW_GRAPHICS_AUTO = 0, /* sixel when the terminal answers DA1 with 4, else blocks/text */
    FW_GRAPHICS_SIXEL,    /* sixel images, without asking the terminal */
    FW_GRAPHICS_BLOCKS,   /* Unicode half-blocks in 256 or true colour */
    FW_GRAPHICS_TEXT,     /* no images: ids and similarities only */
} fw_graphics_mode;

typedef struct fw_user_config {
    char theme[FW_USER_PATH_MAX]; /* "theme": name or path; default "dark" */
    int refresh_ms;               /* "refresh_ms": 50..60000; default 500 */
    fw_graphics_mode graphics;    /* "graphics"; default auto */
    double smoothing;             /* "smoothing": 0 <= s < 1; default 0.9 */
    int colors;                   /* "colors": -1 = auto (detect), else an fw_color_depth
                                     (FW_COLORS_NONE for "none"); default auto */
} fw_user_config;

/* One key of the file: its name, what it accepts, its default, a line of
 * documentation (the order the man page lists them in). */
typedef struct fw_user_config_key {
    const char *name;
    const char *accepts;
    const char *default_value;
    const char *doc;
} fw_user_config_key;

/* The keys; *count gets how many. */
const fw_user_config_key *fw_user_config_keys(int *count);

void fw_user_config_defaults(fw_user_config *cfg);

/* Set one key from text; origin ("FILE:LINE") names it in errors. */
int fw_user_config_set(fw_user_config *cfg, const char *key, const char *value,
                       const char *origin, fw_error *err);

/* Parse config text over cfg's current values; errors name NAME:LINE. */
int fw_user_config_parse(fw_user_config *cfg, const char *text, const char *name, fw_error *err);

/* Defaults, then the file at path when it exists (a missing file, or a
 * missing directory above it, is not an error). *found (may be NULL) is 1
 * when the file was read. */
int fw_user_config_load(fw_user_config *cfg, const char *path, int *found, fw_error *err);

/* The flukewatch config directory from the values of XDG_CONFIG_HOME and
 * HOME (either may be NULL): XDG_CONFIG_HOME/flukewatch when that is an
 * absolute path, else HOME/.config/flukewatch. FW_ENOTFOUND when neither
 * gives one; FW_ETOOBIG when it does not fit in cap bytes. */
int fw_user_config_dir_from(const char *xdg_config_home, const char *home, char *dir, size_t cap,
                            fw_error *err);

/* The same from the environment (HOME unset: the password database). */
int fw_user_config_dir(char *dir, size_t cap, fw_error *err);

/* fw_user_config_load of fw_user_config_dir()/config; path (may be NULL,
 * else FW_USER_PATH_MAX bytes) gets the file's path. */
int fw_user_config_load_default(fw_user_config *cfg, char *path, int *found, fw_error *err);

/* The colour depth to resolve themes for: the config's override, else the
 * detected one. */
int fw_user_config_color_depth(const fw_user_config *cfg, int detected);

/* The directories themes are looked for in, in order: the user's
 * (CONFIG_DIR/themes, skipped when config_dir is NULL or empty), the
 * installed ones (installed_dir, normally FW_THEMES_DIR), and the source
 * tree's (source_dir, FW_SOURCE_THEMES_DIR: for a build that is not
 * installed). Pass list/n to fw_theme_find and fw_theme_list. */
typedef struct fw_theme_dirs {
    char user[FW_USER_PATH_MAX];
    const char *list[3];
    int n;
} fw_theme_dirs;

void fw_theme_dirs_init(fw_theme_dirs *dirs, const char *config_dir, const char *installed_dir,
                        const char *source_dir);

/* fw_theme_dirs_init with fw_user_config_dir() (left out when it cannot be
 * found) and the directories this build was configured with. */
void fw_theme_dirs_default(fw_theme_dirs *dirs);

#endif
