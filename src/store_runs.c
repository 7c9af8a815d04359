/* store_runs.c — runs in the store: create with a generated id, read, list,
 * status transitions with the owner process, dead owners -> interrupted,
 * rename and delete (with the run's files in the workspace). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fileio.h"
#include "sqlite_check.h"
#include "store.h"

static const char *const status_names[] = {"queued",   "running", "paused",
                                           "finished", "failed",  "interrupted"};
#define N_STATUS ((int)(sizeof status_names / sizeof status_names[0]))

const char *fw_run_status_name(fw_run_status st)
{
    return (int)st >= 0 && (int)st < N_STATUS ? status_names[st] : "unknown";
}

int fw_run_status_parse(const char *name, fw_run_status *st)
{
    for (int i = 0; i < N_STATUS; i++)
        if (name && strcmp(name, status_names[i]) == 0) {
            *st = (fw_run_status)i;
            return 0;
        }
    return FW_EINVAL;
}

static void this_host(char *host, size_t cap)
{
    if (gethostname(host, cap) != 0)
        snprintf(host, cap, "unknown");
    host[cap - 1] = '\0';
}

int fw_store_run_create(fw_store *s, const fw_run_spec *spec, char id_out[FW_RUN_ID_CAP],
                        fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if (!spec->name || !*spec->name)
        return fw_fail(err, FW_EINVAL, "a run needs a non-empty name");
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (spec->parent && *spec->parent) {
        rc = SQLITE_CHECK(err, db, sqlite3_prepare_v2(db, "SELECT 1 FROM runs WHERE id = ?", -1,
                                                      &st, NULL));
        if (rc == 0) {
            sqlite3_bind_text(st, 1, spec->parent, -1, SQLITE_STATIC);
            int step = sqlite3_step(st);
            if (step == SQLITE_DONE)
                rc = fw_fail(err, FW_ENOTFOUND, "%s: parent run %s does not exist",
                             fw_store_path(s), spec->parent);
            else if (step != SQLITE_ROW)
                rc = SQLITE_CHECK(err, db, step);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    /* The id is 'r' and the next sequence number, zero-padded to 4 digits.
     * The number comes from sqlite_sequence (AUTOINCREMENT's high-water
     * mark), so the id of a deleted run is never given out again. */
    if (rc == 0)
        rc = SQLITE_CHECK(
            err, db,
            sqlite3_prepare_v2(db,
                               "INSERT INTO runs (id, name, parent, status, created_at, "
                               "updated_at, config, backend, devices) VALUES ("
                               " printf('r%04d', max(coalesce((SELECT seq FROM sqlite_sequence"
                               "  WHERE name = 'runs'), 0), coalesce((SELECT max(seq) FROM runs),"
                               "  0)) + 1),"
                               " ?1, ?2, 'queued', ?3, ?3, ?4, ?5, ?6) RETURNING id",
                               -1, &st, NULL));
    if (rc == 0) {
        double now = fw_store_now();
        sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
        if (spec->parent && *spec->parent)
            sqlite3_bind_text(st, 2, spec->parent, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_double(st, 3, now);
        sqlite3_bind_text(st, 4, spec->config ? spec->config : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, spec->backend ? spec->backend : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, spec->devices ? spec->devices : "", -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            fw_sql_copy_col(st, 0, id_out, FW_RUN_ID_CAP);
        else
            rc = SQLITE_CHECK(err, db, step == SQLITE_DONE ? SQLITE_ERROR : step);
        if (rc == 0) {
            step = sqlite3_step(st); /* run the statement to completion */
            if (step != SQLITE_DONE)
                rc = SQLITE_CHECK(err, db, step);
        }
    }
    sqlite3_finalize(st);
    if (rc == 0)
        return fw_store_commit(s, err);
    fw_store_rollback(s);
    return rc;
}

/* Is the owner (pid on host) certainly gone? Only decidable on this host. */
static int owner_is_dead(int64_t pid, const char *host)
{
    char me[256];
    this_host(me, sizeof me);
    if (pid <= 0 || strcmp(host, me) != 0)
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int fw_store_reap_dead_owners(fw_store *s, int *n_marked, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if (n_marked)
        *n_marked = 0;
    /* First a read (no lock): most of the time there is nothing to mark. */
    enum { MAX_DEAD = 64 };
    char dead_ids[MAX_DEAD][FW_RUN_ID_CAP];
    int64_t dead_pids[MAX_DEAD];
    int n_dead = 0;
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db,
                                             "SELECT id, owner_pid, owner_host FROM runs "
                                             "WHERE status IN ('running','paused')",
                                             -1, &st, NULL));
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = SQLITE_CHECK(err, db, step);
            break;
        }
        const unsigned char *host = sqlite3_column_text(st, 2);
        int64_t pid = sqlite3_column_int64(st, 1);
        if (n_dead < MAX_DEAD && owner_is_dead(pid, host ? (const char *)host : "")) {
            fw_sql_copy_col(st, 0, dead_ids[n_dead], FW_RUN_ID_CAP);
            dead_pids[n_dead++] = pid;
        }
    }
    sqlite3_finalize(st);
    if (rc < 0 || n_dead == 0)
        return rc;
    FW_TRY(fw_store_begin(s, err));
    st = NULL;
    rc = SQLITE_CHECK(err, db,
                      sqlite3_prepare_v2(db,
                                         "UPDATE runs SET status = 'interrupted', ended_at = ?1,"
                                         " updated_at = ?1 WHERE id = ?2 AND owner_pid = ?3"
                                         " AND status IN ('running','paused')",
                                         -1, &st, NULL));
    int marked = 0;
    for (int i = 0; rc == 0 && i < n_dead; i++) {
        sqlite3_reset(st);
        sqlite3_bind_double(st, 1, fw_store_now());
        sqlite3_bind_text(st, 2, dead_ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, dead_pids[i]);
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
        if (rc == 0)
            marked += sqlite3_changes(db);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = fw_store_commit(s, err);
    else
        fw_store_rollback(s);
    if (rc == 0 && n_marked)
        *n_marked = marked;
    return rc;
}

#define RUN_COLUMNS                                                                        \
    "id, coalesce(parent, ''), name, config, backend, devices, owner_host, status, "       \
    "owner_pid, created_at, started_at, updated_at, ended_at"

static int fill_run(sqlite3_stmt *st, void *row, fw_error *err)
{
    fw_run_info *r = row;
    memset(r, 0, sizeof *r);
    fw_sql_copy_col(st, 0, r->id, sizeof r->id);
    fw_sql_copy_col(st, 1, r->parent, sizeof r->parent);
    r->name = fw_sql_dup_col(st, 2);
    r->config = fw_sql_dup_col(st, 3);
    r->backend = fw_sql_dup_col(st, 4);
    r->devices = fw_sql_dup_col(st, 5);
    r->owner_host = fw_sql_dup_col(st, 6);
    const unsigned char *status = sqlite3_column_text(st, 7);
    if (fw_run_status_parse((const char *)status, &r->status) < 0)
        r->status = FW_RUN_FAILED; /* the CHECK constraint makes this unreachable */
    r->owner_pid = sqlite3_column_int64(st, 8);
    r->created_at = sqlite3_column_double(st, 9);
    r->started_at = sqlite3_column_double(st, 10);
    r->updated_at = sqlite3_column_double(st, 11);
    r->ended_at = sqlite3_column_double(st, 12);
    if (!r->name || !r->config || !r->backend || !r->devices || !r->owner_host) {
        fw_run_info_free(r);
        return fw_fail(err, FW_ENOMEM, "out of memory reading run %s", r->id);
    }
    return 0;
}

int fw_store_run_get(fw_store *s, const char *id, fw_run_info *out, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    memset(out, 0, sizeof *out);
    FW_TRY(fw_store_reap_dead_owners(s, NULL, err));
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?",
                                             -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            rc = fill_run(st, out, err);
        else if (step == SQLITE_DONE)
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no run %s", fw_store_path(s), id);
        else
            rc = SQLITE_CHECK(err, db, step);
    }
    sqlite3_finalize(st);
    return rc;
}

int fw_store_run_list(fw_store *s, fw_run_info **runs, int *n, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    *runs = NULL;
    *n = 0;
    FW_TRY(fw_store_reap_dead_owners(s, NULL, err));
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db, "SELECT " RUN_COLUMNS " FROM runs ORDER BY seq",
                                             -1, &st, NULL));
    if (rc < 0)
        return rc;
    fw_run_info *list = NULL;
    int count = 0;
    rc = fw_sql_collect(db, st, sizeof *list, fill_run, (void **)&list, &count, "runs", err);
    if (rc < 0) {
        fw_run_list_free(list, count);
        return rc;
    }
    *runs = list;
    *n = count;
    return 0;
}

void fw_run_info_free(fw_run_info *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->config);
    free(r->backend);
    free(r->devices);
    free(r->owner_host);
    r->name = r->config = r->backend = r->devices = r->owner_host = NULL;
}

void fw_run_list_free(fw_run_info *runs, int n)
{
    for (int i = 0; i < n; i++)
        fw_run_info_free(&runs[i]);
    free(runs);
}

static int transition_allowed(fw_run_status from, fw_run_status to)
{
    switch (from) {
    case FW_RUN_QUEUED:
        return to == FW_RUN_RUNNING || to == FW_RUN_FAILED || to == FW_RUN_INTERRUPTED;
    case FW_RUN_RUNNING:
        return to == FW_RUN_PAUSED || to == FW_RUN_FINISHED || to == FW_RUN_FAILED ||
               to == FW_RUN_INTERRUPTED;
    case FW_RUN_PAUSED:
        return to == FW_RUN_RUNNING || to == FW_RUN_FINISHED || to == FW_RUN_FAILED ||
               to == FW_RUN_INTERRUPTED;
    case FW_RUN_INTERRUPTED:
        return to == FW_RUN_RUNNING;
    case FW_RUN_FINISHED:
    case FW_RUN_FAILED:
        return 0;
    }
    return 0;
}

int fw_store_run_set_status(fw_store *s, const char *id, fw_run_status to, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if ((int)to < 0 || (int)to >= N_STATUS)
        return fw_fail(err, FW_EINVAL, "run %s: invalid status %d", id, (int)to);
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE id = ?", -1, &st,
                                             NULL));
    fw_run_status from = FW_RUN_QUEUED;
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            fw_run_status_parse((const char *)sqlite3_column_text(st, 0), &from);
        else if (step == SQLITE_DONE)
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no run %s", fw_store_path(s), id);
        else
            rc = SQLITE_CHECK(err, db, step);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0 && !transition_allowed(from, to))
        rc = fw_fail(err, FW_EINVAL, "run %s: cannot go from %s to %s", id,
                     fw_run_status_name(from), fw_run_status_name(to));
    if (rc == 0) {
        const char *sql;
        if (to == FW_RUN_RUNNING)
            sql = "UPDATE runs SET status = ?2, updated_at = ?3, owner_pid = ?4, owner_host = ?5,"
                  " started_at = CASE WHEN started_at = 0 THEN ?3 ELSE started_at END,"
                  " ended_at = 0 WHERE id = ?1";
        else if (to == FW_RUN_FINISHED || to == FW_RUN_FAILED || to == FW_RUN_INTERRUPTED)
            sql = "UPDATE runs SET status = ?2, updated_at = ?3, ended_at = ?3 WHERE id = ?1";
        else
            sql = "UPDATE runs SET status = ?2, updated_at = ?3 WHERE id = ?1";
        rc = SQLITE_CHECK(err, db, sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    }
    if (rc == 0) {
        char host[256];
        this_host(host, sizeof host);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, fw_run_status_name(to), -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, fw_store_now());
        if (to == FW_RUN_RUNNING) {
            sqlite3_bind_int64(st, 4, (int64_t)getpid());
            sqlite3_bind_text(st, 5, host, -1, SQLITE_TRANSIENT);
        }
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
    }
    sqlite3_finalize(st);
    if (rc == 0)
        return fw_store_commit(s, err);
    fw_store_rollback(s);
    return rc;
}

int fw_store_run_rename(fw_store *s, const char *id, const char *name, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    if (!name || !*name)
        return fw_fail(err, FW_EINVAL, "run %s: a run needs a non-empty name", id);
    FW_TRY(fw_store_begin(s, err));
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db, "UPDATE runs SET name = ?2 WHERE id = ?1", -1,
                                             &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        rc = SQLITE_CHECK(err, db, sqlite3_step(st));
        if (rc == 0 && sqlite3_changes(db) == 0)
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no run %s", fw_store_path(s), id);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        return fw_store_commit(s, err);
    fw_store_rollback(s);
    return rc;
}

/* The statements that remove a run, children first. The schema's foreign
 * keys cascade too, but deleting explicitly does not depend on the
 * connection's foreign_keys setting. */
static const char *const delete_sql[] = {
    "DELETE FROM eval_queries WHERE eval_id IN (SELECT id FROM evaluations WHERE run_id = ?1)",
    "DELETE FROM evaluations WHERE run_id = ?1",
    "DELETE FROM lr_points WHERE curve_id IN (SELECT id FROM lr_curves WHERE run_id = ?1)",
    "DELETE FROM lr_curves WHERE run_id = ?1",
    "DELETE FROM metrics WHERE run_id = ?1",
    "DELETE FROM events WHERE run_id = ?1",
    "DELETE FROM control_requests WHERE run_id = ?1",
    "UPDATE runs SET parent = NULL WHERE parent = ?1",
    "DELETE FROM runs WHERE id = ?1",
};

int fw_store_run_delete(fw_store *s, const char *id, fw_error *err)
{
    sqlite3 *db = fw_store_db(s);
    FW_TRY(fw_store_begin(s, err));
    /* The status is read inside the write transaction, so a run cannot
     * start between the check and the delete. */
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_CHECK(err, db,
                          sqlite3_prepare_v2(db, "SELECT status FROM runs WHERE id = ?", -1, &st,
                                             NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        fw_run_status status = FW_RUN_QUEUED;
        if (step == SQLITE_ROW) {
            fw_run_status_parse((const char *)sqlite3_column_text(st, 0), &status);
            if (status == FW_RUN_RUNNING || status == FW_RUN_PAUSED)
                rc = fw_fail(err, FW_EINVAL, "run %s is %s: stop it before deleting it", id,
                             fw_run_status_name(status));
        } else if (step == SQLITE_DONE) {
            rc = fw_fail(err, FW_ENOTFOUND, "%s: no run %s", fw_store_path(s), id);
        } else {
            rc = SQLITE_CHECK(err, db, step);
        }
    }
    sqlite3_finalize(st);
    for (size_t i = 0; rc == 0 && i < sizeof delete_sql / sizeof delete_sql[0]; i++) {
        st = NULL;
        rc = SQLITE_CHECK(err, db, sqlite3_prepare_v2(db, delete_sql[i], -1, &st, NULL));
        if (rc == 0) {
            sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
            rc = SQLITE_CHECK(err, db, sqlite3_step(st));
        }
        sqlite3_finalize(st);
    }
    if (rc == 0)
        return fw_store_commit(s, err);
    fw_store_rollback(s);
    return rc;
}

/* Remove the entries of the open directory dir_fd, recursively (never
 * following links), then close it. path names it in messages. */
static int remove_tree_at(int dir_fd, const char *path, int depth, fw_error *err)
{
    if (depth > 32) {
        close(dir_fd);
        return fw_fail(err, FW_EINVAL, "%s: directories nested too deep to remove", path);
    }
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        int e = errno;
        close(dir_fd);
        return fw_fail(err, FW_EIO, "%s: %s", path, strerror(e));
    }
    int rc = 0;
    struct dirent *ent;
    while (rc == 0) {
        errno = 0;
        ent = readdir(d);
        if (!ent) {
            if (errno != 0)
                rc = fw_fail(err, FW_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, ent->d_name);
        struct stat sb;
        if (fstatat(dir_fd, ent->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rc = fw_fail(err, FW_EIO, "%s: %s", sub, strerror(errno));
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            int fd = openat(dir_fd, ent->d_name,
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
                rc = fw_fail(err, FW_EIO, "%s: %s", sub, strerror(errno));
                break;
            }
            rc = remove_tree_at(fd, sub, depth + 1, err);
            if (rc == 0 && unlinkat(dir_fd, ent->d_name, AT_REMOVEDIR) != 0 &&
                errno != ENOENT)
                rc = fw_fail(err, FW_EIO, "%s: %s", sub, strerror(errno));
        } else if (unlinkat(dir_fd, ent->d_name, 0) != 0 && errno != ENOENT) {
            rc = fw_fail(err, FW_EIO, "%s: %s", sub, strerror(errno));
        }
    }
    closedir(d);
    return rc;
}

int fw_store_run_remove_files(const char *workspace, const char *id, fw_error *err)
{
    size_t n = strlen(id);
    int id_ok = n >= 2 && n < FW_RUN_ID_CAP && id[0] == 'r';
    for (size_t i = 1; id_ok && i < n; i++)
        id_ok = id[i] >= '0' && id[i] <= '9';
    if (!id_ok)
        return fw_fail(err, FW_EINVAL, "'%s' is not a run id", id);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/runs/%s", workspace, id) >= sizeof path)
        return fw_fail(err, FW_EINVAL, "%s/runs/%s: path too long", workspace, id);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return fw_fail(err, FW_EIO, "%s: %s", path, strerror(errno));
    }
    FW_TRY(remove_tree_at(fd, path, 0, err));
    if (rmdir(path) != 0 && errno != ENOENT)
        return fw_fail(err, FW_EIO, "%s: %s", path, strerror(errno));
    return fw_fsync_parent_dir(path, err);
}
