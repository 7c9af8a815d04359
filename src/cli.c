/* cli.c — help printing, error reporting and number parsing for subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h"

void fw_cli_print_help(const fw_command *cmd, FILE *out)
{
    fprintf(out, "usage: flukewatch %s %s\n\n%s\n\n%s", cmd->name, cmd->synopsis, cmd->summary,
            cmd->help);
}

int fw_cli_usage_error(const fw_command *cmd, const char *fmt, ...)
{
    char raw[512], clean[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    fprintf(stderr, "flukewatch %s: %s\nTry 'flukewatch %s --help'.\n", cmd->name,
            fw_sanitize(raw, clean, sizeof clean), cmd->name);
    return FW_EXIT_USAGE;
}

int fw_cli_report(const fw_command *cmd, const fw_error *err)
{
    char clean[sizeof err->msg];
    fprintf(stderr, "flukewatch %s: error: %s\n", cmd->name,
            fw_sanitize(err->msg[0] ? err->msg : fw_error_name(err->code), clean, sizeof clean));
    return FW_EXIT_FAIL;
}

int fw_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return FW_EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return FW_EINVAL;
    *out = v;
    return FW_OK;
}

int fw_parse_u64(const char *s, unsigned long long *out)
{
    if (!s || *s < '0' || *s > '9') /* no sign, no leading space */
        return FW_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return FW_EINVAL;
    *out = v;
    return FW_OK;
}

int fw_parse_float(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return FW_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return FW_EINVAL;
    *out = v;
    return FW_OK;
}

int fw_parse_size(const char *s, int *w, int *h)
{
    if (!s)
        return FW_EINVAL;
    const char *x = strchr(s, 'x');
    if (!x || x == s)
        return FW_EINVAL;
    char wbuf[32];
    size_t n = (size_t)(x - s);
    if (n >= sizeof wbuf)
        return FW_EINVAL;
    memcpy(wbuf, s, n);
    wbuf[n] = '\0';
    long lw, lh;
    if (fw_parse_long(wbuf, 8, 16384, &lw) || fw_parse_long(x + 1, 8, 16384, &lh))
        return FW_EINVAL;
    *w = (int)lw;
    *h = (int)lh;
    return FW_OK;
}

int fw_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    }
    return 0;
}

const char *fw_cli_option_value(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}
