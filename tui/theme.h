/* theme.h — colour themes of the workbench: the theme file format (one
 * `role = value` line per UI role, man/flukewatch-theme.5), finding a theme
 * by name in a list of directories, and resolving a theme for what the
 * terminal can show (true colour, 256, 16 or 8 colours, or none).
 *
 * A value is `[COLOUR [on COLOUR]] [ATTRIBUTE ...]`: a foreground, an
 * optional background and optional attributes (bold underline reverse dim).
 * A colour is `#rrggbb`, a palette index `c0`..`c255`, one of the sixteen
 * names (black red green yellow blue magenta cyan white and their bright-
 * forms) or `default`. `default` means the theme's own: a foreground of
 * `default` is the `text` role's colour, a background of `default` is the
 * `background` role's colour, and for those two roles it is the terminal's.
 *
 * Pure functions on text and structs, no terminal involved; only
 * fw_theme_load, fw_theme_find and fw_theme_list touch the file system.
 */
#ifndef FW_THEME_H
#define FW_THEME_H

#include <stddef.h>
#include <stdint.h>

#include "fw_error.h"
#include "term_caps.h"

/* The UI roles, in the order fw_theme_role_names lists them. */
typedef enum fw_theme_role {
    FW_ROLE_BACKGROUND = 0, /* the screen; its colour is every role's default background */
    FW_ROLE_TEXT,           /* ordinary text; its colour is every role's default foreground */
    FW_ROLE_DIM,            /* secondary text: units, ids, timestamps */
    FW_ROLE_ACCENT,         /* what to look at: key names, the active tab */
    FW_ROLE_BORDER,         /* panel frames and separators */
    FW_ROLE_TITLE,          /* panel titles */
    FW_ROLE_SELECTION,      /* the selected row or field */
    FW_ROLE_HINT,           /* the key hint line */
    FW_ROLE_STATUS_QUEUED,  /* run status words, one role per status */
    FW_ROLE_STATUS_RUNNING,
    FW_ROLE_STATUS_PAUSED,
    FW_ROLE_STATUS_FINISHED,
    FW_ROLE_STATUS_FAILED,
    FW_ROLE_STATUS_INTERRUPTED,
    FW_ROLE_GOOD,           /* a right match, an improvement */
    FW_ROLE_BAD,            /* a wrong match, an error, an invalid field */
    FW_ROLE_WARNING,        /* warnings in the log */
    FW_ROLE_PLOT1,          /* plot series (compare: one per run), plot.1 .. plot.8 */
    FW_ROLE_PLOT2,
    FW_ROLE_PLOT3,
    FW_ROLE_PLOT4,
    FW_ROLE_PLOT5,
    FW_ROLE_PLOT6,
    FW_ROLE_PLOT7,
    FW_ROLE_PLOT8,
    FW_ROLE_GRID,           /* plot axes and grid lines */
    FW_ROLE_CURSOR,         /* the plot cursor and its readout */
    FW_ROLE_SPARKLINE,      /* telemetry history sparklines */
    FW_ROLE_COUNT
} fw_theme_role;

/* Attributes (bit set). */
enum {
    FW_ATTR_BOLD = 1u << 0,
    FW_ATTR_UNDERLINE = 1u << 1,
    FW_ATTR_REVERSE = 1u << 2,
    FW_ATTR_DIM = 1u << 3,
};

typedef enum fw_color_kind {
    FW_COLOR_DEFAULT = 0, /* `default` */
    FW_COLOR_INDEX,       /* a palette index 0..255 (`c123`, or a name: 0..15) */
    FW_COLOR_RGB,         /* `#rrggbb`, value 0xRRGGBB */
} fw_color_kind;

typedef struct fw_color {
    fw_color_kind kind;
    uint32_t value;
} fw_color;

/* One role as written in a theme (or filled in from its fallback). */
typedef struct fw_theme_entry {
    fw_color fg, bg;
    unsigned attrs;  /* FW_ATTR_* */
    int line;        /* the line that set it; 0 when taken from the fallback */
} fw_theme_entry;

#define FW_THEME_NAME_MAX 64

typedef struct fw_theme {
    char name[FW_THEME_NAME_MAX];          /* file name without ".theme" */
    fw_theme_entry role[FW_ROLE_COUNT];    /* indexed by fw_theme_role */
} fw_theme;

/* A role resolved for one colour depth: colours in that depth's space
 * (palette indices 0..depth-1, or 0xRRGGBB in true colour), -1 for the
 * terminal's default; FW_ATTR_* attributes. */
typedef struct fw_style {
    int fg, bg;
    unsigned attrs;
} fw_style;

typedef struct fw_theme_resolved {
    fw_color_depth depth;              /* the depth the colours are in */
    fw_style role[FW_ROLE_COUNT];
} fw_theme_resolved;

/* The role names ("background", "status.running", "plot.1", ...), indexed
 * by fw_theme_role; *count (may be NULL) gets FW_ROLE_COUNT. */
const char *const *fw_theme_role_names(int *count);

/* The role called `name`, or -1. */
int fw_theme_role_find(const char *name);

/* Parse theme text. `origin` names it in errors ("FILE" -> "FILE:LINE: ...");
 * `name` becomes theme->name. A role given twice keeps its last value; a
 * role the text leaves out takes its fallback (its parent role's look plus
 * the role's own monochrome attributes, see the man page), so older themes
 * keep working when roles are added. Errors (FW_EINVAL) name the origin,
 * the line and the role, colour or attribute at fault; an unknown role gets
 * the nearest role suggested. */
int fw_theme_parse(const char *text, const char *origin, const char *name, fw_theme *theme,
                   fw_error *err);

/* Read and parse a theme file (at most 64 KiB); the theme's name is the
 * file's base name without ".theme". FW_ENOTFOUND when it does not exist. */
int fw_theme_load(const char *path, fw_theme *theme, fw_error *err);

/* The theme compiled into the program ("builtin"): the terminal's own
 * background and foreground, its sixteen named colours and attributes, for
 * when no theme file can be found. */
void fw_theme_builtin(fw_theme *theme);

/* 1 when name is a theme name: 1..63 letters, digits, '.', '_' and '-',
 * not starting with '.'. */
int fw_theme_name_valid(const char *name);

/* Where the theme `name` lives: the first DIR/NAME.theme that is a regular
 * file, trying dirs[0..n_dirs) in order (NULL or empty entries and missing
 * directories are skipped). A name holding '/' is a path and is taken as
 * is. A name is letters, digits, '.', '_' and '-', not starting with '.'.
 * FW_ENOTFOUND (naming the directories tried and the themes they hold)
 * when there is none; FW_EINVAL for a bad name; FW_ETOOBIG when the path
 * does not fit in cap bytes. */
int fw_theme_find(const char *name, const char *const *dirs, int n_dirs, char *path, size_t cap,
                  fw_error *err);

/* The names of the themes in dirs (files NAME.theme with a valid name),
 * sorted, each once (an earlier directory's theme hides a later one's).
 * Writes at most cap names; *count gets how many there are in all. */
int fw_theme_list(const char *const *dirs, int n_dirs, char (*names)[FW_THEME_NAME_MAX], int cap,
                  int *count, fw_error *err);

/* Resolve every role for a terminal of `depth` colours (any colour count
 * works: >= 2^24 is true colour, >= 256 is 256, >= 16 is 16, >= 8 is 8,
 * fewer is monochrome):
 *  - true colour: exact RGB (palette colours as xterm's default RGB);
 *  - 256: `#rrggbb` -> the nearest xterm index in the 6x6x6 cube and the
 *    grey ramp (16..255) by squared RGB distance; indices stay as written;
 *  - 16 / 8: the nearest of the basic colours (xterm's default RGB) by
 *    squared distance, after pushing a colour with a clear hue to full
 *    saturation (so a soft green stays green instead of turning grey);
 *    a colour without one gets the nearest grey; bright names drop to
 *    their plain form at 8;
 *  - monochrome: no colours (-1), each role gets its own attributes
 *    (selection reverse, title bold, bad bold+underline, ...) plus the
 *    theme's bold, underline and dim.
 * Where a palette merges two colours the theme keeps apart, the look is
 * kept usable: a role background that lands on the screen's background
 * takes the next nearest entry, then a foreground that lands on its
 * background does the same. */
void fw_theme_resolve(const fw_theme *theme, int depth, fw_theme_resolved *out);

/* One colour in a depth's space (as fw_theme_resolve maps foregrounds, with
 * no contrast rule): -1 for `default` and for monochrome. */
int fw_theme_color_at(fw_color c, int depth);

/* The RGB (0xRRGGBB) a colour shows as on an xterm with its default
 * palette; -1 for `default`. */
int32_t fw_theme_color_rgb(fw_color c);

/* The attributes a role has on a monochrome terminal. */
unsigned fw_theme_mono_attrs(fw_theme_role role);

/* Parse one colour word ("#1e1e2e", "c42", "bright-red", "default");
 * 0 or FW_EINVAL (no message: callers say where). */
int fw_theme_color_parse(const char *word, fw_color *out);

#endif
