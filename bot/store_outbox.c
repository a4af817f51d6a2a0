/* store_outbox: the outbox queue — jobs, their dependencies and their
 * states (pending, sending, done, failed, dropped), the leases replicas
 * hold on them, and the journal of created jobs (store_outbox_track) that
 * tells the outbox of new work when their transaction commits.  Jobs handed
 * out own their strings (outbox_job_finish, or outbox_jobs_free for arrays);
 * id arrays are the caller's to free; the journal is the store's until taken. */
#include "store_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "util.h"

void outbox_job_finish(struct outbox_job *j)
{
    if (!j)
        return;
    free(j->idem_key);
    free(j->op);
    free(j->payload);
    free(j->last_error);
    free(j->result);
    j->idem_key = j->op = j->payload = j->last_error = j->result = NULL;
}

void outbox_jobs_free(struct outbox_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        outbox_job_finish(&jobs[i]);
    free(jobs);
}

/* Fills j from a row of JOB_COLS. */
static void job_from_row(const struct db_row *r, void *row)
{
    struct outbox_job *j = row;
    memset(j, 0, sizeof(*j));
    j->id = db_col_int(r, 0);
    j->incident_id = db_col_int(r, 1);     /* NULL reads as 0 */
    j->idem_key = db_col_str(r, 2);
    j->op = db_col_str(r, 3);
    j->payload = db_col_str(r, 4);
    j->state = (enum outbox_state)db_col_int(r, 5);
    j->attempts = (int)db_col_int(r, 6);
    j->maybe_sent = db_col_int(r, 7) != 0;
    j->next_at_ms = db_col_int(r, 8);
    j->deps_deadline_ms = db_col_int(r, 9);
    j->last_error = db_col_str(r, 10);
    j->result = db_col_str(r, 11);
    j->created_ms = db_col_int(r, 12);
    j->updated_ms = db_col_int(r, 13);
    j->first_due_ms = db_col_int(r, 14);
}

/* ---- the journal of created jobs ---- */

void outbox_created_free(struct outbox_created *list)
{
    while (list) {
        struct outbox_created *c = list;
        list = c->next;
        outbox_job_finish(&c->job);
        free(c->deps);
        free(c);
    }
}

static void journal_add(struct store *s, const struct outbox_new *j, int64_t id)
{
    struct outbox_created *c = xcalloc(1, sizeof(*c));
    c->job.id = id;
    c->job.incident_id = j->incident_id;
    c->job.idem_key = xstrdup(j->idem_key);
    c->job.op = xstrdup(j->op);
    c->job.payload = xstrdup(j->payload ? j->payload : "{}");
    c->job.state = OUTBOX_PENDING;
    c->job.next_at_ms = j->next_at_ms;
    c->job.deps_deadline_ms = j->deps_deadline_ms;
    c->job.created_ms = c->job.updated_ms = j->now_ms;
    if (j->n_deps) {
        c->deps = xcalloc(j->n_deps, sizeof(*c->deps));
        memcpy(c->deps, j->deps, j->n_deps * sizeof(*c->deps));
        c->n_deps = j->n_deps;
    }
    c->depth = db_depth(s->db);
    *s->created_tail = c;
    s->created_tail = &c->next;
}

void store__outbox_txn_end(struct store *s, bool ok)
{
    int depth = db_depth(s->db);
    struct outbox_created **pp = &s->created;
    s->created_tail = &s->created;
    while (*pp) {
        struct outbox_created *c = *pp;
        if (c->depth > depth && !ok) {
            *pp = c->next;
            c->next = NULL;
            outbox_created_free(c);
            continue;
        }
        if (c->depth > depth)
            c->depth = depth;
        s->created_tail = &c->next;
        pp = &c->next;
    }
}

void store_outbox_track(struct store *s, bool on)
{
    s->track = on;
}

struct outbox_created *store_outbox_take_created(struct store *s)
{
    /* Only what is committed: entries still inside a transaction stay. */
    struct outbox_created *taken = NULL, **tail = &taken, **pp = &s->created;
    while (*pp) {
        struct outbox_created *c = *pp;
        if (c->depth == 0) {
            *pp = c->next;
            c->next = NULL;
            *tail = c;
            tail = &c->next;
        } else {
            pp = &c->next;
        }
    }
    s->created_tail = &s->created;
    while (*s->created_tail)
        s->created_tail = &(*s->created_tail)->next;
    return taken;
}

struct outbox_created *store_outbox_take_created_in_txn(struct store *s)
{
    struct outbox_created *taken = s->created;
    s->created = NULL;
    s->created_tail = &s->created;
    return taken;
}

int64_t store_outbox_add(struct store *s, const struct outbox_new *j)
{
    if (!j->idem_key || !*j->idem_key || !j->op || (j->n_deps && !j->deps))
        return STORE_EINVAL;
    int ret = store_begin(s);
    if (ret < 0)
        return ret;
    int64_t id = 0;
    /* Claimed by this replica in the transaction that creates it. */
    ret = store__insert_id(s, ST_OB_INSERT, "outbox_add",
                           DB_ARGS(db_int(j->incident_id), db_text(j->idem_key), db_text(j->op),
                                   db_text(j->payload), db_int(j->next_at_ms), db_int(j->deps_deadline_ms),
                                   db_int(j->now_ms), db_text(s->owner), db_int(clock_real_ms() + s->lease_ms)),
                           &id);
    if (ret < 0)
        goto fail;
    bool inserted = ret != 0;
    if (j->created)
        *j->created = inserted;
    if (ret == 0) {
        /* Already queued (a replayed event): same job, deps as first written. */
        ret = store__fetch_row(s, ST_OB_BY_KEY, "outbox_by_key", DB_ARGS(db_text(j->idem_key)),
                               store__int64_from_row, &id);
        if (ret < 0)
            goto fail;
    } else {
        for (size_t i = 0; i < j->n_deps; i++) {
            ret = store__exec(s, ST_OB_DEP_INSERT, "outbox_dep_add", DB_ARGS(db_int(id), db_int(j->deps[i])));
            if (ret < 0)
                goto fail;
        }
    }
    if (s->track && inserted)
        journal_add(s, j, id);
    ret = store_commit(s);
    return ret < 0 ? ret : id;

fail:
    store_rollback(s);
    return ret;
}

int store_outbox_pending(struct store *s, struct outbox_job **jobs, size_t *n)
{
    void *rows = NULL;
    size_t cnt = 0;
    int ret = store__collect_rows(s, ST_OB_PENDING, "outbox_pending", DB_NOARGS, sizeof(struct outbox_job),
                                  SIZE_MAX, job_from_row, &rows, &cnt);
    if (ret < 0) {
        outbox_jobs_free(rows, cnt);
        rows = NULL;
        cnt = 0;
    }
    *jobs = rows;
    *n = cnt;
    return ret < 0 ? ret : 0;
}

static void dep_from_row(const struct db_row *r, void *row)
{
    struct outbox_dep *d = row;
    d->job_id = db_col_int(r, 0);
    d->dep_id = db_col_int(r, 1);
    d->dep_state = (enum outbox_state)db_col_int(r, 2);
}

int store_outbox_pending_deps(struct store *s, struct outbox_dep **deps, size_t *n)
{
    void *rows = NULL;
    size_t cnt = 0;
    int ret = store__collect_rows(s, ST_OB_OPEN_DEPS, "outbox_pending_deps", DB_NOARGS, sizeof(struct outbox_dep),
                                  SIZE_MAX, dep_from_row, &rows, &cnt);
    if (ret < 0) {
        free(rows);
        rows = NULL;
        cnt = 0;
    }
    *deps = rows;
    *n = cnt;
    return ret < 0 ? ret : 0;
}

int store_outbox_get(struct store *s, int64_t id, struct outbox_job *out)
{
    return store__fetch_row(s, ST_OB_GET, "outbox_get", DB_ARGS(db_int(id)), job_from_row, out);
}

int store_outbox_due(struct store *s, int64_t now_ms, size_t max, struct outbox_job **jobs, size_t *n)
{
    *jobs = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    void *rows;
    size_t cnt;
    int ret = store__collect_rows(s, ST_OB_DUE, "outbox_due", DB_ARGS(db_int(now_ms), db_int(store__limit(max))),
                                  sizeof(struct outbox_job), max, job_from_row, &rows, &cnt);
    if (ret < 0) {
        outbox_jobs_free(rows, cnt);
        return ret;
    }
    *jobs = rows;
    *n = cnt;
    return 0;
}

int64_t store_outbox_next_due(struct store *s)
{
    return store__select_min(s, ST_OB_NEXT_DUE, "outbox_next_due", DB_NOARGS);
}

int store_outbox_blocked_by_failure(struct store *s, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    void *rows;
    size_t cnt;
    int ret = store__collect_rows(s, ST_OB_BLOCKED, "outbox_blocked", DB_NOARGS, sizeof(int64_t), SIZE_MAX,
                                  store__int64_from_row, &rows, &cnt);
    if (ret < 0) {
        free(rows);
        return ret;
    }
    *ids = rows;
    *n = cnt;
    return 0;
}

int store_outbox_mark_sending(struct store *s, int64_t id, int64_t now_ms)
{
    int64_t real = clock_real_ms();
    int ret = store__update_one(s, ST_OB_SENDING, "outbox_mark_sending",
                                DB_ARGS(db_int(id), db_int(now_ms), db_text(s->owner), db_int(real + s->lease_ms),
                                        db_int(real)));
    if (ret != STORE_ENOTFOUND)
        return ret;
    /* Only a pending job can be claimed; tell "gone" from "not pending". */
    int64_t state = 0;
    ret = store__fetch_row(s, ST_OB_STATE, "outbox_state", DB_ARGS(db_int(id)), store__int64_from_row, &state);
    if (ret < 0)
        return ret;
    LOG_WARN("store: outbox job not pending or held by another replica, not claimed", "id:l state:l",
             (long long)id, (long long)state);
    return STORE_EINVAL;
}

int store_outbox_mark_done(struct store *s, int64_t id, const char *result_json, int64_t now_ms)
{
    return store__update_one(s, ST_OB_DONE, "outbox_mark_done",
                             DB_ARGS(db_int(id), db_text(result_json), db_int(now_ms)));
}

int store_outbox_mark_retry(struct store *s, int64_t id, int64_t next_at_ms, const char *error,
                            bool maybe_sent, int64_t now_ms)
{
    return store__update_one(s, ST_OB_RETRY, "outbox_mark_retry",
                             DB_ARGS(db_int(id), db_int(next_at_ms), db_text(error), db_int(maybe_sent ? 1 : 0),
                                     db_int(now_ms)));
}

int store_outbox_mark_failed(struct store *s, int64_t id, const char *error, int64_t now_ms)
{
    return store__update_one(s, ST_OB_FAILED, "outbox_mark_failed",
                             DB_ARGS(db_int(id), db_text(error), db_int(now_ms)));
}

int store_outbox_mark_dropped(struct store *s, int64_t id, const char *why, int64_t now_ms)
{
    return store__update_one(s, ST_OB_DROPPED, "outbox_mark_dropped",
                             DB_ARGS(db_int(id), db_text(why), db_int(now_ms)));
}

int64_t store_outbox_find(struct store *s, const char *idem_key)
{
    if (!idem_key || !*idem_key)
        return STORE_EINVAL;
    int64_t id = 0;
    int ret = store__fetch_row(s, ST_OB_BY_KEY, "outbox_find", DB_ARGS(db_text(idem_key)), store__int64_from_row,
                               &id);
    if (ret == STORE_ENOTFOUND)
        return 0;
    return ret < 0 ? ret : id;
}

int64_t store_outbox_oldest_pending(struct store *s)
{
    return store__select_min(s, ST_OB_OLDEST, "outbox_oldest_pending", DB_NOARGS);
}

int store_outbox_set_payload(struct store *s, int64_t id, const char *payload_json, int64_t now_ms)
{
    return store__update_one(s, ST_OB_PAYLOAD, "outbox_set_payload",
                             DB_ARGS(db_int(id), db_text(payload_json), db_int(now_ms)));
}

int store_outbox_recover(struct store *s, int64_t now_ms)
{
    int64_t n = db_exec(s->db, ST_OB_RECOVER, "outbox_recover", DB_ARGS(db_int(now_ms)));
    if (n < 0)
        return (int)n;
    if (n)
        LOG_INFO("store: outbox jobs recovered from sending", "count:l", (long long)n);
    return (int)n;
}

struct state_count {
    int64_t state, count;
};

static void count_from_row(const struct db_row *r, void *row)
{
    struct state_count *c = row;
    c->state = db_col_int(r, 0);
    c->count = db_col_int(r, 1);
}

int store_outbox_counts(struct store *s, int64_t counts[OUTBOX_N_STATES])
{
    for (int i = 0; i < OUTBOX_N_STATES; i++)
        counts[i] = 0;
    void *rows;
    size_t n;
    int ret = store__collect_rows(s, ST_OB_COUNTS, "outbox_counts", DB_NOARGS, sizeof(struct state_count),
                                  SIZE_MAX, count_from_row, &rows, &n);
    struct state_count *v = rows;
    for (size_t i = 0; i < n && ret == 0; i++)
        if (v[i].state >= 0 && v[i].state < OUTBOX_N_STATES)
            counts[v[i].state] = v[i].count;
    free(v);
    return ret;
}

/* ---- leases ---- */

int store_outbox_claim(struct store *s, int64_t now_ms, bool at_start, size_t max, struct outbox_job **jobs,
                       size_t *n)
{
    *jobs = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    /* One process on SQLite: at start no one else can hold a live lease. */
    int64_t real = clock_real_ms();
    int64_t expired_before = at_start && db_dialect(s->db) == DB_SQLITE ? INT64_MAX : real;
    void *rows;
    size_t cnt;
    int ret = store__collect_rows(s, ST_OB_CLAIM, "outbox_claim",
                                  DB_ARGS(db_text(s->owner), db_int(now_ms), db_int(real + s->lease_ms),
                                          db_int(expired_before), db_int(store__limit(max))),
                                  sizeof(struct outbox_job), max, job_from_row, &rows, &cnt);
    if (ret < 0) {
        outbox_jobs_free(rows, cnt);
        return ret;
    }
    *jobs = rows;
    *n = cnt;
    if (cnt)
        LOG_INFO("store: outbox jobs claimed (unowned or lease ended)", "count:l", (long long)cnt);
    return 0;
}

int store_outbox_renew(struct store *s, int64_t now_ms)
{
    (void)now_ms;   /* leases run on the real clock (clock_real_ms), not the bot's */
    int64_t n = db_exec(s->db, ST_OB_RENEW, "outbox_renew", DB_ARGS(db_text(s->owner), db_int(clock_real_ms() + s->lease_ms)));
    return (int)n;
}

int store_outbox_release(struct store *s)
{
    int64_t n = db_exec(s->db, ST_OB_RELEASE, "outbox_release", DB_ARGS(db_text(s->owner)));
    return (int)n;
}

int store_outbox_deps_of(struct store *s, int64_t job_id, struct outbox_dep **deps, size_t *n)
{
    void *rows = NULL;
    size_t cnt = 0;
    int ret = store__collect_rows(s, ST_OB_DEPS_OF, "outbox_deps_of", DB_ARGS(db_int(job_id)),
                                  sizeof(struct outbox_dep), SIZE_MAX, dep_from_row, &rows, &cnt);
    if (ret < 0) {
        free(rows);
        rows = NULL;
        cnt = 0;
    }
    *deps = rows;
    *n = cnt;
    return ret < 0 ? ret : 0;
}

int store_outbox_state(struct store *s, int64_t id)
{
    int64_t state = 0;
    int ret = store__fetch_row(s, ST_OB_STATE, "outbox_state", DB_ARGS(db_int(id)), store__int64_from_row, &state);
    return ret < 0 ? ret : (int)state;
}
