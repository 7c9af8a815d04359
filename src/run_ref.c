/* run_ref.c — resolve a RUN argument (id, number or unique name) to a run id;
 * see run_ref.h. */
#include "run_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "3", "0003", "r3", "r0003" -> 3; 0 when text is not of that shape. */
static long long parse_run_number(const char *text)
{
    const char *p = text;
    if (*p == 'r' || *p == 'R')
        p++;
    if (*p < '0' || *p > '9' || strlen(p) > 12)
        return 0;
    long long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int fw_run_ref_resolve_in(const fw_run_info *runs, int n, const char *text,
                          char id_out[FW_RUN_ID_CAP], fw_error *err)
{
    if (!text || !*text)
        return fw_fail(err, FW_EINVAL, "an empty run reference");
    /* 1. The id exactly as stored. */
    for (int i = 0; i < n; i++) {
        if (!strcmp(runs[i].id, text)) {
            memcpy(id_out, runs[i].id, FW_RUN_ID_CAP);
            return 0;
        }
    }
    /* 2. A number, with or without the 'r' and the zeros. */
    long long number = parse_run_number(text);
    if (number > 0) {
        char id[FW_RUN_ID_CAP + 8];
        snprintf(id, sizeof id, "r%04lld", number);
        for (int i = 0; i < n; i++) {
            if (!strcmp(runs[i].id, id)) {
                memcpy(id_out, runs[i].id, FW_RUN_ID_CAP);
                return 0;
            }
        }
    }
    /* 3. A unique name. */
    int matches = 0, first = -1;
    for (int i = 0; i < n; i++) {
        if (runs[i].name && !strcmp(runs[i].name, text)) {
            if (matches++ == 0)
                first = i;
        }
    }
    if (matches == 1) {
        memcpy(id_out, runs[first].id, FW_RUN_ID_CAP);
        return 0;
    }
    if (matches > 1) {
        char ids[256] = "";
        size_t used = 0;
        int listed = 0;
        for (int i = 0; i < n && used + FW_RUN_ID_CAP + 8 < sizeof ids; i++) {
            if (runs[i].name && !strcmp(runs[i].name, text)) {
                used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%s",
                                         listed ? ", " : "", runs[i].id);
                listed++;
            }
        }
        if (listed < matches)
            snprintf(ids + used, sizeof ids - used, ", ...");
        return fw_fail(err, FW_EINVAL,
                       "run name '%s' is ambiguous: %d runs have it (%s); give an id instead",
                       text, matches, ids);
    }
    return fw_fail(err, FW_ENOTFOUND,
                   "no run '%s' (give an id such as r0003, its number, or a unique run name; "
                   "'flukewatch runs --all' lists them)",
                   text);
}

int fw_run_ref_resolve(fw_store *s, const char *text, char id_out[FW_RUN_ID_CAP],
                       fw_error *err)
{
    fw_run_info *runs = NULL;
    int n = 0;
    FW_TRY(fw_store_run_list(s, &runs, &n, err));
    int rc = fw_run_ref_resolve_in(runs, n, text, id_out, err);
    fw_run_list_free(runs, n);
    return rc;
}

int fw_run_store_open_existing(fw_store **out, char *ws, size_t ws_cap, fw_error *err)
{
    *out = NULL;
    char dir[4096], db[4200];
    FW_TRY(fw_store_resolve_workspace(NULL, dir, sizeof dir, err));
    if (ws && ws_cap > 0)
        snprintf(ws, ws_cap, "%s", dir);
    snprintf(db, sizeof db, "%s/%s", dir, FW_STORE_DB_NAME);
    if (access(db, F_OK) != 0)
        return fw_fail(err, FW_ENOTFOUND, "%s: no run store here (no runs yet)", dir);
    return fw_store_open(dir, out, err);
}

int fw_run_ref_open(const char *text, fw_store **out, char id_out[FW_RUN_ID_CAP], fw_error *err)
{
    FW_TRY(fw_run_store_open_existing(out, NULL, 0, err));
    int rc = fw_run_ref_resolve(*out, text, id_out, err);
    if (rc != FW_OK) {
        fw_store_close(*out);
        *out = NULL;
    }
    return rc;
}
