/* test_theme.c — themes and the user settings file: the shipped themes load
 * and define every role (and are readable: contrast ratios), parse errors
 * name FILE:LINE and what is wrong, fallbacks, finding and listing themes,
 * colour resolution against brute-force searches of the xterm palettes
 * (256, 16, 8), the contrast rule of the palette depths, monochrome
 * attributes, the user config (defaults, values, refusals with FILE:LINE,
 * XDG_CONFIG_HOME), and the man page's coverage of every role and key. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rng.h"
#include "tap.h"
#include "theme.h"
#include "user_config.h"

static const char *const SHIPPED[] = {"dark", "light", "high-contrast", "monochrome"};
#define N_SHIPPED 4

/* ---- helpers ------------------------------------------------------------------- */

static char tmpdir_[256];

static const char *tmpdir(void)
{
    if (!tmpdir_[0]) {
        snprintf(tmpdir_, sizeof tmpdir_, "/tmp/test_theme.XXXXXX");
        if (!mkdtemp(tmpdir_))
            tmpdir_[0] = '\0';
    }
    return tmpdir_;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t len = strlen(text), w = fwrite(text, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static int contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static const char *themes_src_dir(char *buf, size_t cap)
{
    const char *top = getenv("TOP_SRCDIR");
    if (!top)
        return NULL;
    snprintf(buf, cap, "%s/themes", top);
    return buf;
}

static int load_shipped(const char *name, fw_theme *t)
{
    char dir[1024], path[1200];
    if (!themes_src_dir(dir, sizeof dir))
        return -1;
    snprintf(path, sizeof path, "%s/%s.theme", dir, name);
    fw_error err = {0};
    int rc = fw_theme_load(path, t, &err);
    if (rc < 0)
        printf("#   %s\n", err.msg);
    return rc;
}

/* The xterm palette, built here independently of the library: the 16
 * basic colours (xterm's defaults), the 6x6x6 cube, the grey ramp. */
static void xterm_rgb(int i, int rgb[3])
{
    static const int basic[16][3] = {
        {0, 0, 0},       {205, 0, 0},   {0, 205, 0},   {205, 205, 0},
        {0, 0, 238},     {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
        {127, 127, 127}, {255, 0, 0},   {0, 255, 0},   {255, 255, 0},
        {92, 92, 255},   {255, 0, 255}, {0, 255, 255}, {255, 255, 255},
    };
    if (i < 16) {
        memcpy(rgb, basic[i], sizeof basic[i]);
    } else if (i < 232) {
        int c = i - 16, digits[3] = {c / 36, (c / 6) % 6, c % 6};
        for (int k = 0; k < 3; k++)
            rgb[k] = digits[k] ? 55 + 40 * digits[k] : 0;
    } else {
        rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (i - 232);
    }
}

static int dist2(const int a[3], const int b[3])
{
    return (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
           (a[2] - b[2]) * (a[2] - b[2]);
}

/* The smallest squared distance from rgb to palette entries [lo, hi)
 * (greys_only: only black, white, bright-black and bright-white). */
static int brute_min_of(const int rgb[3], int lo, int hi, int greys_only)
{
    int best = -1;
    for (int i = lo; i < hi; i++) {
        if (greys_only && i != 0 && i != 7 && i != 8 && i != 15)
            continue;
        int p[3];
        xterm_rgb(i, p);
        int d = dist2(rgb, p);
        if (best < 0 || d < best)
            best = d;
    }
    return best;
}

static int brute_min(const int rgb[3], int lo, int hi)
{
    return brute_min_of(rgb, lo, hi, 0);
}

static fw_color rgb_color(const int rgb[3])
{
    return (fw_color){FW_COLOR_RGB, (uint32_t)(rgb[0] << 16 | rgb[1] << 8 | rgb[2])};
}

/* WCAG 2 relative luminance and contrast ratio of two 0xRRGGBB colours. */
static double luminance(int rgb)
{
    double c[3];
    for (int k = 0; k < 3; k++) {
        double v = ((rgb >> (16 - 8 * k)) & 255) / 255.0;
        c[k] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

static double contrast(int a, int b)
{
    double la = luminance(a), lb = luminance(b);
    if (la < lb) {
        double t = la;
        la = lb, lb = t;
    }
    return (la + 0.05) / (lb + 0.05);
}

/* ---- themes: loading -------------------------------------------------------------- */

static void test_shipped_themes_define_every_role(void)
{
    if (!getenv("TOP_SRCDIR"))
        SKIP("TOP_SRCDIR is not set (run through make check)");
    int n = 0;
    const char *const *names = fw_theme_role_names(&n);
    CHECK_INT(n, FW_ROLE_COUNT);
    for (int i = 0; i < N_SHIPPED; i++) {
        fw_theme t;
        CHECK_MSG(load_shipped(SHIPPED[i], &t) == 0, "%s.theme does not load", SHIPPED[i]);
        CHECK_STR(t.name, SHIPPED[i]);
        for (int r = 0; r < n; r++)
            CHECK_MSG(t.role[r].line > 0, "%s.theme leaves out role %s", SHIPPED[i], names[r]);
    }
}

static void test_role_names(void)
{
    int n = 0;
    const char *const *names = fw_theme_role_names(&n);
    static const char *const required[] = {
        "background", "text", "dim", "accent", "border", "title", "selection",
        "status.running", "status.paused", "status.finished", "status.failed",
        "status.interrupted", "good", "bad", "warning", "plot.1", "plot.8", "grid",
        "cursor", "sparkline"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        CHECK_MSG(fw_theme_role_find(required[i]) >= 0, "no role %s", required[i]);
    for (int r = 0; r < n; r++) {
        CHECK_INT(fw_theme_role_find(names[r]), r);
        for (int q = 0; q < r; q++)
            CHECK(strcmp(names[q], names[r]) != 0);
    }
    CHECK_INT(fw_theme_role_find("plot.9"), -1);
    CHECK_INT(fw_theme_role_find("Text"), -1);
}

static void test_builtin_theme(void)
{
    fw_theme t;
    fw_theme_builtin(&t);
    CHECK_STR(t.name, "builtin");
    for (int r = 0; r < FW_ROLE_COUNT; r++)
        CHECK_MSG(t.role[r].line > 0, "builtin theme leaves out role %d", r);
    /* the terminal's own background and foreground */
    CHECK_INT(t.role[FW_ROLE_BACKGROUND].bg.kind, FW_COLOR_DEFAULT);
    CHECK_INT(t.role[FW_ROLE_TEXT].fg.kind, FW_COLOR_DEFAULT);
    fw_theme_resolved res;
    fw_theme_resolve(&t, 256, &res);
    CHECK_INT(res.role[FW_ROLE_TEXT].fg, -1);
    CHECK_INT(res.role[FW_ROLE_TEXT].bg, -1);
    CHECK_INT(res.role[FW_ROLE_GOOD].fg, 2); /* green stays the terminal's green */
    CHECK(res.role[FW_ROLE_SELECTION].attrs & FW_ATTR_REVERSE);
}

static void test_value_forms(void)
{
    const char *text = "\xEF\xBB\xBF# a theme\r\n"
                       "background = #0A0b0C\r\n"
                       "text = c42   # a comment after a colour\n"
                       "  title=bright-red on c17 bold underline\n"
                       "accent = #5fafd7 # sky\n"
                       "selection = reverse\n"
                       "hint = on blue\n"
                       "#cafe00 = a commented-out line\n"
                       "good = GREEN Bold\n"
                       "good = yellow\n"
                       "bad = default on default dim\n";
    fw_theme t;
    fw_error err = {0};
    CHECK_MSG(fw_theme_parse(text, "t.theme", "t", &t, &err) == 0, "%s", err.msg);
    CHECK_INT(t.role[FW_ROLE_BACKGROUND].bg.kind, FW_COLOR_RGB);
    CHECK_INT(t.role[FW_ROLE_BACKGROUND].bg.value, 0x0a0b0c);
    CHECK_INT(t.role[FW_ROLE_BACKGROUND].fg.kind, FW_COLOR_DEFAULT);
    CHECK_INT(t.role[FW_ROLE_TEXT].fg.kind, FW_COLOR_INDEX);
    CHECK_INT(t.role[FW_ROLE_TEXT].fg.value, 42);
    CHECK_INT(t.role[FW_ROLE_TITLE].fg.value, 9);
    CHECK_INT(t.role[FW_ROLE_TITLE].bg.value, 17);
    CHECK_INT(t.role[FW_ROLE_TITLE].attrs, FW_ATTR_BOLD | FW_ATTR_UNDERLINE);
    CHECK_INT(t.role[FW_ROLE_TITLE].line, 4);
    CHECK_INT(t.role[FW_ROLE_ACCENT].fg.value, 0x5fafd7);
    CHECK_INT(t.role[FW_ROLE_SELECTION].fg.kind, FW_COLOR_DEFAULT);
    CHECK_INT(t.role[FW_ROLE_SELECTION].attrs, FW_ATTR_REVERSE);
    CHECK_INT(t.role[FW_ROLE_HINT].fg.kind, FW_COLOR_DEFAULT);
    CHECK_INT(t.role[FW_ROLE_HINT].bg.value, 4);
    /* a role given twice keeps its last value */
    CHECK_INT(t.role[FW_ROLE_GOOD].fg.value, 3);
    CHECK_INT(t.role[FW_ROLE_GOOD].attrs, 0);
    CHECK_INT(t.role[FW_ROLE_GOOD].line, 10);
    CHECK_INT(t.role[FW_ROLE_BAD].attrs, FW_ATTR_DIM);

    /* the colour words on their own */
    fw_color c;
    CHECK(fw_theme_color_parse("c0", &c) == 0 && c.kind == FW_COLOR_INDEX && c.value == 0);
    CHECK(fw_theme_color_parse("c255", &c) == 0 && c.value == 255);
    CHECK(fw_theme_color_parse("bright-white", &c) == 0 && c.value == 15);
    CHECK(fw_theme_color_parse("default", &c) == 0 && c.kind == FW_COLOR_DEFAULT);
    static const char *const bad[] = {"c256", "c", "c-1", "c1x", "c0001", "#fff", "#fffffff",
                                      "#ggg000", "brightred", "grey", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(fw_theme_color_parse(bad[i], &c) == FW_EINVAL, "'%s' parsed", bad[i]);
}

/* Each bad line, at line 3 of a theme, gives FW_EINVAL and a message holding
 * every part listed. */
static void test_parse_errors_name_file_line(void)
{
    static const struct {
        const char *line;
        const char *parts[3];
    } cases[] = {
        {"status.runing = green", {"t.theme:3: unknown role 'status.runing'",
                                   "did you mean 'status.running'"}},
        {"frobnicate = green", {"t.theme:3: unknown role 'frobnicate'", "flukewatch-theme(5)"}},
        {"text = #12345g", {"t.theme:3: text: bad colour '#12345g'", "#rrggbb"}},
        {"accent = c256", {"t.theme:3: accent: bad colour 'c256'", "c0..c255"}},
        {"good = gren", {"t.theme:3: good: unknown colour or attribute 'gren'", "bold"}},
        {"title = red bolder", {"t.theme:3: title: unknown colour or attribute 'bolder'"}},
        {"selection = white on", {"t.theme:3: selection: 'on' needs a colour after it"}},
        {"selection = white on blu", {"t.theme:3: selection: bad colour 'blu'"}},
        {"cursor = red blue", {"t.theme:3: cursor: a second colour 'blue'", "FG on BG"}},
        {"grid = bold red", {"t.theme:3: grid: colour 'red' after the attributes"}},
        {"bad = red on blue on green", {"t.theme:3: bad: 'on' must follow the foreground"}},
        {"background = black on white", {"t.theme:3: background: one colour"}},
        {"warning =", {"t.theme:3: warning: no value"}},
        {"warning = # only a comment", {"t.theme:3: warning: no value"}},
        {"warning = yellow #bold", {"t.theme:3: warning: bad colour '#bold'"}},
        {"plot.1 #56b4e9", {"t.theme:3: expected 'role = value', got 'plot.1 #56b4e9'"}},
        {"= red", {"t.theme:3: expected 'role = value'"}},
        {"accent = #5fafd7 #cafe00", {"t.theme:3: accent: a second colour '#cafe00'"}},
        {"text = red\x1b[31m", {"t.theme:3: text: unknown colour or attribute 'red[31m'"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "# test\ntext = white\n%s\nbad = red\n", cases[i].line);
        fw_theme t;
        fw_error err = {0};
        int rc = fw_theme_parse(text, "t.theme", "t", &t, &err);
        CHECK_MSG(rc == FW_EINVAL, "'%s' gave %d", cases[i].line, rc);
        for (int k = 0; k < 3 && cases[i].parts[k]; k++)
            CHECK_MSG(contains(err.msg, cases[i].parts[k]), "'%s': message '%s' lacks '%s'",
                      cases[i].line, err.msg, cases[i].parts[k]);
        CHECK_MSG(!strchr(err.msg, '\x1b'), "raw escape in '%s'", err.msg);
    }

    /* through a file: the path, the line */
    if (!tmpdir()[0])
        SKIP("mkdtemp failed: %s", strerror(errno));
    char path[512];
    snprintf(path, sizeof path, "%s/broken.theme", tmpdir());
    CHECK(write_file(path, "text = white\n\n\nselection = white on purple\n") == 0);
    fw_theme t;
    fw_error err = {0};
    CHECK_INT(fw_theme_load(path, &t, &err), FW_EINVAL);
    char want[600];
    snprintf(want, sizeof want, "%s:4: selection: bad colour 'purple'", path);
    CHECK_MSG(contains(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    snprintf(path, sizeof path, "%s/absent.theme", tmpdir());
    CHECK_INT(fw_theme_load(path, &t, &err), FW_ENOTFOUND);
    CHECK(contains(err.msg, path));
}

static void test_fallbacks(void)
{
    const char *text = "background = #000000\ntext = #c0c0c0\naccent = #5fafd7 on #101010\n"
                       "bad = #ff0000\n";
    fw_theme t;
    fw_error err = {0};
    CHECK_MSG(fw_theme_parse(text, "f.theme", "f", &t, &err) == 0, "%s", err.msg);
    /* selection: text's look, reversed */
    CHECK_INT(t.role[FW_ROLE_SELECTION].line, 0);
    CHECK_INT(t.role[FW_ROLE_SELECTION].fg.value, 0xc0c0c0);
    CHECK_INT(t.role[FW_ROLE_SELECTION].attrs, FW_ATTR_REVERSE);
    /* title: accent's look, bold */
    CHECK_INT(t.role[FW_ROLE_TITLE].fg.value, 0x5fafd7);
    CHECK_INT(t.role[FW_ROLE_TITLE].bg.value, 0x101010);
    CHECK_INT(t.role[FW_ROLE_TITLE].attrs, FW_ATTR_BOLD);
    /* status.failed: bad's colour (a role given) plus its own attributes */
    CHECK_INT(t.role[FW_ROLE_STATUS_FAILED].fg.value, 0xff0000);
    CHECK_INT(t.role[FW_ROLE_STATUS_FAILED].attrs, FW_ATTR_BOLD | FW_ATTR_UNDERLINE);
    /* plot.5 -> plot.1 -> accent; grid -> border -> dim -> text */
    CHECK_INT(t.role[FW_ROLE_PLOT5].fg.value, 0x5fafd7);
    CHECK_INT(t.role[FW_ROLE_GRID].fg.value, 0xc0c0c0);
    CHECK(t.role[FW_ROLE_GRID].attrs & FW_ATTR_DIM);
    /* an empty theme: the terminal's colours, monochrome attributes */
    CHECK(fw_theme_parse("", "e.theme", "e", &t, &err) == 0);
    for (int r = 0; r < FW_ROLE_COUNT; r++) {
        CHECK_INT(t.role[r].fg.kind, FW_COLOR_DEFAULT);
        CHECK_INT(t.role[r].bg.kind, FW_COLOR_DEFAULT);
        CHECK_MSG((t.role[r].attrs & fw_theme_mono_attrs((fw_theme_role)r)) ==
                      fw_theme_mono_attrs((fw_theme_role)r), "role %d", r);
    }
}

/* ---- themes: finding ----------------------------------------------------------------- */

static void test_find_and_list(void)
{
    char src[1024];
    if (!themes_src_dir(src, sizeof src))
        SKIP("TOP_SRCDIR is not set (run through make check)");
    if (!tmpdir()[0])
        SKIP("mkdtemp failed: %s", strerror(errno));
    char user[600], path[1200], missing[600];
    snprintf(user, sizeof user, "%s/user-themes", tmpdir());
    snprintf(missing, sizeof missing, "%s/not-there", tmpdir());
    CHECK(mkdir(user, 0700) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/dark.theme", user);
    CHECK(write_file(path, "text = red\n") == 0);
    snprintf(path, sizeof path, "%s/mine.theme", user);
    CHECK(write_file(path, "text = blue\n") == 0);
    snprintf(path, sizeof path, "%s/.hidden.theme", user);
    CHECK(write_file(path, "text = blue\n") == 0);
    snprintf(path, sizeof path, "%s/notes.txt", user);
    CHECK(write_file(path, "not a theme\n") == 0);
    snprintf(path, sizeof path, "%s/dir.theme", user);
    CHECK(mkdir(path, 0700) == 0 || errno == EEXIST);

    const char *dirs[] = {NULL, missing, user, "", src};
    fw_error err = {0};
    char found[1200], want[1200];
    /* the user's dark hides the shipped one; light comes from the source tree */
    CHECK_MSG(fw_theme_find("dark", dirs, 5, found, sizeof found, &err) == 0, "%s", err.msg);
    snprintf(want, sizeof want, "%s/dark.theme", user);
    CHECK_STR(found, want);
    CHECK(fw_theme_find("light", dirs, 5, found, sizeof found, &err) == 0);
    snprintf(want, sizeof want, "%s/light.theme", src);
    CHECK_STR(found, want);
    /* a path is taken as is */
    CHECK(fw_theme_find(want, dirs, 5, found, sizeof found, &err) == 0);
    CHECK_STR(found, want);
    /* not found: the directories tried and the themes they hold */
    CHECK_INT(fw_theme_find("solarized", dirs, 5, found, sizeof found, &err), FW_ENOTFOUND);
    CHECK_MSG(contains(err.msg, "theme 'solarized' not found") && contains(err.msg, user) &&
                  contains(err.msg, src) && contains(err.msg, "dark, high-contrast, light, mine"),
              "%s", err.msg);
    CHECK_INT(fw_theme_find("dir", dirs, 5, found, sizeof found, &err), FW_ENOTFOUND);
    /* bad names */
    CHECK_INT(fw_theme_find(".hidden", dirs, 5, found, sizeof found, &err), FW_EINVAL);
    CHECK_INT(fw_theme_find("a b", dirs, 5, found, sizeof found, &err), FW_EINVAL);
    CHECK_INT(fw_theme_find("", dirs, 5, found, sizeof found, &err), FW_EINVAL);
    CHECK_INT(fw_theme_find("dark", dirs, 5, found, 10, &err), FW_ETOOBIG);

    char names[8][FW_THEME_NAME_MAX];
    int count = 0;
    CHECK(fw_theme_list(dirs, 5, names, 8, &count, &err) == 0);
    CHECK_INT(count, 5);
    static const char *const expect[] = {"dark", "high-contrast", "light", "mine", "monochrome"};
    for (int i = 0; i < 5 && i < count; i++)
        CHECK_STR(names[i], expect[i]);
    CHECK(fw_theme_list(dirs, 5, names, 2, &count, &err) == 0);
    CHECK_INT(count, 5);
    CHECK_STR(names[1], "high-contrast");
}

/* ---- themes: resolving ----------------------------------------------------------------- */

static void test_256_mapping_matches_brute_force(void)
{
    fw_rng rng;
    fw_rng_init(&rng, 5, 0);
    int checked = 0, failures = 0;
    for (int n = 0; n < 60000 + 37 * 37 * 37 + 256; n++) {
        int rgb[3];
        if (n < 37 * 37 * 37) { /* a grid, 0, 7, ..., 252, plus 255 at the ends */
            int v[3] = {n / (37 * 37), (n / 37) % 37, n % 37};
            for (int k = 0; k < 3; k++)
                rgb[k] = v[k] == 36 ? 255 : 7 * v[k];
        } else if (n < 37 * 37 * 37 + 256) { /* every grey */
            rgb[0] = rgb[1] = rgb[2] = n - 37 * 37 * 37;
        } else {
            for (int k = 0; k < 3; k++)
                rgb[k] = (int)fw_rng_below(&rng, 256);
        }
        int got = fw_theme_color_at(rgb_color(rgb), 256);
        int p[3] = {0, 0, 0};
        if (got >= 16 && got <= 255)
            xterm_rgb(got, p);
        int ok = got >= 16 && got <= 255 && dist2(rgb, p) == brute_min(rgb, 16, 256);
        if (!ok && failures++ < 5)
            printf("#   (%d, %d, %d) -> %d, not the nearest of 16..255\n", rgb[0], rgb[1],
                   rgb[2], got);
        checked++;
    }
    CHECK_INT(failures, 0);
    CHECK(checked > 100000);
    /* palette indices stay as written; true colour is exact */
    for (int i = 0; i < 256; i++) {
        int p[3];
        xterm_rgb(i, p);
        fw_color c = {FW_COLOR_INDEX, (uint32_t)i};
        CHECK_INT(fw_theme_color_at(c, 256), i);
        CHECK_INT(fw_theme_color_at(c, FW_COLORS_TRUE), p[0] << 16 | p[1] << 8 | p[2]);
        CHECK_INT(fw_theme_color_rgb(c), p[0] << 16 | p[1] << 8 | p[2]);
    }
    fw_color c = {FW_COLOR_RGB, 0x123456};
    CHECK_INT(fw_theme_color_at(c, FW_COLORS_TRUE), 0x123456);
    CHECK_INT(fw_theme_color_at(c, 0), -1);
    CHECK_INT(fw_theme_color_at((fw_color){FW_COLOR_DEFAULT, 0}, 256), -1);
}

/* Hue in degrees (0 red, 120 green, 240 blue) of an RGB triple. */
static double hue_of(const int c[3])
{
    int hi = c[0], lo = c[0];
    for (int k = 1; k < 3; k++) {
        hi = c[k] > hi ? c[k] : hi;
        lo = c[k] < lo ? c[k] : lo;
    }
    double d = hi - lo, h;
    if (d == 0)
        return 0;
    if (hi == c[0])
        h = fmod((c[1] - c[2]) / d, 6.0);
    else if (hi == c[1])
        h = (c[2] - c[0]) / d + 2;
    else
        h = (c[0] - c[1]) / d + 4;
    h *= 60;
    return h < 0 ? h + 360 : h;
}

static void test_8_and_16_colour_mapping(void)
{
    fw_rng rng;
    fw_rng_init(&rng, 8, 0);
    int failures = 0, hue_checked = 0;
    static const int sizes[2] = {8, 16};
    for (int n = 0; n < 30000; n++) {
        int rgb[3];
        for (int k = 0; k < 3; k++)
            rgb[k] = (int)fw_rng_below(&rng, 256);
        int kind = n % 3;
        if (kind == 0) /* a grey */
            rgb[1] = rgb[2] = rgb[0];
        else if (kind == 1) /* fully saturated: one channel 0 */
            rgb[fw_rng_below(&rng, 3)] = 0;
        for (int s = 0; s < 2; s++) {
            int got = fw_theme_color_at(rgb_color(rgb), sizes[s]);
            int p[3] = {0, 0, 0};
            if (got >= 0 && got < sizes[s])
                xterm_rgb(got, p);
            int ok = got >= 0 && got < sizes[s];
            int hi = rgb[0] > rgb[1] ? rgb[0] : rgb[1], lo = rgb[0] < rgb[1] ? rgb[0] : rgb[1];
            hi = rgb[2] > hi ? rgb[2] : hi;
            lo = rgb[2] < lo ? rgb[2] : lo;
            /* greys: the nearest grey; saturated colours: the nearest of all
             * (a dim one, spread under 32, counts as a grey) */
            if (ok && kind < 2)
                ok = dist2(rgb, p) == brute_min_of(rgb, 0, sizes[s], hi - lo < 32);
            if (ok && kind == 2 && hi >= 160 && hi - lo >= 64) {
                /* a clear colour keeps its hue: not grey, within 60 degrees */
                int grey = p[0] == p[1] && p[1] == p[2];
                double dh = fabs(hue_of(rgb) - hue_of(p));
                ok = !grey && (dh <= 60 || dh >= 300);
                hue_checked++;
            }
            if (!ok && failures++ < 5)
                printf("#   (%d, %d, %d) at %d colours -> %d\n", rgb[0], rgb[1], rgb[2],
                       sizes[s], got);
        }
    }
    CHECK_INT(failures, 0);
    CHECK(hue_checked > 1000);
    /* soft colours keep their meaning: good green, bad red, warning yellow */
    static const struct {
        uint32_t rgb;
        int at8, at16;
    } soft[] = {{0x98c379, 2, 2}, {0xef6b73, 1, 9}, {0xe5c07b, 3, 3}, {0x7f8792, 7, 8},
                {0x1c1f24, 0, 0}, {0xd0d4da, 7, 7}, {0x2e333b, 0, 0}};
    for (size_t i = 0; i < sizeof soft / sizeof soft[0]; i++) {
        fw_color c = {FW_COLOR_RGB, soft[i].rgb};
        CHECK_MSG(fw_theme_color_at(c, 8) == soft[i].at8, "#%06x at 8 -> %d", soft[i].rgb,
                  fw_theme_color_at(c, 8));
        CHECK_MSG(fw_theme_color_at(c, 16) == soft[i].at16, "#%06x at 16 -> %d", soft[i].rgb,
                  fw_theme_color_at(c, 16));
    }
    /* known points */
    int white[3] = {255, 255, 255}, navy[3] = {0, 0, 128}, scarlet[3] = {255, 40, 0};
    CHECK_INT(fw_theme_color_at(rgb_color(white), 8), 7);
    CHECK_INT(fw_theme_color_at(rgb_color(white), 16), 15);
    CHECK_INT(fw_theme_color_at(rgb_color(navy), 8), 4);
    CHECK_INT(fw_theme_color_at(rgb_color(scarlet), 16), 9);
    CHECK_INT(fw_theme_color_at(rgb_color(scarlet), 8), 1);
    /* names: exact at 16, bright ones drop to the plain colour at 8 */
    fw_color bright_red = {FW_COLOR_INDEX, 9}, c200 = {FW_COLOR_INDEX, 200};
    CHECK_INT(fw_theme_color_at(bright_red, 16), 9);
    CHECK_INT(fw_theme_color_at(bright_red, 8), 1);
    CHECK_INT(fw_theme_color_at(bright_red, 88), 9); /* 88 colours: the 16 */
    int p200[3];
    xterm_rgb(200, p200);
    int got = fw_theme_color_at(c200, 16), pg[3];
    xterm_rgb(got, pg);
    CHECK(got >= 0 && got < 16 && dist2(p200, pg) == brute_min(p200, 0, 16));
}

static void test_resolve_defaults_and_depths(void)
{
    const char *text = "background = #101820\ntext = #e0e0e0\ngood = #00c000\n"
                       "selection = #ffffff on #004080 bold\ncursor = default on #ffd700\n";
    fw_theme t;
    fw_error err = {0};
    CHECK_MSG(fw_theme_parse(text, "r.theme", "r", &t, &err) == 0, "%s", err.msg);
    fw_theme_resolved res;
    fw_theme_resolve(&t, FW_COLORS_TRUE, &res);
    CHECK_INT(res.depth, FW_COLORS_TRUE);
    /* default background = the screen's; default foreground = text's */
    CHECK_INT(res.role[FW_ROLE_BACKGROUND].bg, 0x101820);
    CHECK_INT(res.role[FW_ROLE_BACKGROUND].fg, 0xe0e0e0);
    CHECK_INT(res.role[FW_ROLE_GOOD].fg, 0x00c000);
    CHECK_INT(res.role[FW_ROLE_GOOD].bg, 0x101820);
    CHECK_INT(res.role[FW_ROLE_CURSOR].fg, 0xe0e0e0);
    CHECK_INT(res.role[FW_ROLE_CURSOR].bg, 0xffd700);
    CHECK_INT(res.role[FW_ROLE_SELECTION].attrs, FW_ATTR_BOLD);
    /* 256: nearest indices; 16 and 8: in range */
    fw_theme_resolve(&t, 256, &res);
    CHECK_INT(res.depth, FW_COLORS_256);
    CHECK_INT(res.role[FW_ROLE_SELECTION].bg, fw_theme_color_at((fw_color){FW_COLOR_RGB, 0x004080}, 256));
    CHECK_INT(res.role[FW_ROLE_SELECTION].fg, 231);
    static const int depths[] = {8, 16, 256};
    for (int d = 0; d < 3; d++) {
        fw_theme_resolve(&t, depths[d], &res);
        for (int r = 0; r < FW_ROLE_COUNT; r++) {
            CHECK(res.role[r].fg >= 0 && res.role[r].fg < depths[d]);
            CHECK(res.role[r].bg >= 0 && res.role[r].bg < depths[d]);
        }
    }
    /* depths between the four round down */
    fw_theme_resolve(&t, 88, &res);
    CHECK_INT(res.depth, FW_COLORS_16);
    fw_theme_resolve(&t, 2, &res);
    CHECK_INT(res.depth, FW_COLORS_NONE);
}

/* Colours the theme keeps apart stay apart where a small palette would merge
 * them; colours written the same stay the same. */
static void test_palette_keeps_roles_apart(void)
{
    const char *text = "background = #000000\ntext = #d0d0d0\n"
                       "dim = #1a1a1a\n"                  /* -> black at 8, like the screen */
                       "selection = #ffffff on #202020\n" /* bg -> black at 8 */
                       "accent = #000000\n"               /* written as the screen: kept */
                       "cursor = #e0e0e0 on #f0f0f0\n";   /* both -> white at 8 */
    fw_theme t;
    fw_error err = {0};
    CHECK_MSG(fw_theme_parse(text, "k.theme", "k", &t, &err) == 0, "%s", err.msg);
    static const int depths[] = {8, 16, 256};
    for (int d = 0; d < 3; d++) {
        fw_theme_resolved res;
        fw_theme_resolve(&t, depths[d], &res);
        int screen = res.role[FW_ROLE_BACKGROUND].bg;
        CHECK_MSG(res.role[FW_ROLE_DIM].fg != res.role[FW_ROLE_DIM].bg, "depth %d", depths[d]);
        CHECK_MSG(res.role[FW_ROLE_SELECTION].bg != screen, "depth %d", depths[d]);
        CHECK_MSG(res.role[FW_ROLE_SELECTION].fg != res.role[FW_ROLE_SELECTION].bg, "depth %d",
                  depths[d]);
        CHECK_MSG(res.role[FW_ROLE_CURSOR].fg != res.role[FW_ROLE_CURSOR].bg, "depth %d",
                  depths[d]);
        CHECK_MSG(res.role[FW_ROLE_ACCENT].fg == screen, "depth %d", depths[d]);
    }
    /* at 8 colours: the replacement is the next nearest entry */
    fw_theme_resolved res;
    fw_theme_resolve(&t, 8, &res);
    CHECK_INT(res.role[FW_ROLE_BACKGROUND].bg, 0);
    int sel_bg[3] = {0x20, 0x20, 0x20}, p[3];
    xterm_rgb(res.role[FW_ROLE_SELECTION].bg, p);
    CHECK_INT(dist2(sel_bg, p), brute_min_of(sel_bg, 1, 8, 1)); /* a grey: greys only */
    CHECK_INT(res.role[FW_ROLE_CURSOR].bg, 7);
    int cursor_fg[3] = {0xe0, 0xe0, 0xe0};
    xterm_rgb(res.role[FW_ROLE_CURSOR].fg, p);
    CHECK_INT(dist2(cursor_fg, p), brute_min_of(cursor_fg, 0, 7, 1));
    /* true colour changes nothing */
    fw_theme_resolve(&t, FW_COLORS_TRUE, &res);
    CHECK_INT(res.role[FW_ROLE_DIM].fg, 0x1a1a1a);
    CHECK_INT(res.role[FW_ROLE_SELECTION].bg, 0x202020);
}

static void test_monochrome_attributes_only(void)
{
    fw_theme themes[N_SHIPPED + 1];
    int n = 0;
    fw_theme_builtin(&themes[n++]);
    if (getenv("TOP_SRCDIR"))
        for (int i = 0; i < N_SHIPPED; i++)
            if (load_shipped(SHIPPED[i], &themes[n]) == 0)
                n++;
    for (int i = 0; i < n; i++) {
        fw_theme_resolved res;
        fw_theme_resolve(&themes[i], FW_COLORS_NONE, &res);
        for (int r = 0; r < FW_ROLE_COUNT; r++) {
            CHECK_MSG(res.role[r].fg == -1 && res.role[r].bg == -1, "%s role %d has colours",
                      themes[i].name, r);
            unsigned mono = fw_theme_mono_attrs((fw_theme_role)r);
            CHECK_MSG((res.role[r].attrs & mono) == mono, "%s role %d", themes[i].name, r);
        }
        const fw_style *s = res.role;
        CHECK_MSG(s[FW_ROLE_SELECTION].attrs != s[FW_ROLE_TEXT].attrs, "%s", themes[i].name);
        CHECK(s[FW_ROLE_SELECTION].attrs & FW_ATTR_REVERSE);
        CHECK(!(s[FW_ROLE_TEXT].attrs & FW_ATTR_REVERSE));
        CHECK(s[FW_ROLE_TITLE].attrs & FW_ATTR_BOLD);
        CHECK((s[FW_ROLE_BAD].attrs & (FW_ATTR_BOLD | FW_ATTR_UNDERLINE)) ==
              (FW_ATTR_BOLD | FW_ATTR_UNDERLINE));
        CHECK(s[FW_ROLE_GOOD].attrs != s[FW_ROLE_BAD].attrs);
        CHECK(s[FW_ROLE_DIM].attrs & FW_ATTR_DIM);
        CHECK(s[FW_ROLE_CURSOR].attrs & FW_ATTR_REVERSE);
    }
    CHECK(n == N_SHIPPED + 1 || !getenv("TOP_SRCDIR"));
    /* the monochrome theme looks the same on a colour terminal */
    if (n == N_SHIPPED + 1) {
        fw_theme_resolved mono, colour;
        fw_theme_resolve(&themes[N_SHIPPED], FW_COLORS_NONE, &mono);
        fw_theme_resolve(&themes[N_SHIPPED], FW_COLORS_TRUE, &colour);
        CHECK_STR(themes[N_SHIPPED].name, "monochrome");
        for (int r = 0; r < FW_ROLE_COUNT; r++) {
            CHECK_INT(colour.role[r].fg, -1);
            CHECK_INT(colour.role[r].bg, -1);
            CHECK_INT(colour.role[r].attrs, mono.role[r].attrs);
        }
    }
}

/* The shipped colour themes are readable: WCAG contrast of each role's
 * foreground against its background, in true colour. */
static void test_shipped_theme_contrast(void)
{
    if (!getenv("TOP_SRCDIR"))
        SKIP("TOP_SRCDIR is not set (run through make check)");
    static const int text_roles[] = {
        FW_ROLE_TEXT, FW_ROLE_DIM, FW_ROLE_ACCENT, FW_ROLE_TITLE, FW_ROLE_SELECTION,
        FW_ROLE_HINT, FW_ROLE_STATUS_QUEUED, FW_ROLE_STATUS_RUNNING, FW_ROLE_STATUS_PAUSED,
        FW_ROLE_STATUS_FINISHED, FW_ROLE_STATUS_FAILED, FW_ROLE_STATUS_INTERRUPTED,
        FW_ROLE_GOOD, FW_ROLE_BAD, FW_ROLE_WARNING, FW_ROLE_CURSOR};
    const char *const *names = fw_theme_role_names(NULL);
    for (int i = 0; i < 3; i++) {
        fw_theme t;
        if (load_shipped(SHIPPED[i], &t) < 0) {
            CHECK_MSG(0, "%s.theme does not load", SHIPPED[i]);
            continue;
        }
        fw_theme_resolved res;
        fw_theme_resolve(&t, FW_COLORS_TRUE, &res);
        int high = strcmp(SHIPPED[i], "high-contrast") == 0;
        for (size_t k = 0; k < sizeof text_roles / sizeof text_roles[0]; k++) {
            const fw_style *s = &res.role[text_roles[k]];
            double ratio = contrast(s->fg, s->bg), need = high ? 7.0 : 4.5;
            CHECK_MSG(ratio >= need, "%s %s: contrast %.2f < %.1f", SHIPPED[i],
                      names[text_roles[k]], ratio, need);
        }
        for (int r = FW_ROLE_PLOT1; r <= FW_ROLE_SPARKLINE; r++) {
            if (r == FW_ROLE_CURSOR)
                continue;
            const fw_style *s = &res.role[r];
            double ratio = contrast(s->fg, s->bg), need = high ? 7.0 : r == FW_ROLE_GRID ? 1.2 : 3.0;
            CHECK_MSG(ratio >= need, "%s %s: contrast %.2f < %.1f", SHIPPED[i], names[r], ratio,
                      need);
        }
    }
}

/* ---- user config ------------------------------------------------------------------------- */

static void test_user_config_defaults(void)
{
    fw_user_config cfg;
    fw_error err = {0};
    int found = -1;
    if (!tmpdir()[0])
        SKIP("mkdtemp failed: %s", strerror(errno));
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-dir/config", tmpdir());
    memset(&cfg, 0x5a, sizeof cfg);
    CHECK_MSG(fw_user_config_load(&cfg, path, &found, &err) == 0, "%s", err.msg);
    CHECK_INT(found, 0);
    CHECK_STR(cfg.theme, "dark");
    CHECK_INT(cfg.refresh_ms, 500);
    CHECK_INT(cfg.graphics, FW_GRAPHICS_AUTO);
    CHECK_NEAR(cfg.smoothing, 0.9, 0);
    CHECK_INT(cfg.colors, -1);
    CHECK_INT(fw_user_config_color_depth(&cfg, 256), 256);
    /* every key's documented default is the default */
    int n = 0;
    const fw_user_config_key *keys = fw_user_config_keys(&n);
    CHECK_INT(n, 5);
    fw_user_config set;
    fw_user_config_defaults(&set);
    for (int i = 0; i < n; i++) {
        fw_user_config_defaults(&set);
        CHECK(fw_user_config_set(&set, keys[i].name, keys[i].default_value, "t", &err) == 0);
        CHECK_MSG(memcmp(&set, &cfg, sizeof set) == 0, "%s's default differs", keys[i].name);
    }
}

static void test_user_config_values(void)
{
    const char *text = "# my settings\n"
                       "theme = high-contrast   # for the projector\n"
                       "refresh_ms=250\n"
                       "\n"
                       "graphics = blocks\r\n"
                       "smoothing = 0.75\n"
                       "colors = 256\n"
                       "refresh_ms = 1000\n";
    fw_user_config cfg;
    fw_user_config_defaults(&cfg);
    fw_error err = {0};
    CHECK_MSG(fw_user_config_parse(&cfg, text, "config", &err) == 0, "%s", err.msg);
    CHECK_STR(cfg.theme, "high-contrast");
    CHECK_INT(cfg.refresh_ms, 1000);
    CHECK_INT(cfg.graphics, FW_GRAPHICS_BLOCKS);
    CHECK_NEAR(cfg.smoothing, 0.75, 0);
    CHECK_INT(cfg.colors, 256);
    CHECK_INT(fw_user_config_color_depth(&cfg, FW_COLORS_TRUE), 256);
    static const struct {
        const char *line;
        int graphics, colors;
    } enums[] = {{"graphics = auto", FW_GRAPHICS_AUTO, 256},
                 {"graphics = sixel", FW_GRAPHICS_SIXEL, 256},
                 {"graphics = text", FW_GRAPHICS_TEXT, 256},
                 {"colors = none", FW_GRAPHICS_TEXT, FW_COLORS_NONE},
                 {"colors = 8", FW_GRAPHICS_TEXT, FW_COLORS_8},
                 {"colors = 16", FW_GRAPHICS_TEXT, FW_COLORS_16},
                 {"colors = truecolor", FW_GRAPHICS_TEXT, FW_COLORS_TRUE},
                 {"colors = auto", FW_GRAPHICS_TEXT, -1}};
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        CHECK_MSG(fw_user_config_parse(&cfg, enums[i].line, "c", &err) == 0, "%s", err.msg);
        CHECK_INT(cfg.graphics, enums[i].graphics);
        CHECK_INT(cfg.colors, enums[i].colors);
    }
    CHECK(fw_user_config_parse(&cfg, "theme = /opt/themes/x.theme", "c", &err) == 0);
    CHECK_STR(cfg.theme, "/opt/themes/x.theme");
    CHECK(fw_user_config_parse(&cfg, "smoothing = 0", "c", &err) == 0);
    CHECK_NEAR(cfg.smoothing, 0.0, 0);
}

static void test_user_config_refusals(void)
{
    static const struct {
        const char *line;
        const char *parts[3];
    } cases[] = {
        {"refersh_ms = 100", {"cfg:2: unknown key 'refersh_ms'",
                              "theme, refresh_ms, graphics, smoothing and colors"}},
        {"refresh_ms = 10", {"cfg:2: refresh_ms: expected an integer from 50 to 60000, got '10'"}},
        {"refresh_ms = 100000", {"cfg:2: refresh_ms: expected", "'100000'"}},
        {"refresh_ms = 5e2", {"cfg:2: refresh_ms: expected", "'5e2'"}},
        {"refresh_ms =", {"cfg:2: refresh_ms: expected", "''"}},
        {"graphics = kitty", {"cfg:2: graphics: expected auto, sixel, blocks or text, got 'kitty'"}},
        {"graphics = Sixel", {"cfg:2: graphics: expected"}},
        {"smoothing = 1", {"cfg:2: smoothing: expected a number from 0 up to", "got '1'"}},
        {"smoothing = -0.1", {"cfg:2: smoothing: expected"}},
        {"smoothing = nan", {"cfg:2: smoothing: expected"}},
        {"smoothing = 0,9", {"cfg:2: smoothing: expected"}},
        {"colors = 24bit", {"cfg:2: colors: expected auto, none, 8, 16, 256 or truecolor"}},
        {"theme = my theme", {"cfg:2: theme: expected a theme name or a path", "'my theme'"}},
        {"theme = .hidden", {"cfg:2: theme: expected"}},
        {"theme =", {"cfg:2: theme: expected"}},
        {"theme dark", {"cfg:2: expected 'key = value', got 'theme dark'"}},
        {"= dark", {"cfg:2: a value without a key"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "theme = light\n%s\nrefresh_ms = 700\n", cases[i].line);
        fw_user_config cfg;
        fw_user_config_defaults(&cfg);
        fw_error err = {0};
        int rc = fw_user_config_parse(&cfg, text, "cfg", &err);
        CHECK_MSG(rc == FW_EINVAL, "'%s' gave %d", cases[i].line, rc);
        for (int k = 0; k < 3 && cases[i].parts[k]; k++)
            CHECK_MSG(contains(err.msg, cases[i].parts[k]), "'%s': message '%s' lacks '%s'",
                      cases[i].line, err.msg, cases[i].parts[k]);
    }
    /* through a file: the path and the line */
    if (!tmpdir()[0])
        SKIP("mkdtemp failed: %s", strerror(errno));
    char path[600], want[700];
    snprintf(path, sizeof path, "%s/refused-config", tmpdir());
    CHECK(write_file(path, "# settings\ntheme = dark\n\nthme = light\n") == 0);
    fw_user_config cfg;
    fw_error err = {0};
    int found = -1;
    CHECK_INT(fw_user_config_load(&cfg, path, &found, &err), FW_EINVAL);
    snprintf(want, sizeof want, "%s:4: unknown key 'thme'", path);
    CHECK_MSG(contains(err.msg, want), "'%s' lacks '%s'", err.msg, want);
    CHECK_INT(found, 0);
}

static void test_user_config_xdg(void)
{
    if (!tmpdir()[0])
        SKIP("mkdtemp failed: %s", strerror(errno));
    char xdg[600], home[600], dir[700], path[800], want[800];
    snprintf(xdg, sizeof xdg, "%s/xdg", tmpdir());
    snprintf(home, sizeof home, "%s/home", tmpdir());
    snprintf(dir, sizeof dir, "%s/flukewatch", xdg);
    CHECK(mkdir(xdg, 0700) == 0 && mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/config", dir);
    CHECK(write_file(path, "theme = light\n") == 0);
    CHECK(mkdir(home, 0700) == 0);
    snprintf(dir, sizeof dir, "%s/.config", home);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(dir, sizeof dir, "%s/.config/flukewatch", home);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/config", dir);
    CHECK(write_file(path, "refresh_ms = 250\n") == 0);

    char *saved_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
    char *saved_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    fw_user_config cfg;
    fw_error err = {0};
    int found = 0;
    char used[FW_USER_PATH_MAX];

    /* XDG_CONFIG_HOME set: its flukewatch/config */
    setenv("XDG_CONFIG_HOME", xdg, 1);
    setenv("HOME", home, 1);
    CHECK_MSG(fw_user_config_load_default(&cfg, used, &found, &err) == 0, "%s", err.msg);
    snprintf(want, sizeof want, "%s/flukewatch/config", xdg);
    CHECK_STR(used, want);
    CHECK_INT(found, 1);
    CHECK_STR(cfg.theme, "light");
    CHECK_INT(cfg.refresh_ms, 500);
    fw_theme_dirs dirs;
    fw_theme_dirs_default(&dirs);
    CHECK_INT(dirs.n, 3);
    snprintf(want, sizeof want, "%s/flukewatch/themes", xdg);
    CHECK_STR(dirs.list[0], want);
    CHECK_STR(dirs.list[1], FW_THEMES_DIR);
    CHECK_STR(dirs.list[2], FW_SOURCE_THEMES_DIR);
    char found_path[FW_USER_PATH_MAX];
    CHECK_MSG(fw_theme_find("dark", dirs.list, dirs.n, found_path, sizeof found_path, &err) == 0,
              "%s", err.msg);

    /* unset, empty or relative: HOME/.config */
    static const char *const ignored[] = {NULL, "", "relative/dir"};
    for (int i = 0; i < 3; i++) {
        if (ignored[i])
            setenv("XDG_CONFIG_HOME", ignored[i], 1);
        else
            unsetenv("XDG_CONFIG_HOME");
        CHECK_MSG(fw_user_config_load_default(&cfg, used, &found, &err) == 0, "%s", err.msg);
        snprintf(want, sizeof want, "%s/.config/flukewatch/config", home);
        CHECK_STR(used, want);
        CHECK_STR(cfg.theme, "dark");
        CHECK_INT(cfg.refresh_ms, 250);
    }
    /* pure form */
    char d[64];
    CHECK_INT(fw_user_config_dir_from(NULL, NULL, d, sizeof d, &err), FW_ENOTFOUND);
    CHECK_INT(fw_user_config_dir_from("rel", "", d, sizeof d, &err), FW_ENOTFOUND);
    CHECK(fw_user_config_dir_from("/x", "/home/u", d, sizeof d, &err) == 0);
    CHECK_STR(d, "/x/flukewatch");
    CHECK(fw_user_config_dir_from(NULL, "/home/u", d, sizeof d, &err) == 0);
    CHECK_STR(d, "/home/u/.config/flukewatch");
    CHECK_INT(fw_user_config_dir_from("/x", NULL, d, 8, &err), FW_ETOOBIG);
    fw_theme_dirs_init(&dirs, "", "/usr/share/flukewatch/themes", NULL);
    CHECK_INT(dirs.n, 1);
    CHECK_STR(dirs.list[0], "/usr/share/flukewatch/themes");

    if (saved_xdg)
        setenv("XDG_CONFIG_HOME", saved_xdg, 1);
    else
        unsetenv("XDG_CONFIG_HOME");
    if (saved_home)
        setenv("HOME", saved_home, 1);
    free(saved_xdg);
    free(saved_home);
}

/* ---- the manual ------------------------------------------------------------------------- */

/* The entry that starts ".TP\n.B NAME\n", up to the next .TP or .SH (NULL if none). */
static const char *man_entry(const char *page, const char *name, char *text, size_t cap)
{
    char head[160];
    snprintf(head, sizeof head, ".TP\n.B %s\n", name);
    const char *entry = strstr(page, head);
    if (!entry)
        return NULL;
    entry += strlen(head);
    const char *end = entry + strlen(entry), *tp = strstr(entry, "\n.TP\n"),
               *sh = strstr(entry, "\n.SH ");
    if (tp && tp < end)
        end = tp;
    if (sh && sh < end)
        end = sh;
    snprintf(text, cap, "%.*s", (int)(end - entry), entry);
    return text;
}

static void test_man_page_covers_roles_and_keys(void)
{
    const char *top = getenv("TOP_SRCDIR");
    if (!top)
        SKIP("TOP_SRCDIR is not set (run through make check)");
    char path[1024];
    snprintf(path, sizeof path, "%s/man/flukewatch-theme.5", top);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno));
    if (!f)
        return;
    static char page[1 << 17];
    size_t len = fread(page, 1, sizeof page - 1, f);
    fclose(f);
    page[len] = '\0';
    CHECK(len < sizeof page - 1);
    CHECK(contains(page, ".SH NAME") && contains(page, ".SH DESCRIPTION") &&
          contains(page, ".SH FILES") && contains(page, ".SH SEE ALSO"));
    char text[4096];
    int n = 0;
    const char *const *roles = fw_theme_role_names(&n);
    for (int r = 0; r < n; r++)
        CHECK_MSG(man_entry(page, roles[r], text, sizeof text), "no entry '.TP .B %s'",
                  roles[r]);
    const fw_user_config_key *keys = fw_user_config_keys(&n);
    for (int k = 0; k < n; k++) {
        const char *entry = man_entry(page, keys[k].name, text, sizeof text);
        CHECK_MSG(entry, "no entry '.TP .B %s'", keys[k].name);
        char dflt[128];
        snprintf(dflt, sizeof dflt, "Default: %s", keys[k].default_value);
        CHECK_MSG(contains(entry, dflt), "entry %s lacks '%s'", keys[k].name, dflt);
    }
    /* the examples parse: the .nf blocks that start with these comments */
    static const char *const examples[] = {"# ~/.config/flukewatch/config\n",
                                           "# ~/.config/flukewatch/themes/midnight.theme\n"};
    for (int e = 0; e < 2; e++) {
        const char *start = strstr(page, examples[e]);
        const char *end = start ? strstr(start, "\n.fi\n") : NULL;
        CHECK_MSG(start && end, "no example '%s'", examples[e]);
        if (!start || !end)
            continue;
        snprintf(text, sizeof text, "%.*s", (int)(end - start), start);
        CHECK_MSG(!strchr(text, '\\'), "roff escapes in the example: %s", text);
        fw_error err = {0};
        if (e == 0) {
            fw_user_config cfg;
            fw_user_config_defaults(&cfg);
            CHECK_MSG(fw_user_config_parse(&cfg, text, "example", &err) == 0, "%s", err.msg);
            CHECK_STR(cfg.theme, "light");
            CHECK_INT(cfg.refresh_ms, 250);
        } else {
            fw_theme t;
            CHECK_MSG(fw_theme_parse(text, "example", "midnight", &t, &err) == 0, "%s", err.msg);
            CHECK_INT(t.role[FW_ROLE_PLOT2].fg.value, 0xebcb8b);
        }
    }
    for (int i = 0; i < N_SHIPPED; i++) { /* as roff writes it: '-' as "\\-" */
        char roff[64], *o = roff;
        for (const char *c = SHIPPED[i]; *c && o < roff + sizeof roff - 3; c++) {
            if (*c == '-')
                *o++ = '\\';
            *o++ = *c;
        }
        *o = '\0';
        CHECK_MSG(contains(page, roff), "no mention of the %s theme", roff);
    }
}

static void cleanup(void)
{
    if (tmpdir_[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmpdir_);
    }
}

int main(void)
{
    RUN(test_shipped_themes_define_every_role);
    RUN(test_role_names);
    RUN(test_builtin_theme);
    RUN(test_value_forms);
    RUN(test_parse_errors_name_file_line);
    RUN(test_fallbacks);
    RUN(test_find_and_list);
    RUN(test_256_mapping_matches_brute_force);
    RUN(test_8_and_16_colour_mapping);
    RUN(test_resolve_defaults_and_depths);
    RUN(test_palette_keeps_roles_apart);
    RUN(test_monochrome_attributes_only);
    RUN(test_shipped_theme_contrast);
    RUN(test_user_config_defaults);
    RUN(test_user_config_values);
    RUN(test_user_config_refusals);
    RUN(test_user_config_xdg);
    RUN(test_man_page_covers_roles_and_keys);
    cleanup();
    return tap_done();
}
