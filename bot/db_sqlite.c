/* db_sqlite: the SQLite driver of the store's db layer.  Owns one sqlite3
 * connection (WAL, busy_timeout, foreign keys, secure_delete), its prepared
 * statements (prepared once in db_prepare, finalized at close), the schema
 * version (PRAGMA user_version), the SIRT_TEST_STORE_FAULT knob, the
 * checkpointer (db_sqlite_ckpt.h) and the one-process lock: an flock on the
 * database file held from open to close. */
#include "db_internal.h"
#include "db_sqlite_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "util.h"

enum { TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO, TX_N };
static const char *const tx_sql[TX_N] = { "SAVEPOINT sirt", "RELEASE sirt", "ROLLBACK TO sirt" };

struct db_sqlite {
    struct db base;             /* first: db.c sees only this */
    sqlite3 *h;
    const char *path;           /* the target as it may be shown (db.c owns it) */
    int lock_fd;                /* the one-process lock, -1 when none */
    struct sq_ckpt *ckpt;       /* WAL checkpoints off the commits, or NULL */
    sqlite3_stmt **st;
    int n_st;
    sqlite3_stmt *tx[TX_N];
    sqlite3_stmt *cur;          /* the running statement */
    const char *cur_what;
    bool cur_stepped;           /* it has returned a row already */
    bool faulted;               /* the last step failed by the test knob */
    char *fault_file;           /* SIRT_TEST_STORE_FAULT, NULL when unset */
    bool fault_seen;            /* the file existed at the last write */
    long fault_allow;           /* writes still allowed since it appeared */
};

#define SQ(db) ((struct db_sqlite *)(db))

static void set_err(char *err, size_t errlen, const char *path, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, msg);
}

/* Logs a SQLite failure (codes and SQLite's message, which names tables and
 * columns but never bound values) and maps it to a STORE_E* code. */
static int fail(struct db_sqlite *q, int rc, const char *what)
{
    int ext = sqlite3_extended_errcode(q->h);
    const char *msg = sqlite3_errmsg(q->h);
    if (q->faulted) {
        q->faulted = false;
        ext = SQLITE_FULL;
        msg = "database or disk is full (SIRT_TEST_STORE_FAULT)";
    }
    LOG_ERROR("store: sqlite error", "op:s rc:d extended:d error:s", what, rc, ext, msg);
    switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return STORE_EEXIST;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return STORE_ENOTFOUND;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
        return STORE_EINVAL;
    default:
        /* Disk full, read-only, locked, I/O: nothing this transaction
         * writes from now on may commit (see db_commit). */
        db__io_failed(&q->base, "database write failed");
        return STORE_EIO;
    }
}

/* The test knob: while the file named by SIRT_TEST_STORE_FAULT exists, a
 * statement that writes fails before it runs, as SQLITE_FULL would.
 * Reads and transaction control (which sqlite3_stmt_readonly counts as
 * read-only) still work, as they do on a full disk.  A number N in the file
 * lets the first N writes after it appeared through (e.g. 1: the inbox row
 * of the next envelope is written, its work then fails). */
static bool fault_active(struct db_sqlite *q, sqlite3_stmt *st)
{
    if (!q->fault_file || sqlite3_stmt_readonly(st))
        return false;
    FILE *f = fopen(q->fault_file, "r");
    if (!f) {
        q->fault_seen = false;
        return false;
    }
    if (!q->fault_seen) {
        q->fault_seen = true;
        if (fscanf(f, "%ld", &q->fault_allow) != 1 || q->fault_allow < 0)
            q->fault_allow = 0;
    }
    fclose(f);
    if (q->fault_allow > 0) {
        q->fault_allow--;
        return false;
    }
    return true;
}

/* first: the statement's first step (the test knob counts statements, not
 * the rows of an INSERT ... RETURNING). */
static int step(struct db_sqlite *q, sqlite3_stmt *st, bool first)
{
    if (first && fault_active(q, st)) {
        q->faulted = true;
        return SQLITE_FULL;
    }
    return sqlite3_step(st);
}

static void release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows (transaction control). */
static int run_tx(struct db_sqlite *q, int which, const char *what)
{
    sqlite3_stmt *st = q->tx[which];
    int rc = step(q, st, true);
    int ret = rc == SQLITE_DONE ? 0 : fail(q, rc, what);
    release(st);
    return ret;
}

/* ---- statements ---- */

static int sq_start(struct db *db, int id, const char *what, const struct db_arg *args, int n)
{
    struct db_sqlite *q = SQ(db);
    if (q->cur) {
        LOG_ERROR("store: a statement started while another runs", "op:s running:s", what, q->cur_what);
        release(q->cur);
        q->cur = NULL;
    }
    if (id < 0 || id >= q->n_st)
        return STORE_EINVAL;
    sqlite3_stmt *st = q->st[id];
    for (int i = 0; i < n; i++) {
        switch (args[i].type) {
        case DB_ARG_NULL: sqlite3_bind_null(st, i + 1); break;
        case DB_ARG_INT: sqlite3_bind_int64(st, i + 1, args[i].i); break;
        case DB_ARG_TEXT: sqlite3_bind_text(st, i + 1, args[i].s, -1, SQLITE_STATIC); break;
        }
    }
    q->cur = st;
    q->cur_what = what;
    q->cur_stepped = false;
    return 0;
}

static int sq_next(struct db *db, const struct db_row **row)
{
    struct db_sqlite *q = SQ(db);
    if (!q->cur)
        return 0;
    int rc = step(q, q->cur, !q->cur_stepped);
    q->cur_stepped = true;
    if (rc == SQLITE_ROW) {
        db->row.h = q->cur;
        *row = &db->row;
        return 1;
    }
    int ret = 0;
    if (rc == SQLITE_DONE)
        db->changes = sqlite3_changes(q->h);
    else
        ret = fail(q, rc, q->cur_what);
    release(q->cur);
    q->cur = NULL;
    return ret;
}

static void sq_end(struct db *db)
{
    struct db_sqlite *q = SQ(db);
    if (q->cur) {
        release(q->cur);
        q->cur = NULL;
    }
}

static int64_t sq_col_int(const struct db_row *r, int i)
{
    return sqlite3_column_int64(r->h, i);
}

static bool sq_col_null(const struct db_row *r, int i)
{
    return sqlite3_column_type(r->h, i) == SQLITE_NULL;
}

static const char *sq_col_text(const struct db_row *r, int i)
{
    return (const char *)sqlite3_column_text(r->h, i);
}

static int prepare_one(struct db_sqlite *q, const char *sql, sqlite3_stmt **out)
{
    return sqlite3_prepare_v3(q->h, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
}

static int sq_prepare(struct db *db, const char *const *sql, int n, char *err, size_t errlen)
{
    struct db_sqlite *q = SQ(db);
    if (q->st)
        return STORE_EINVAL;
    q->st = xcalloc((size_t)n, sizeof(*q->st));
    q->n_st = n;
    for (int i = 0; i < TX_N; i++)
        if (prepare_one(q, tx_sql[i], &q->tx[i]) != SQLITE_OK)
            goto fail;
    for (int i = 0; i < n; i++)
        if (prepare_one(q, sql[i], &q->st[i]) != SQLITE_OK) {
            LOG_ERROR("store: statement does not prepare", "index:d error:s", i, sqlite3_errmsg(q->h));
            goto fail;
        }
    return 0;
fail:
    set_err(err, errlen, q->path, sqlite3_errmsg(q->h));
    return STORE_EIO;
}

/* ---- transactions ---- */

/* Every level is a savepoint: the outermost one opens the transaction. */
static int sq_begin(struct db *db, int depth)
{
    (void)depth;
    return run_tx(SQ(db), TX_SAVEPOINT, "begin");
}

static int sq_release(struct db *db, int depth)
{
    (void)depth;
    return run_tx(SQ(db), TX_RELEASE, "commit");
}

static int sq_rollback_to(struct db *db, int depth)
{
    (void)depth;
    int ret = run_tx(SQ(db), TX_ROLLBACK_TO, "rollback");
    return ret < 0 ? ret : run_tx(SQ(db), TX_RELEASE, "rollback release");
}

static void sq_abort(struct db *db)
{
    struct db_sqlite *q = SQ(db);
    if (!sqlite3_get_autocommit(q->h))
        sqlite3_exec(q->h, "ROLLBACK", NULL, NULL, NULL);
}

static bool sq_in_txn(struct db *db)
{
    return !sqlite3_get_autocommit(SQ(db)->h);
}

/* ---- migrations ---- */

static int exec_sql(sqlite3 *h, const char *sql)
{
    return sqlite3_exec(h, sql, NULL, NULL, NULL);
}

static int read_int_pragma(sqlite3 *h, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* Brings the schema to version n in one immediate transaction, so two
 * processes opening a fresh file at once cannot both migrate it. */
static int sq_migrate(struct db *db, const char *const *steps, int n, char *err, size_t errlen)
{
    struct db_sqlite *q = SQ(db);
    sqlite3 *h = q->h;
    int version = 0;
    if (read_int_pragma(h, "PRAGMA user_version", &version) != SQLITE_OK)
        goto sqlerr;
    if (version > n)
        goto too_new;
    if (version == n)
        return 0;
    if (exec_sql(h, "BEGIN IMMEDIATE") != SQLITE_OK)
        goto sqlerr;
    if (read_int_pragma(h, "PRAGMA user_version", &version) != SQLITE_OK)
        goto sqlerr_rollback;
    if (version > n) {
        exec_sql(h, "ROLLBACK");
        goto too_new;
    }
    for (int v = version; v < n; v++) {
        if (exec_sql(h, steps[v]) != SQLITE_OK)
            goto sqlerr_rollback;
        LOG_INFO("store: schema migrated", "from:d to:d", v, v + 1);
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", n);
    if (exec_sql(h, sql) != SQLITE_OK || exec_sql(h, "COMMIT") != SQLITE_OK)
        goto sqlerr_rollback;
    return 0;

sqlerr_rollback:
    set_err(err, errlen, q->path, sqlite3_errmsg(h));
    if (!sqlite3_get_autocommit(h))
        exec_sql(h, "ROLLBACK");
    return STORE_EIO;
sqlerr:
    set_err(err, errlen, q->path, sqlite3_errmsg(h));
    return STORE_EIO;
too_new:
    if (err && errlen)
        snprintf(err, errlen, "%s: schema version %d is newer than this sirtbot (%d)", q->path, version, n);
    return STORE_EINVAL;
}

/* ---- open / close ---- */

/* One process per database file.  SQLite's own locks are POSIX fcntl
 * locks, which it takes and drops around each transaction; an flock is a
 * separate kind of lock on Linux (BSD locks, owned by the open file
 * description), so holding it exclusively for the store's life conflicts
 * only with another sirtbot's flock, never with SQLite's locking (a sqlite3
 * shell can still read the file).  It is taken on a descriptor of our own:
 * closing a descriptor drops every fcntl lock the process holds on the
 * file, so ours is closed only after sqlite3_close.  (On NFS, Linux emulates
 * flock with fcntl locks; SQLite on NFS is unsafe anyway.) */
static int take_process_lock(struct db_sqlite *q, char *err, size_t errlen)
{
    const char *file = sqlite3_db_filename(q->h, "main");
    if (!file || !*file)            /* :memory: or a temporary database */
        return 0;
    q->lock_fd = open(file, O_RDWR | O_CLOEXEC);
    if (q->lock_fd < 0) {
        set_err(err, errlen, q->path, strerror(errno));
        return STORE_EIO;
    }
    if (flock(q->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    if (e == EWOULDBLOCK) {
        set_err(err, errlen, q->path, "another sirtbot process is using this database; a SQLite database "
                "serves one process (use SIRT_DB=postgres://... to run several replicas)");
        return STORE_EEXIST;
    }
    set_err(err, errlen, q->path, strerror(e));
    return STORE_EIO;
}

static void sq_close(struct db *db)
{
    struct db_sqlite *q = SQ(db);
    sq_end(db);
    for (int i = 0; i < q->n_st; i++)
        sqlite3_finalize(q->st[i]);
    for (int i = 0; i < TX_N; i++)
        sqlite3_finalize(q->tx[i]);
    free(q->st);
    sq_ckpt_stop(q->ckpt);
    if (q->h && sqlite3_close(q->h) != SQLITE_OK)
        LOG_ERROR("store: close failed", "error:s", sqlite3_errmsg(q->h));
    if (q->lock_fd >= 0)
        close(q->lock_fd);
    free(q->fault_file);
    free(q);
}

static int sq_open(struct db **out, const char *target, const char *shown, char *err, size_t errlen)
{
    struct db_sqlite *q = xcalloc(1, sizeof(*q));
    q->path = shown;            /* db.c's copy, freed after sq_close */
    q->lock_fd = -1;
    int ret = STORE_EIO;
    int rc = sqlite3_open_v2(target, &q->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, shown, q->h ? sqlite3_errmsg(q->h) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(q->h, 1);
    sqlite3_busy_timeout(q->h, 5000);
    ret = take_process_lock(q, err, errlen);
    if (ret < 0)
        goto fail;
    ret = STORE_EIO;
    /* Test knob (docs/configuration.md, "For drills and tests only"): not part of the config table because
     * it is not configuration, and it must hold before the first write. */
    const char *fault = getenv("SIRT_TEST_STORE_FAULT");
    if (fault && *fault) {
        q->fault_file = xstrdup(fault);
        LOG_WARN("store: write-fault knob armed: writes fail while the file exists", "file:s", fault);
    }

    /* journal_mode answers with the mode in effect; also the first read, so a
     * file that is not a database fails here with SQLite's own words. */
    sqlite3_stmt *st = NULL;
    bool wal = false;
    rc = sqlite3_prepare_v2(q->h, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        wal = mode && strcmp(mode, "wal") == 0;
        if (!wal) {
            if (strcmp(target, ":memory:") != 0)
                LOG_WARN("store: WAL mode unavailable", "path:s mode:s", shown, mode);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, shown, sqlite3_errmsg(q->h));
        goto fail;
    }
    /* NORMAL under WAL loses nothing on a process crash (only on power loss
     * the last commits may roll back), and skips an fsync per commit. */
    /* journal_size_limit: a WAL that grew in a burst is cut back to 8 MiB
     * when it rewinds. */
    if (exec_sql(q->h, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -1024; "
                       "PRAGMA secure_delete = ON; PRAGMA journal_size_limit = 8388608") != SQLITE_OK) {
        set_err(err, errlen, shown, sqlite3_errmsg(q->h));
        goto fail;
    }
    if (wal)
        q->ckpt = sq_ckpt_start(q->h, sqlite3_db_filename(q->h, "main"));
    *out = &q->base;
    return 0;

fail:
    sq_close(&q->base);
    return ret;
}

/* The WAL into the database file, then the WAL truncated to nothing: no
 * page image older than the last commit is left in either file.  The
 * checkpointer thread (db_sqlite_ckpt.c) may be running a checkpoint of
 * its own: SQLITE_BUSY then, so a few tries, 10 ms apart (rare: erasing
 * runs once a day). */
static int sq_scrub(struct db *db)
{
    struct db_sqlite *q = SQ(db);
    /* secure_delete zeroes what a statement frees, but free space inside a
     * page that SQLite later rearranges can still hold a copy of an erased
     * cell (seen under load): VACUUM rebuilds the file from the live rows
     * only.  Daily, on a database of incidents: milliseconds to seconds. */
    int rc = sqlite3_exec(q->h, "VACUUM", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        LOG_WARN("store: VACUUM after erasing failed: freed space may keep erased text until reused", "error:s",
                 sqlite3_errmsg(q->h));
    rc = SQLITE_BUSY;
    for (int i = 0; i < 100 && (rc == SQLITE_BUSY || rc == SQLITE_LOCKED); i++) {
        if (i)
            sqlite3_sleep(10);
        rc = sqlite3_wal_checkpoint_v2(q->h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        LOG_WARN("store: the WAL could not be truncated after erasing: erased text may stay in it until overwritten", "");
        return STORE_EIO;
    }
    return rc == SQLITE_OK ? 0 : fail(q, rc, "wal_checkpoint");
}

const struct db_ops db_sqlite_ops = {
    .dialect = DB_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .prepare = sq_prepare,
    .start = sq_start,
    .next = sq_next,
    .end = sq_end,
    .begin = sq_begin,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .abort = sq_abort,
    .in_txn = sq_in_txn,
    .col_int = sq_col_int,
    .col_null = sq_col_null,
    .col_text = sq_col_text,
    .scrub = sq_scrub,
};
