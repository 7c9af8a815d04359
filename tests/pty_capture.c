/* pty_capture.c — run a command on a pseudo-terminal of a given size (with
 * pixel dimensions, as a graphics terminal reports them), type a script of
 * keys into it, answer nothing, and save every byte it writes.
 *
 * usage: pty_capture -o OUT [-s ROWSxCOLS|tty] [-p WIDTHxHEIGHT] [-t] [-k SCRIPT] -- CMD [ARG...]
 *
 * -s tty takes the size (and pixels) of the terminal on stdout; -t copies
 * everything the program writes to stdout as well, so that a real terminal
 * (xterm under Xvfb) shows it while the script types (what that terminal
 * answers or types is ignored).
 *
 * SCRIPT is a space-separated list of steps:
 *   key:TEXT        type TEXT (\e = Esc, \r, \n, \\ and \s = space are understood)
 *   settle:MS       read until the program has been quiet for MS milliseconds
 *   sleep:MS        read for MS milliseconds
 *   until:TEXT      read until TEXT appears in what was written since the last mark
 *   count:N:TEXT    read until TEXT has appeared N times since the last mark
 *   mark            append the number of bytes captured so far to OUT.marks
 *   resize:RxC      change the window to R rows x C columns (pixels scaled to
 *                   keep the cell size); the program gets SIGWINCH
 *   sh:COMMAND      run a short shell command (escapes as in key:), e.g. a
 *                   screenshot; $PTY_CAPTURE_PID is the program's process id
 *                   (nothing is read meanwhile: use sleep:, not sh:sleep)
 * Waits give up after 20 s (exit 3). After the script, the program has 10 s
 * to exit; the exit status is the program's, 124 when it had to be killed.
 */
#define _GNU_SOURCE
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define WAIT_LIMIT_MS 20000
#define EXIT_LIMIT_MS 10000

typedef struct capture {
    int master;
    FILE *out;
    char *data; /* everything read, for until: */
    size_t len, cap;
    size_t mark; /* offset of the last mark */
    const char *marks_path;
    struct winsize ws;
    int eof;
    int tee; /* copy the output to stdout */
} capture;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Read what is there within timeout_ms; returns bytes read, 0 on timeout. */
static long pump(capture *c, int timeout_ms)
{
    if (c->eof) {
        if (timeout_ms > 0)
            usleep((useconds_t)timeout_ms * 1000);
        return 0;
    }
    struct pollfd p = {.fd = c->master, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0)
        return 0;
    char buf[65536];
    ssize_t n = read(c->master, buf, sizeof buf);
    if (n <= 0) { /* EIO: the program closed the terminal */
        c->eof = 1;
        return 0;
    }
    if (c->len + (size_t)n + 1 > c->cap) {
        size_t cap = (c->cap ? c->cap * 2 : 1 << 20);
        while (cap < c->len + (size_t)n + 1)
            cap *= 2;
        char *d = realloc(c->data, cap);
        if (!d) {
            fprintf(stderr, "pty_capture: out of memory\n");
            exit(3);
        }
        c->data = d;
        c->cap = cap;
    }
    memcpy(c->data + c->len, buf, (size_t)n);
    c->len += (size_t)n;
    c->data[c->len] = '\0';
    if (fwrite(buf, 1, (size_t)n, c->out) != (size_t)n) {
        fprintf(stderr, "pty_capture: cannot write the capture\n");
        exit(3);
    }
    for (ssize_t done = 0, w; c->tee && done < n; done += w)
        if ((w = write(STDOUT_FILENO, buf + done, (size_t)(n - done))) <= 0)
            c->tee = 0; /* the terminal went away: keep capturing */
    return n;
}

static size_t count_since_mark(const capture *c, const char *text)
{
    size_t n = 0, tl = strlen(text);
    if (!tl)
        return 0;
    for (const char *p = c->data ? c->data + c->mark : NULL; p && (size_t)(p - c->data) + tl <= c->len;) {
        p = memmem(p, c->len - (size_t)(p - c->data), text, tl);
        if (!p)
            break;
        n++;
        p += tl;
    }
    return n;
}

/* \e \r \n \\ \s escapes. */
static size_t unescape(const char *in, char *out)
{
    size_t n = 0;
    for (; *in; in++) {
        if (*in == '\\' && in[1]) {
            in++;
            out[n++] = *in == 'e' ? '\033' : *in == 'r' ? '\r' : *in == 'n' ? '\n' :
                       *in == 's' ? ' ' : *in;
        } else {
            out[n++] = *in;
        }
    }
    out[n] = '\0';
    return n;
}

static void fail(const char *step, const char *why)
{
    fprintf(stderr, "pty_capture: %s: %s\n", step, why);
    exit(3);
}

static void run_step(capture *c, const char *step)
{
    char text[1024];
    if (!strncmp(step, "key:", 4)) {
        size_t n = unescape(step + 4, text);
        if (write(c->master, text, n) != (ssize_t)n)
            fail(step, strerror(errno));
    } else if (!strncmp(step, "settle:", 7)) {
        int quiet = atoi(step + 7);
        double start = now_ms();
        while (pump(c, quiet) > 0)
            if (now_ms() - start > WAIT_LIMIT_MS)
                fail(step, "the program never went quiet");
    } else if (!strncmp(step, "sleep:", 6)) {
        double end = now_ms() + atoi(step + 6);
        for (double left; (left = end - now_ms()) > 0;)
            pump(c, left < 100 ? (int)left + 1 : 100);
    } else if (!strncmp(step, "until:", 6) || !strncmp(step, "count:", 6)) {
        size_t want = 1;
        const char *t = step + 6;
        if (step[0] == 'c') {
            want = (size_t)strtoul(t, (char **)&t, 10);
            if (*t++ != ':')
                fail(step, "count:N:TEXT");
        }
        unescape(t, text);
        double start = now_ms();
        while (count_since_mark(c, text) < want) {
            if (now_ms() - start > WAIT_LIMIT_MS || c->eof)
                fail(step, c->eof ? "the program closed the terminal" : "timed out");
            pump(c, 100);
        }
    } else if (!strncmp(step, "sh:", 3)) {
        unescape(step + 3, text);
        if (system(text) != 0)
            fail(step, "the command failed");
    } else if (!strcmp(step, "mark")) {
        char path[4096];
        snprintf(path, sizeof path, "%s", c->marks_path);
        FILE *m = fopen(path, "a");
        if (!m || fprintf(m, "%zu\n", c->len) < 0 || fclose(m) != 0)
            fail(step, "cannot write the marks file");
        c->mark = c->len;
    } else if (!strncmp(step, "resize:", 7)) {
        int rows = 0, cols = 0;
        if (sscanf(step + 7, "%dx%d", &rows, &cols) != 2 || rows < 1 || cols < 1)
            fail(step, "resize:ROWSxCOLS");
        struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
        if (c->ws.ws_col && c->ws.ws_row) {
            ws.ws_xpixel = (unsigned short)(c->ws.ws_xpixel / c->ws.ws_col * cols);
            ws.ws_ypixel = (unsigned short)(c->ws.ws_ypixel / c->ws.ws_row * rows);
        }
        if (ioctl(c->master, TIOCSWINSZ, &ws) != 0)
            fail(step, strerror(errno));
        c->ws = ws;
    } else {
        fail(step, "unknown step");
    }
}

int main(int argc, char **argv)
{
    const char *out_path = NULL, *script = "";
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    int tee = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-t")) {
            tee = 1;
            continue;
        }
        if (i + 1 >= argc)
            break;
        if (!strcmp(argv[i], "-o")) {
            out_path = argv[++i];
        } else if (!strcmp(argv[i], "-k")) {
            script = argv[++i];
        } else if (!strcmp(argv[i], "-s") && !strcmp(argv[i + 1], "tty")) {
            i++;
            if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
                fail("-s tty", strerror(errno));
        } else if (!strcmp(argv[i], "-s")) {
            int r, c;
            if (sscanf(argv[++i], "%dx%d", &r, &c) != 2)
                fail("-s", "ROWSxCOLS");
            ws.ws_row = (unsigned short)r;
            ws.ws_col = (unsigned short)c;
        } else if (!strcmp(argv[i], "-p")) {
            int w, h;
            if (sscanf(argv[++i], "%dx%d", &w, &h) != 2)
                fail("-p", "WIDTHxHEIGHT");
            ws.ws_xpixel = (unsigned short)w;
            ws.ws_ypixel = (unsigned short)h;
        } else {
            break;
        }
    }
    if (!out_path || i >= argc) {
        fprintf(stderr,
                "usage: pty_capture -o OUT [-s ROWSxCOLS|tty] [-p WxH] [-t] [-k SCRIPT] -- CMD...\n");
        return 2;
    }
    char marks[4096];
    snprintf(marks, sizeof marks, "%s.marks", out_path);
    unlink(marks);
    capture c = {.marks_path = marks, .ws = ws, .tee = tee};
    c.out = fopen(out_path, "wb");
    if (!c.out)
        fail(out_path, strerror(errno));

    /* a real terminal on stdout passes the program's bytes through unchanged */
    struct termios saved, raw;
    int restore = tee && tcgetattr(STDOUT_FILENO, &saved) == 0;
    if (restore) {
        raw = saved;
        cfmakeraw(&raw);
        tcsetattr(STDOUT_FILENO, TCSANOW, &raw);
    }
    pid_t pid = forkpty(&c.master, NULL, NULL, &ws);
    if (pid < 0)
        fail("forkpty", strerror(errno));
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "pty_capture: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }

    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%ld", (long)pid);
    setenv("PTY_CAPTURE_PID", pid_text, 1);
    char *steps = strdup(script);
    for (char *save = NULL, *s = strtok_r(steps, " ", &save); s; s = strtok_r(NULL, " ", &save))
        run_step(&c, s);
    free(steps);

    int status = 0;
    double start = now_ms();
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (now_ms() - start > EXIT_LIMIT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            status = -1;
            break;
        }
        pump(&c, 50);
    }
    while (pump(&c, 0) > 0) /* what is left in the pty */
        ;
    if (restore)
        tcsetattr(STDOUT_FILENO, TCSANOW, &saved);
    if (fclose(c.out) != 0)
        fail(out_path, "cannot close the capture");
    free(c.data);
    close(c.master);
    if (status == -1)
        return 124;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
