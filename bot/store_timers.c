/* store_timers: the scheduler's durable agenda, one pending timer per key,
 * and the claims (owner, lease end) under which a replica fires a due timer.
 * Timers handed out own their strings (sched_timer_finish, or
 * sched_timers_free for the arrays of store_timers_due / _claim). */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

void sched_timer_finish(struct sched_timer *t)
{
    if (!t)
        return;
    free(t->key);
    free(t->kind);
    free(t->payload);
    t->key = t->kind = t->payload = NULL;
}

void sched_timers_free(struct sched_timer *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sched_timer_finish(&t[i]);
    free(t);
}

/* Fills t from a row of TIMER_COLS. */
static void timer_from_row(const struct db_row *r, void *row)
{
    struct sched_timer *t = row;
    memset(t, 0, sizeof(*t));
    t->id = db_col_int(r, 0);
    t->key = db_col_str(r, 1);
    t->kind = db_col_str(r, 2);
    t->incident_id = db_col_int(r, 3);     /* NULL reads as 0 */
    t->due_ms = db_col_int(r, 4);
    t->payload = db_col_str(r, 5);
}

int store_timer_set(struct store *s, const char *key, const char *kind, int64_t incident_id, int64_t due_ms,
                    const char *payload_json, int64_t now_ms)
{
    if (!key || !*key || !kind || !*kind)
        return STORE_EINVAL;
    int ret = store_begin(s);
    if (ret < 0)
        return ret;
    ret = store__exec(s, ST_TM_RETIRE, "timer_retire", DB_ARGS(db_text(key), db_int(now_ms)));
    if (ret < 0)
        goto fail;
    ret = store__exec(s, ST_TM_UPSERT, "timer_set",
                      DB_ARGS(db_text(key), db_text(kind), db_int(incident_id), db_int(due_ms),
                              db_text(payload_json), db_int(now_ms)));
    if (ret < 0)
        goto fail;
    return store_commit(s);

fail:
    store_rollback(s);
    return ret;
}

int store_timer_cancel(struct store *s, const char *key)
{
    if (!key)
        return STORE_EINVAL;
    return store__exec(s, ST_TM_CANCEL, "timer_cancel", DB_ARGS(db_text(key)));
}

int store_timer_get(struct store *s, const char *key, struct sched_timer *out)
{
    if (!key)
        return STORE_EINVAL;
    return store__fetch_row(s, ST_TM_GET, "timer_get", DB_ARGS(db_text(key)), timer_from_row, out);
}

static int timer_cmp(const void *a, const void *b)
{
    const struct sched_timer *x = a, *y = b;
    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* At most max timers of statement st into *out (the caller frees it with
 * sched_timers_free), in due order when sorted; nothing on error. */
static int timers_read(struct store *s, int st, const char *what, const struct db_arg *args, int nargs,
                       size_t max, bool sorted, struct sched_timer **out, size_t *n)
{
    void *rows;
    size_t cnt;
    int ret = store__collect_rows(s, st, what, args, nargs, sizeof(struct sched_timer), max, timer_from_row,
                                  &rows, &cnt);
    if (ret < 0) {
        sched_timers_free(rows, cnt);
        return ret;
    }
    if (sorted && cnt > 1)
        qsort(rows, cnt, sizeof(struct sched_timer), timer_cmp);
    *out = rows;
    *n = cnt;
    return 0;
}

int store_timers_due(struct store *s, int64_t now_ms, size_t max, struct sched_timer **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    return timers_read(s, ST_TM_DUE, "timers_due", DB_ARGS(db_int(now_ms), db_int(store__limit(max))), max,
                       false, out, n);
}

int64_t store_timer_next(struct store *s, int64_t now_ms)
{
    return store__select_min(s, ST_TM_NEXT, "timer_next",
                             DB_ARGS(db_text(s->owner), db_int(clock_real_ms()), db_int(now_ms)));
}

int store_timers_claim(struct store *s, int64_t now_ms, size_t max, struct sched_timer **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    int64_t real = clock_real_ms();
    return timers_read(s, ST_TM_CLAIM, "timers_claim",
                       DB_ARGS(db_text(s->owner), db_int(now_ms), db_int(real + s->lease_ms),
                               db_int(store__limit(max)), db_int(real)),
                       max, true, out, n);
}

int store_timer_fire(struct store *s, int64_t id, int64_t now_ms)
{
    return store__update_one(s, ST_TM_FIRE, "timer_fire", DB_ARGS(db_int(id), db_text(s->owner), db_int(now_ms)));
}

/* Idempotent: a timer no longer pending (done, canceled, or retired by a
 * set of its key while it fired) is left as it is. */
int store_timer_done(struct store *s, int64_t id)
{
    int ret = store__update_one(s, ST_TM_DONE, "timer_done", DB_ARGS(db_int(id)));
    if (ret != STORE_ENOTFOUND)
        return ret;
    int64_t state;
    return store__fetch_row(s, ST_TM_EXISTS, "timer_state", DB_ARGS(db_int(id)), store__int64_from_row, &state);
}

int store_timers_cancel_incident(struct store *s, int64_t incident_id)
{
    return store__exec(s, ST_TM_CANCEL_INC, "timers_cancel_incident", DB_ARGS(db_int(incident_id)));
}
