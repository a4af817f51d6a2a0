/* store: open (driver chosen by the target: a path is SQLite, postgres://
 * is PostgreSQL; bot/db.h), migrations and the statement table
 * (store_sql.c), transactions, processed event ids and the inbox, plus the
 * row helpers the other store files share (store_internal.h).  Strings
 * handed out in structs are malloc'd copies owned by the caller; entries
 * passed to iteration callbacks are borrowed for the call, and callbacks may
 * use the store (rows are read first). */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "util.h"

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_EEXIST: return "already exists";
    case STORE_EIO: return "database error";
    case STORE_EINVAL: return "invalid argument";
    case STORE_ERETRY: return "conflict with a concurrent transaction (retry)";
    default: return "unknown store error";
    }
}

/* ---- row helpers ---- */

int store__fetch_row(struct store *s, int st, const char *what, const struct db_arg *args, int n,
                     store_decode_fn decode, void *out)
{
    int ret = db_query(s->db, st, what, args, n);
    if (ret < 0)
        return ret;
    const struct db_row *row;
    ret = db_next(s->db, &row);
    if (ret == 0)
        return STORE_ENOTFOUND;
    if (ret < 0)
        return ret;
    decode(row, out);
    db_end(s->db);
    return 0;
}

int store__collect_rows(struct store *s, int st, const char *what, const struct db_arg *args, int n,
                        size_t size, size_t max, store_decode_fn decode, void **rows, size_t *cnt)
{
    char *v = NULL;
    size_t got = 0, alloc = 0;
    int ret = db_query(s->db, st, what, args, n);
    const struct db_row *row;
    while (ret == 0 && got < max && (ret = db_next(s->db, &row)) > 0) {
        if (got == alloc) {
            alloc = alloc ? alloc * 2 : (max < 16 ? max : 16);
            v = xrealloc(v, alloc * size);
        }
        decode(row, v + got++ * size);
        ret = 0;
    }
    db_end(s->db);
    *rows = v;
    *cnt = got;
    return ret < 0 ? ret : 0;
}

int store__insert_id(struct store *s, int st, const char *what, const struct db_arg *args, int n, int64_t *id)
{
    *id = 0;
    int ret = db_query(s->db, st, what, args, n);
    if (ret < 0)
        return ret;
    const struct db_row *row;
    int rows = 0;
    while ((ret = db_next(s->db, &row)) > 0) {
        if (!rows++)
            *id = db_col_int(row, 0);
    }
    if (ret < 0)
        return ret;
    return rows;
}

void store__int64_from_row(const struct db_row *r, void *row)
{
    *(int64_t *)row = db_col_int(r, 0);
}

int64_t store__select_min(struct store *s, int st, const char *what, const struct db_arg *args, int n)
{
    int ret = db_query(s->db, st, what, args, n);
    if (ret < 0)
        return ret;
    const struct db_row *row;
    ret = db_next(s->db, &row);
    if (ret < 0)
        return ret;
    int64_t v = INT64_MAX;
    if (ret > 0 && !db_col_null(row, 0))
        v = db_col_int(row, 0);
    db_end(s->db);
    return v;
}

int store__exec(struct store *s, int st, const char *what, const struct db_arg *args, int n)
{
    int64_t ret = db_exec(s->db, st, what, args, n);
    return ret < 0 ? (int)ret : 0;
}

int store__update_one(struct store *s, int st, const char *what, const struct db_arg *args, int n)
{
    int64_t ret = db_exec(s->db, st, what, args, n);
    if (ret < 0)
        return (int)ret;
    return ret ? 0 : STORE_ENOTFOUND;
}

int64_t store__limit(size_t max)
{
    return (uint64_t)max > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)max;
}

/* ---- replica id ---- */

static void make_owner(char *out, size_t n)
{
    char host[64];
    if (gethostname(host, sizeof(host)) != 0)
        str_lcpy(host, "host", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    snprintf(out, n, "%s:%ld:%08x", host, (long)getpid(), (unsigned)(util_rand64() & 0xffffffffu));
}

const char *store_owner(const struct store *s)
{
    return s->owner;
}

int64_t store_lease_ms(const struct store *s)
{
    return s->lease_ms;
}

bool store_shared(const struct store *s)
{
    return db_dialect(s->db) == DB_PG;
}

/* SIRT_TEST_LEASE_MS: a shorter lease for tests (100 ms .. STORE_LEASE_MS). */
static int64_t lease_from_env(void)
{
    const char *v = getenv("SIRT_TEST_LEASE_MS");
    if (!v || !*v)
        return STORE_LEASE_MS;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < 100 || n > STORE_LEASE_MS) {
        LOG_WARN("SIRT_TEST_LEASE_MS ignored (100..30000)", "value:s", v);
        return STORE_LEASE_MS;
    }
    return n;
}

int store_leases_renew(struct store *s)
{
    int64_t until = clock_real_ms() + s->lease_ms;
    int ret = store__exec(s, ST_INBOX_RENEW, "inbox_renew", DB_ARGS(db_text(s->owner), db_int(until)));
    if (ret == 0)
        ret = store__exec(s, ST_TM_RENEW, "timers_renew", DB_ARGS(db_text(s->owner), db_int(until)));
    return ret;
}

int store_leases_release(struct store *s)
{
    int ret = store__exec(s, ST_INBOX_RELEASE, "inbox_release", DB_ARGS(db_text(s->owner)));
    if (ret == 0)
        ret = store__exec(s, ST_TM_RELEASE, "timers_release", DB_ARGS(db_text(s->owner)));
    return ret;
}

/* ---- open / close ---- */

/* The statement table of this driver: its own text where it has one, then
 * one UPDATE per settable incident field. */
static int prepare_all(struct store *s, char *err, size_t errlen)
{
    const struct store_dialect *d = store__dialect(db_dialect(s->db));
    int n = ST_COUNT + store__n_inc_fields;
    const char **sql = xcalloc((size_t)n, sizeof(*sql));
    char **built = xcalloc((size_t)store__n_inc_fields, sizeof(*built));
    for (int i = 0; i < ST_COUNT; i++)
        sql[i] = d->own[i] ? d->own[i] : store__sql[i];
    for (int i = 0; i < store__n_inc_fields; i++) {
        built[i] = xasprintf("UPDATE incidents SET %s = ?1, updated_ms = ?2 WHERE id = ?3",
                             store__inc_fields[i].name);
        sql[ST_SET_FIELD + i] = built[i];
    }
    int ret = db_prepare(s->db, sql, n, err, errlen);
    for (int i = 0; i < store__n_inc_fields; i++)
        free(built[i]);
    free(built);
    free(sql);
    return ret;
}

int store_open(struct store **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    struct store *s = xcalloc(1, sizeof(*s));
    make_owner(s->owner, sizeof(s->owner));
    s->lease_ms = lease_from_env();
    s->created_tail = &s->created;
    int ret = db_open(&s->db, path, err, errlen);
    if (ret < 0)
        goto fail;
    const struct store_dialect *d = store__dialect(db_dialect(s->db));
    ret = db_migrate(s->db, d->migrations, d->n_migrations, err, errlen);
    if (ret < 0)
        goto fail;
    ret = prepare_all(s, err, errlen);
    if (ret < 0)
        goto fail;
    if (!store_shared(s)) {
        /* This process holds the file's one-process lock: every lease in
         * it is a dead predecessor's, free to take at once. */
        if ((ret = store__exec(s, ST_INBOX_CLEAR, "inbox_clear_leases", DB_NOARGS)) < 0 ||
            (ret = store__exec(s, ST_TM_CLEAR, "timers_clear_leases", DB_NOARGS)) < 0) {
            snprintf(err, errlen, "cannot clear the leases of a previous run: %s", store_strerror(ret));
            goto fail;
        }
    }
    *out = s;
    return 0;

fail:
    store_close(s);
    return ret;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    db_close(s->db);
    outbox_created_free(s->created);
    free(s);
}

/* ---- threads and figures ---- */

void store_bind_thread(struct store *s, bool bind)
{
    db_bind_thread(s->db, bind);
}

void store_stats_get(const struct store *s, struct store_stats *out)
{
    db_stats_get(s->db, &out->reads, &out->writes, &out->commits);
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
    return db_begin(s->db);
}

int store_commit(struct store *s)
{
    int ret = db_commit(s->db);
    store__outbox_txn_end(s, ret == 0);
    if (db_depth(s->db) == 0 && s->scrub) {
        /* Text was erased (store_incident_erase): not left in the files
         * either.  A failure is logged; the erasure itself has committed. */
        s->scrub = false;
        if (ret == 0)
            db_scrub(s->db);
    }
    return ret;
}

void store_rollback(struct store *s)
{
    db_rollback(s->db);
    store__outbox_txn_end(s, false);
    if (db_depth(s->db) == 0)
        s->scrub = false;
}

bool store_txn_failed(const struct store *s)
{
    return s && db_txn_failed(s->db);
}

int store_txn_depth(const struct store *s)
{
    return s ? db_depth(s->db) : 0;
}

void store_txn_relax(struct store *s)
{
    db_relax_commit(s->db);
}

/* ---- events ---- */

/* The event id is the table's primary key, so two replicas handed the same
 * event cannot both record it: the second insert waits for the first's
 * transaction and then does nothing (a duplicate), or inserts if that one
 * rolled back. */
int store_event_record(struct store *s, const char *event_id, int64_t now_ms)
{
    if (!event_id || !*event_id)
        return STORE_EINVAL;
    int64_t n = db_exec(s->db, ST_EVENT_INSERT, "event_record", DB_ARGS(db_text(event_id), db_int(now_ms)));
    if (n < 0)
        return (int)n;
    return n == 0 ? 1 : 0;
}

int store_events_prune(struct store *s, int64_t cutoff_ms)
{
    int64_t n = db_exec(s->db, ST_EVENT_PRUNE, "events_prune", DB_ARGS(db_int(cutoff_ms)));
    return n < 0 ? (int)n : (int)(n > INT32_MAX ? INT32_MAX : n);
}

/* ---- inbox ---- */

int64_t store_inbox_add(struct store *s, const char *type, const char *envelope_json, int64_t now_ms)
{
    int64_t id;
    int ret = store__insert_id(s, ST_INBOX_ADD, "inbox_add",
                               DB_ARGS(db_text(type), db_text(envelope_json), db_int(now_ms), db_text(s->owner),
                                       db_int(clock_real_ms() + s->lease_ms)),
                               &id);
    if (ret == 0)
        return STORE_EIO;
    return ret < 0 ? ret : id;
}

int store_inbox_delete(struct store *s, int64_t id)
{
    return store__update_one(s, ST_INBOX_DEL, "inbox_delete", DB_ARGS(db_int(id), db_text(s->owner)));
}

struct inbox_row {
    int64_t id;
    char *type, *json;
};

static void inbox_from_row(const struct db_row *r, void *row)
{
    struct inbox_row *e = row;
    e->id = db_col_int(r, 0);
    e->type = db_col_str(r, 1);
    e->json = db_col_str(r, 2);
}

static int inbox_cmp(const void *a, const void *b)
{
    const struct inbox_row *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Hands the rows read to cb in id order, then frees them. */
static void inbox_walk(struct inbox_row *v, size_t n, bool ok,
                       bool (*cb)(void *ud, int64_t id, const char *type, const char *json), void *ud)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), inbox_cmp);
    for (size_t i = 0; i < n && ok; i++)
        if (!cb(ud, v[i].id, v[i].type ? v[i].type : "", v[i].json ? v[i].json : "{}"))
            break;
    for (size_t i = 0; i < n; i++) {
        free(v[i].type);
        free(v[i].json);
    }
    free(v);
}

int store_inbox_list(struct store *s, bool (*cb)(void *ud, int64_t id, const char *type, const char *json),
                     void *ud)
{
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_INBOX_LIST, "inbox_list", DB_ARGS(db_text(s->owner)),
                                  sizeof(struct inbox_row), SIZE_MAX, inbox_from_row, &rows, &n);
    inbox_walk(rows, n, ret == 0, cb, ud);
    return ret;
}

int store_inbox_claim(struct store *s, size_t max,
                      bool (*cb)(void *ud, int64_t id, const char *type, const char *json), void *ud)
{
    if (max == 0)
        return 0;
    void *rows;
    size_t n;
    int64_t now = clock_real_ms();
    int ret = store__collect_rows(s, ST_INBOX_CLAIM, "inbox_claim",
                                  DB_ARGS(db_text(s->owner), db_int(now), db_int(now + s->lease_ms),
                                          db_int(store__limit(max))),
                                  sizeof(struct inbox_row), max, inbox_from_row, &rows, &n);
    inbox_walk(rows, n, ret == 0, cb, ud);
    return ret < 0 ? ret : (int)n;
}
