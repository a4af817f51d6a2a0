/* db: the driver-independent half of the store's driver layer — choosing a
 * driver from the target, masking passwords for logs, running statements
 * through the driver, nested transactions and the store's health flag.
 * The driver owns the connection and its statements (db_sqlite.c,
 * db_pg.c); this file owns db->depth, db->txn_failed and db->healthy. */
#include "db_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "store.h"
#include "util.h"

bool db_is_pg_target(const char *target)
{
    return target && (str_starts(target, "postgres://") || str_starts(target, "postgresql://"));
}

/* Appends s[0..len) to out at *o, never past n - 1. */
static void put(char *out, size_t n, size_t *o, const char *s, size_t len)
{
    while (len-- && *o + 1 < n)
        out[(*o)++] = *s++;
}

void db_target_show(const char *target, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = '\0';
    if (!target)
        return;
    size_t o = 0;
    if (!db_is_pg_target(target)) {
        put(out, n, &o, target, strlen(target));
        out[o] = '\0';
        return;
    }
    /* scheme://[user[:password]@]host...: the userinfo ends at the last '@'
     * before the path ('@' inside a password must be percent-encoded, but be
     * generous and take the last one). */
    const char *p = strstr(target, "://") + 3;
    put(out, n, &o, target, (size_t)(p - target));
    const char *path = p + strcspn(p, "/?");
    const char *at = NULL;
    for (const char *q = p; q < path; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            put(out, n, &o, p, (size_t)(colon - p));
            put(out, n, &o, ":***", 4);
            p = at;
        }
    }
    /* The rest, with the value of any password= query parameter masked. */
    while (*p) {
        size_t seg = strcspn(p, "?&");
        bool is_pw = (p[-1] == '?' || p[-1] == '&') && strncmp(p, "password=", 9) == 0;
        if (is_pw) {
            put(out, n, &o, "password=***", 12);
        } else {
            put(out, n, &o, p, seg);
        }
        p += seg;
        if (*p)
            put(out, n, &o, p++, 1);
    }
    out[o] = '\0';
}

int db_open(struct db **out, const char *target, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!target || !*target) {
        if (err && errlen)
            snprintf(err, errlen, "%s: empty database path", target ? target : "(null)");
        return STORE_EINVAL;
    }
    char buf[512];
    db_target_show(target, buf, sizeof(buf));
    char *shown = xstrdup(buf);
    const struct db_ops *ops = db_is_pg_target(target) ? &db_pg_ops : &db_sqlite_ops;
    struct db *db = NULL;
    int ret = ops->open(&db, target, shown, err, errlen);
    if (ret < 0) {
        free(shown);
        return ret;
    }
    db->ops = ops;
    db->shown = shown;
    db->healthy = true;
    db->row.ops = ops;
    /* Test knob (docs/configuration.md, "For drills and tests only"): a slow fsync or a far database. */
    const char *delay = getenv("SIRT_TEST_STORE_DELAY_MS");
    if (delay && *delay && atol(delay) > 0)
        db->delay_ms = atol(delay);
    health_set_store_ok(true, NULL);
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    if (db->depth > 0) {
        LOG_WARN("store: closed inside a transaction, rolling back", "depth:d", db->depth);
        db->ops->abort(db);
        db->depth = 0;
    }
    char *shown = db->shown;
    bool *ro = db->readonly;
    db->ops->close(db);
    free(shown);
    free(ro);
}

enum db_dialect db_dialect(const struct db *db)
{
    return db->ops->dialect;
}

int db_migrate(struct db *db, const char *const *steps, int n, char *err, size_t errlen)
{
    return db->ops->migrate(db, steps, n, err, errlen);
}

/* A statement that starts with SELECT only reads (the figures of
 * db_stats_get count reads and writes apart). */
static bool is_select(const char *sql)
{
    while (sql && (*sql == ' ' || *sql == '\n' || *sql == '\t' || *sql == '('))
        sql++;
    return sql && strncasecmp(sql, "SELECT", 6) == 0;
}

int db_prepare(struct db *db, const char *const *sql, int n, char *err, size_t errlen)
{
    free(db->readonly);
    db->readonly = xcalloc((size_t)(n > 0 ? n : 1), sizeof(bool));
    db->n_stmts = n;
    for (int i = 0; i < n; i++)
        db->readonly[i] = is_select(sql[i]);
    return db->ops->prepare(db, sql, n, err, errlen);
}

void db_bind_thread(struct db *db, bool bind)
{
    db->bound = bind;
    db->owner = pthread_self();
}

void db_stats_get(const struct db *db, uint64_t *reads, uint64_t *writes, uint64_t *commits)
{
    *reads = db->reads;
    *writes = db->writes;
    *commits = db->commits;
}

void db__io_failed(struct db *db, const char *why)
{
    if (db->depth > 0)
        db->txn_failed = true;
    if (why && db->healthy) {
        db->healthy = false;
        health_set_store_ok(false, why);
    }
}

void db__works(struct db *db)
{
    if (!db->healthy) {
        db->healthy = true;
        health_set_store_ok(true, NULL);
        LOG_INFO("store: the database works again", "db:s", db->shown);
    }
}

int db_query(struct db *db, int id, const char *what, const struct db_arg *args, int n)
{
    /* One owner per thread: once bound, the store thread alone may use it. */
    assert(!db->bound || pthread_equal(db->owner, pthread_self()));
    if (id >= 0 && id < db->n_stmts && db->readonly[id])
        db->reads++;
    else
        db->writes++;
    return db->ops->start(db, id, what, args, n);
}

int db_next(struct db *db, const struct db_row **row)
{
    return db->ops->next(db, row);
}

void db_end(struct db *db)
{
    db->ops->end(db);
}

int64_t db_exec(struct db *db, int id, const char *what, const struct db_arg *args, int n)
{
    int ret = db_query(db, id, what, args, n);
    if (ret < 0)
        return ret;
    const struct db_row *row;
    while ((ret = db->ops->next(db, &row)) > 0)
        ;
    if (ret < 0)
        return ret;
    /* A write that worked outside a transaction is proof of a working store
     * (reads are not: a full disk still reads). */
    if (db->depth == 0)
        db__works(db);
    return db->changes;
}

int db_scrub(struct db *db)
{
    if (db->depth != 0)
        return STORE_EINVAL;
    return db->ops->scrub ? db->ops->scrub(db) : 0;
}

int64_t db_changes(const struct db *db)
{
    return db->changes;
}

int64_t db_col_int(const struct db_row *r, int i)
{
    return r->ops->col_int(r, i);
}

bool db_col_null(const struct db_row *r, int i)
{
    return r->ops->col_null(r, i);
}

char *db_col_str(const struct db_row *r, int i)
{
    const char *t = r->ops->col_text(r, i);
    return t ? xstrdup(t) : NULL;
}

/* ---- transactions ---- */

int db_begin(struct db *db)
{
    int ret = db->ops->begin(db, db->depth);
    if (ret == 0) {
        if (db->depth == 0)
            db->txn_failed = db->relaxed = false;
        db->depth++;
    }
    return ret;
}

bool db_txn_failed(const struct db *db)
{
    return db && db->depth > 0 && db->txn_failed;
}

int db_depth(const struct db *db)
{
    return db->depth;
}

void db_relax_commit(struct db *db)
{
    if (db->depth > 0)
        db->relaxed = true;
}

/* True (after logging) when the transaction is gone on its own: SQLite rolls
 * it back on some I/O, full-disk and out-of-memory errors; a PostgreSQL
 * connection that dropped took it with it. */
static bool txn_lost(struct db *db)
{
    if (db->ops->in_txn(db))
        return false;
    LOG_ERROR("store: the transaction was lost (rolled back by the database)", "depth:d", db->depth);
    db->depth = 0;
    return true;
}

int db_commit(struct db *db)
{
    if (db->depth == 0) {
        LOG_WARN("store: commit without a transaction", NULL);
        return STORE_EINVAL;
    }
    if (txn_lost(db))
        return STORE_EIO;
    if (db->depth == 1 && db->txn_failed) {
        /* A write failed (its caller may not have looked): committing the
         * rest would keep half a plan.  Undo all of it instead. */
        LOG_ERROR("store: a write of this transaction failed: rolled back, not committed", NULL);
        db_rollback(db);
        return STORE_EIO;
    }
    if (db->depth == 1 && db->delay_ms) {
        /* The test knob: a slow disk or a far database, once per commit. */
        struct timespec ts = { db->delay_ms / 1000, (db->delay_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    int ret = db->ops->release(db, db->depth);
    if (ret == 0) {
        if (--db->depth == 0) {
            db->commits++;
            db__works(db);
        }
        return 0;
    }
    /* The level is not released: undo it so the caller is never left inside
     * a savepoint it believes closed.  At depth 1 that ends the transaction. */
    if (!txn_lost(db))
        db_rollback(db);
    return ret == STORE_ERETRY ? ret : STORE_EIO;
}

void db_rollback(struct db *db)
{
    if (db->depth == 0) {
        LOG_WARN("store: rollback without a transaction", NULL);
        return;
    }
    if (txn_lost(db))
        return;
    if (db->ops->rollback_to(db, db->depth) == 0) {
        db->depth--;
        return;
    }
    /* Cannot unwind one level: abandon the whole transaction instead. */
    db->ops->abort(db);
    LOG_ERROR("store: rollback failed, whole transaction abandoned", "depth:d", db->depth);
    db->depth = 0;
}
