/* store_timers: the scheduler's durable agenda, one pending timer per key.
 * Timers handed out own their strings (sched_timer_finish, or
 * sched_timers_free for the arrays of store_timers_due). */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

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

int store_timers_due(struct store *s, int64_t now_ms, size_t max, struct sched_timer **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    void *rows;
    size_t cnt;
    int ret = store__collect_rows(s, ST_TM_DUE, "timers_due", DB_ARGS(db_int(now_ms), db_int(store__limit(max))),
                                  sizeof(struct sched_timer), max, timer_from_row, &rows, &cnt);
    if (ret < 0) {
        sched_timers_free(rows, cnt);
        return ret;
    }
    *out = rows;
    *n = cnt;
    return 0;
}

int64_t store_timer_next(struct store *s)
{
    return store__select_min(s, ST_TM_NEXT, "timer_next");
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
