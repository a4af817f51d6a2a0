/* db_pg: the PostgreSQL driver of the store's db layer (libpq, blocking
 * calls: the store runs on a thread of its own).  Owns one PGconn, the
 * statement table rewritten to $N placeholders and prepared per session
 * (again, lazily, after a reconnect), the result of the running query, and
 * the schema version (table schema_version, migrated under an advisory
 * lock).  A lost connection fails the transaction it was in (STORE_EIO);
 * the next transaction reconnects.  The URI is a secret: only db->shown
 * (password masked) is ever logged. */
#include "db_internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"
#include "util.h"

/* The advisory lock every sirtbot takes to migrate ("sirtbot" in ASCII). */
#define MIGRATE_LOCK_KEY "32485562621521780"
#define MAX_ARGS 32
#define RECONNECT_BACKOFF_MS 1000

struct db_pg {
    struct db base;             /* first: db.c sees only this */
    PGconn *c;
    char *target;               /* the URI: secret, never logged */
    const char *shown;          /* the target as it may be logged (db.c owns it) */
    char **sql;                 /* the statement table with $N placeholders */
    bool *prepared;             /* per statement, in this session */
    int n_st;
    PGresult *res;              /* the running query's rows */
    int res_row;
    const char *cur_what;
    int64_t reconnect_at_ms;    /* no reconnect attempt before (after a failed one) */
};

#define PG(db) ((struct db_pg *)(db))

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errlen, const char *shown, const char *msg)
{
    if (!err || !errlen)
        return;
    snprintf(err, errlen, "%s: %s", shown, msg ? msg : "unknown error");
    /* libpq's messages end with a newline (and may hold several lines). */
    for (char *p = err; *p; p++)
        if (*p == '\n') {
            *p = *(p + 1) ? ' ' : '\0';
        }
}

static bool lost(const struct db_pg *p)
{
    return PQstatus(p->c) == CONNECTION_BAD;
}

/* Logs a failed command and maps it to a STORE_E* code.  Only the primary
 * message is logged: the detail may quote row values. */
static int fail(struct db_pg *p, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    char buf[256];
    if (!msg) {
        str_lcpy(buf, PQerrorMessage(p->c), sizeof(buf));
        buf[strcspn(buf, "\n")] = '\0';
        msg = buf;
    }
    LOG_ERROR("store: postgresql error", "op:s sqlstate:s constraint:s error:s", what, state ? state : "",
              constraint ? constraint : "", msg);
    if (lost(p)) {
        /* No SQLSTATE when libpq itself lost the server: reconnect later. */
        db__io_failed(&p->base, "database connection lost");
        return STORE_EIO;
    }
    if (!state)
        state = "";
    if (strcmp(state, "23505") == 0)
        return STORE_EEXIST;
    if (strcmp(state, "23503") == 0)
        return STORE_ENOTFOUND;
    if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        return STORE_EINVAL;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
        db__io_failed(&p->base, NULL);     /* the transaction is spoiled, the database is fine */
        return STORE_ERETRY;
    }
    if (strcmp(state, "26000") == 0)       /* a statement this session lost: prepare all again */
        memset(p->prepared, 0, (size_t)p->n_st * sizeof(*p->prepared));
    db__io_failed(&p->base, "database error");
    return STORE_EIO;
}

/* Runs a statement without parameters; 0 or < 0 (logged). */
static int run_simple(struct db_pg *p, const char *sql, const char *what)
{
    PGresult *r = PQexec(p->c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ret = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : fail(p, r, what);
    PQclear(r);
    return ret;
}

static void notice(void *arg, const char *message)
{
    (void)arg;
    char buf[256];
    str_lcpy(buf, message, sizeof(buf));
    buf[strcspn(buf, "\n")] = '\0';
    LOG_DEBUG("store: postgresql notice", "notice:s", buf);
}

/* The URI's own settings win over these defaults (they come first). */
static PGconn *connect_db(const char *target)
{
    const char *keys[] = { "connect_timeout", "fallback_application_name", "client_encoding", "dbname", NULL };
    const char *vals[] = { "10", "sirtbot", "UTF8", target, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c && PQstatus(c) == CONNECTION_OK)
        PQsetNoticeProcessor(c, notice, NULL);
    return c;
}

/* Brings a lost connection back (at most once per RECONNECT_BACKOFF_MS
 * after a failed attempt).  Statements are prepared again as they are used. */
static bool reconnect(struct db_pg *p)
{
    int64_t now = mono_ms();
    if (now < p->reconnect_at_ms)
        return false;
    PQfinish(p->c);
    p->c = connect_db(p->target);
    memset(p->prepared, 0, (size_t)p->n_st * sizeof(*p->prepared));
    if (p->c && PQstatus(p->c) == CONNECTION_OK) {
        p->reconnect_at_ms = 0;
        LOG_INFO("store: reconnected to postgresql", "db:s", p->shown);
        db__works(&p->base);
        return true;
    }
    char buf[256];
    str_lcpy(buf, p->c ? PQerrorMessage(p->c) : "out of memory", sizeof(buf));
    buf[strcspn(buf, "\n")] = '\0';
    LOG_WARN("store: postgresql unreachable", "db:s error:s", p->shown, buf);
    p->reconnect_at_ms = now + RECONNECT_BACKOFF_MS;
    db__io_failed(&p->base, "database unreachable");
    return false;
}

/* ---- statements ---- */

/* "?12" -> "$12" outside quoted strings and identifiers. */
static char *rewrite_placeholders(const char *sql)
{
    struct buf b;
    buf_init(&b, 0);
    char quote = 0;
    for (const char *s = sql; *s; s++) {
        if (quote) {
            if (*s == quote)
                quote = 0;
        } else if (*s == '\'' || *s == '"') {
            quote = *s;
        } else if (*s == '?' && s[1] >= '1' && s[1] <= '9') {
            buf_append(&b, "$", 1);
            continue;
        }
        buf_append(&b, s, 1);
    }
    char *out = buf_take(&b);
    return out ? out : xstrdup("");
}

static int prepare_one(struct db_pg *p, int id)
{
    char name[16];
    snprintf(name, sizeof(name), "s%d", id);
    PGresult *r = PQprepare(p->c, name, p->sql[id], 0, NULL);
    int ret = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        ret = fail(p, r, "prepare");
    else
        p->prepared[id] = true;
    PQclear(r);
    return ret;
}

static int pg_prepare(struct db *db, const char *const *sql, int n, char *err, size_t errlen)
{
    struct db_pg *p = PG(db);
    if (p->sql)
        return STORE_EINVAL;
    p->sql = xcalloc((size_t)n, sizeof(*p->sql));
    p->prepared = xcalloc((size_t)n, sizeof(*p->prepared));
    p->n_st = n;
    for (int i = 0; i < n; i++)
        p->sql[i] = rewrite_placeholders(sql[i]);
    /* All at once here, so a statement PostgreSQL rejects stops the start. */
    for (int i = 0; i < n; i++)
        if (prepare_one(p, i) < 0) {
            LOG_ERROR("store: statement does not prepare", "index:d", i);
            set_err(err, errlen, p->shown, PQerrorMessage(p->c));
            return STORE_EIO;
        }
    return 0;
}

static void pg_end(struct db *db)
{
    struct db_pg *p = PG(db);
    PQclear(p->res);
    p->res = NULL;
}

static PGresult *exec_prepared(struct db_pg *p, int id, const struct db_arg *args, int n)
{
    char nums[MAX_ARGS][24];
    const char *vals[MAX_ARGS];
    for (int i = 0; i < n; i++) {
        switch (args[i].type) {
        case DB_ARG_NULL: vals[i] = NULL; break;
        case DB_ARG_INT:
            snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)args[i].i);
            vals[i] = nums[i];
            break;
        case DB_ARG_TEXT: vals[i] = args[i].s; break;
        }
    }
    char name[16];
    snprintf(name, sizeof(name), "s%d", id);
    return PQexecPrepared(p->c, name, n, vals, NULL, NULL, 0);
}

static int pg_start(struct db *db, int id, const char *what, const struct db_arg *args, int n)
{
    struct db_pg *p = PG(db);
    pg_end(db);
    if (id < 0 || id >= p->n_st || n > MAX_ARGS)
        return STORE_EINVAL;
    if (lost(p)) {
        /* Inside a transaction the connection took it along: fail it.
         * Outside, this statement is its own transaction: reconnect. */
        if (db->depth > 0 || !reconnect(p)) {
            db__io_failed(db, "database connection lost");
            return STORE_EIO;
        }
    }
    if (!p->prepared[id]) {
        int ret = prepare_one(p, id);
        if (ret < 0)
            return ret;
    }
    PGresult *r = exec_prepared(p, id, args, n);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        int ret = fail(p, r, what);
        PQclear(r);
        return ret;
    }
    p->res = r;
    p->res_row = 0;
    p->cur_what = what;
    return 0;
}

static int pg_next(struct db *db, const struct db_row **row)
{
    struct db_pg *p = PG(db);
    if (!p->res)
        return 0;
    if (p->res_row < PQntuples(p->res)) {
        db->row.h = p->res;
        db->row.i = p->res_row++;
        *row = &db->row;
        return 1;
    }
    const char *n = PQcmdTuples(p->res);
    db->changes = n && *n ? strtoll(n, NULL, 10) : 0;
    pg_end(db);
    return 0;
}

static int64_t pg_col_int(const struct db_row *r, int i)
{
    if (PQgetisnull(r->h, r->i, i))
        return 0;
    return strtoll(PQgetvalue(r->h, r->i, i), NULL, 10);
}

static bool pg_col_null(const struct db_row *r, int i)
{
    return PQgetisnull(r->h, r->i, i) != 0;
}

static const char *pg_col_text(const struct db_row *r, int i)
{
    return PQgetisnull(r->h, r->i, i) ? NULL : PQgetvalue(r->h, r->i, i);
}

/* ---- transactions ---- */

/* The outermost level is a transaction, the inner ones savepoints. */
static int pg_begin(struct db *db, int depth)
{
    struct db_pg *p = PG(db);
    pg_end(db);
    if (depth > 0)
        return run_simple(p, "SAVEPOINT sirt", "savepoint");
    if (lost(p) && !reconnect(p))
        return STORE_EIO;
    PGresult *r = PQexec(p->c, "BEGIN");
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        return 0;
    }
    /* An idle connection the server closed shows only now.  Nothing was
     * done yet, so connect again and begin there. */
    if (lost(p) && reconnect(p)) {
        PQclear(r);
        LOG_INFO("store: the connection was lost while idle; transaction begun on a new one", NULL);
        return run_simple(p, "BEGIN", "begin");
    }
    int ret = fail(p, r, "begin");
    PQclear(r);
    return ret;
}

static int pg_release(struct db *db, int depth)
{
    struct db_pg *p = PG(db);
    pg_end(db);
    if (depth > 1)
        return run_simple(p, "RELEASE SAVEPOINT sirt", "release");
    /* COMMIT of a transaction in error "succeeds" as a ROLLBACK. */
    if (PQtransactionStatus(p->c) == PQTRANS_INERROR) {
        LOG_ERROR("store: a statement of this transaction failed: not committed", NULL);
        return STORE_EIO;
    }
    /* Relaxed: one round trip still; the result is COMMIT's. */
    PGresult *r = PQexec(p->c, db->relaxed ? "SET LOCAL synchronous_commit TO off; COMMIT" : "COMMIT");
    int ret = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        ret = fail(p, r, "commit");
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        ret = STORE_EIO;
    PQclear(r);
    return ret;
}

static int pg_rollback_to(struct db *db, int depth)
{
    struct db_pg *p = PG(db);
    pg_end(db);
    if (depth == 1)
        return run_simple(p, "ROLLBACK", "rollback");
    int ret = run_simple(p, "ROLLBACK TO SAVEPOINT sirt", "rollback");
    return ret < 0 ? ret : run_simple(p, "RELEASE SAVEPOINT sirt", "rollback release");
}

static bool pg_in_txn(struct db *db)
{
    PGTransactionStatusType t = PQtransactionStatus(PG(db)->c);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static void pg_abort(struct db *db)
{
    struct db_pg *p = PG(db);
    pg_end(db);
    if (!lost(p) && pg_in_txn(db))
        PQclear(PQexec(p->c, "ROLLBACK"));
}

/* ---- migrations ---- */

/* Every replica starting at once takes the same transaction-scoped advisory
 * lock first, so one migrates and the others then find the schema current. */
static int pg_migrate(struct db *db, const char *const *steps, int n, char *err, size_t errlen)
{
    struct db_pg *p = PG(db);
    int version = 0;
    PGresult *r = NULL;
    if (run_simple(p, "BEGIN", "migrate begin") < 0 ||
        run_simple(p, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", "migrate lock") < 0 ||
        run_simple(p, "CREATE TABLE IF NOT EXISTS schema_version ("
                      " version integer PRIMARY KEY,"
                      " applied_at timestamptz NOT NULL DEFAULT now())", "migrate version table") < 0)
        goto sqlerr;
    r = PQexec(p->c, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        fail(p, r, "migrate version");
        goto sqlerr;
    }
    version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (version > n) {
        run_simple(p, "ROLLBACK", "migrate rollback");
        if (err && errlen)
            snprintf(err, errlen, "%s: schema version %d is newer than this sirtbot (%d)", p->shown, version, n);
        return STORE_EINVAL;
    }
    for (int v = version; v < n; v++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version(version) VALUES (%d)", v + 1);
        if (run_simple(p, steps[v], "migrate step") < 0 || run_simple(p, sql, "migrate version") < 0)
            goto sqlerr;
        LOG_INFO("store: schema migrated", "from:d to:d", v, v + 1);
    }
    if (run_simple(p, "COMMIT", "migrate commit") < 0)
        goto sqlerr;
    return 0;

sqlerr:
    set_err(err, errlen, p->shown, PQerrorMessage(p->c));
    PQclear(r);
    if (!lost(p))
        PQclear(PQexec(p->c, "ROLLBACK"));
    return STORE_EIO;
}

/* ---- open / close ---- */

static void pg_close(struct db *db)
{
    struct db_pg *p = PG(db);
    pg_end(db);
    PQfinish(p->c);
    for (int i = 0; i < p->n_st; i++)
        free(p->sql[i]);
    free(p->sql);
    free(p->prepared);
    free(p->target);
    free(p);
}

static int pg_open(struct db **out, const char *target, const char *shown, char *err, size_t errlen)
{
    struct db_pg *p = xcalloc(1, sizeof(*p));
    p->target = xstrdup(target);
    p->shown = shown;
    p->c = connect_db(target);
    if (!p->c || PQstatus(p->c) != CONNECTION_OK) {
        set_err(err, errlen, shown, p->c ? PQerrorMessage(p->c) : "out of memory");
        pg_close(&p->base);
        return STORE_EIO;
    }
    LOG_INFO("store: connected to postgresql", "db:s server:d", shown, PQserverVersion(p->c));
    *out = &p->base;
    return 0;
}

const struct db_ops db_pg_ops = {
    .dialect = DB_PG,
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .prepare = pg_prepare,
    .start = pg_start,
    .next = pg_next,
    .end = pg_end,
    .begin = pg_begin,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .abort = pg_abort,
    .in_txn = pg_in_txn,
    .col_int = pg_col_int,
    .col_null = pg_col_null,
    .col_text = pg_col_text,
};
