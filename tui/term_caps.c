/* term_caps.c — terminal capability probes: DA1 (sixel), colour depth,
 * UTF-8 locale (see term_caps.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

#include "term_caps.h"

/* Find the DA1 answer in reply: the parameters between "ESC [ ?" and the
 * final 'c'. Returns a pointer to the first parameter byte and sets *n, or
 * NULL when there is no complete well-formed answer. */
static const char *da1_params(const char *reply, size_t len, size_t *n)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (reply[i] != '\033' || reply[i + 1] != '[' || reply[i + 2] != '?')
            continue;
        size_t j = i + 3;
        while (j < len && ((reply[j] >= '0' && reply[j] <= '9') || reply[j] == ';'))
            j++;
        if (j < len && reply[j] == 'c' && j > i + 3) {
            *n = j - (i + 3);
            return reply + i + 3;
        }
        /* not an answer here (garbage or incomplete): keep looking */
    }
    return NULL;
}

int fw_da1_reply_complete(const char *reply, size_t len)
{
    size_t n;
    return da1_params(reply, len, &n) != NULL;
}

int fw_da1_reply_has_sixel(const char *reply, size_t len)
{
    size_t n;
    const char *p = da1_params(reply, len, &n);
    if (!p)
        return 0;
    size_t i = 0;
    while (i < n) {
        long v = 0;
        size_t start = i;
        while (i < n && p[i] != ';') {
            if (v < 100000)
                v = v * 10 + (p[i] - '0');
            i++;
        }
        if (i > start && v == 4)
            return 1;
        i++; /* skip ';' */
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int fw_term_probe_sixel(int timeout_ms, fw_error *err)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* no controlling terminal: nothing to ask */
    /* a background job that touched the tty's settings would be stopped
     * (SIGTTOU): only the foreground process group asks */
    struct termios saved, raw;
    if (tcgetpgrp(fd) != getpgrp() || tcgetattr(fd, &saved) != 0) {
        close(fd);
        return 0;
    }
    raw = saved;
    cfmakeraw(&raw);
    raw.c_oflag = saved.c_oflag; /* output processing as before */
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &raw) != 0) {
        close(fd);
        return 0;
    }
    char reply[256];
    size_t len = 0;
    static const char query[] = "\033[c";
    ssize_t wrote;
    do
        wrote = write(fd, query, sizeof query - 1);
    while (wrote < 0 && errno == EINTR);
    if (wrote == (ssize_t)(sizeof query - 1)) {
        double deadline = now_ms() + timeout_ms;
        while (len < sizeof reply && !fw_da1_reply_complete(reply, len)) {
            double left = deadline - now_ms();
            if (left <= 0)
                break;
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ready = poll(&pfd, 1, (int)left + 1);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0)
                break;
            ssize_t got = read(fd, reply + len, sizeof reply - len);
            if (got < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got <= 0)
                break;
            len += (size_t)got;
        }
    }
    int has = fw_da1_reply_has_sixel(reply, len);
    int rc = has;
    if (tcsetattr(fd, TCSANOW, &saved) != 0)
        rc = fw_fail(err, FW_EIO, "/dev/tty: cannot restore the terminal settings: %s",
                     strerror(errno));
    close(fd);
    return rc;
}

fw_color_depth fw_color_depth_from(const char *term, const char *colorterm,
                                   int terminfo_colors)
{
    if (colorterm && (!strcasecmp(colorterm, "truecolor") || !strcasecmp(colorterm, "24bit")))
        return FW_COLORS_TRUE;
    if (!term || !*term || !strcmp(term, "dumb"))
        return FW_COLORS_NONE;
    size_t n = strlen(term);
    static const char suffix[] = "-256color";
    if (n >= sizeof suffix - 1 && !strcmp(term + n - (sizeof suffix - 1), suffix))
        return FW_COLORS_256;
    if (terminfo_colors >= 256)
        return FW_COLORS_256;
    if (terminfo_colors >= 16)
        return FW_COLORS_16;
    if (terminfo_colors >= 8)
        return FW_COLORS_8;
    if (terminfo_colors >= 0 && terminfo_colors < 8)
        return FW_COLORS_NONE;
    return FW_COLORS_8;
}

fw_color_depth fw_term_color_depth(void)
{
    const char *term = getenv("TERM");
    int colors = -1;
    if (term && *term) {
        int status = 0;
        /* read the entry only; fd -1 keeps ncurses from looking at a tty */
        if (setupterm(term, -1, &status) == OK) {
            colors = tigetnum("colors");
            if (colors < -1)
                colors = -1; /* -2: not a numeric capability */
            del_curterm(cur_term);
        }
    }
    return fw_color_depth_from(term, getenv("COLORTERM"), colors);
}

int fw_locale_is_utf8(void)
{
    const char *codeset = nl_langinfo(CODESET);
    return codeset && (!strcasecmp(codeset, "UTF-8") || !strcasecmp(codeset, "utf8"));
}
