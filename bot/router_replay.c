/* router_replay: the envelopes kept in the inbox whose work failed are
 * replayed on a backoff timer (loop side) from the store thread; at start,
 * and on a shared store every third of a lease, the rows nobody holds (an
 * earlier run's, a dead replica's) are claimed and handled.  The retry
 * list belongs to the store thread; the timers to the loop. */
#include "router_state.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "router.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

/* ---- replay of kept envelopes ---- */

static bool retry_has(const struct router *rt, int64_t id)
{
    for (size_t i = 0; i < rt->n_retry; i++)
        if (rt->retry[i] == id)
            return true;
    return false;
}

/* Returns true when id was not in the list yet. */
static bool retry_add(struct router *rt, int64_t id)
{
    if (retry_has(rt, id))
        return false;
    if (rt->n_retry == rt->cap_retry) {
        rt->cap_retry = rt->cap_retry ? rt->cap_retry * 2 : 8;
        rt->retry = xrealloc(rt->retry, rt->cap_retry * sizeof(*rt->retry));
    }
    size_t i = rt->n_retry++;
    for (; i > 0 && rt->retry[i - 1] > id; i--)
        rt->retry[i] = rt->retry[i - 1];
    rt->retry[i] = id;
    return true;
}

static void retry_remove(struct router *rt, int64_t id)
{
    for (size_t i = 0; i < rt->n_retry; i++)
        if (rt->retry[i] == id) {
            memmove(&rt->retry[i], &rt->retry[i + 1], (rt->n_retry - i - 1) * sizeof(*rt->retry));
            rt->n_retry--;
            return;
        }
}

static void retry_timer_arm_loop(void *arg);
static void on_retry_timer(uv_timer_t *t);

struct arm_msg {
    struct router *rt;
    uint64_t delay_ms;
};

/* Store thread: asks the loop to run a replay round after the backoff. */
static void retry_arm(struct router *rt)
{
    if ((!rt->n_retry && !rt->old_pending) || !rt->app->storeq || rt->retry_armed)
        return;
    if (!rt->retry_delay_ms)
        rt->retry_delay_ms = RETRY_FIRST_MS;
    LOG_WARN("inbox: envelopes kept after a failure; replay scheduled", "kept:u delay_ms:l round:d",
             rt->n_retry, (long long)rt->retry_delay_ms, rt->retry_rounds + 1);
    rt->retry_armed = true;
    struct arm_msg *m = xcalloc(1, sizeof(*m));
    m->rt = rt;
    m->delay_ms = rt->retry_delay_ms;
    storeq_to_loop(rt->app->storeq, retry_timer_arm_loop, m);
}

static void retry_timer_arm_loop(void *arg)
{
    struct arm_msg *m = arg;
    struct router *rt = m->rt;
    if (rt->loop_app->loop && !rt->stopping) {
        if (!rt->timer_init) {
            uv_timer_init(rt->loop_app->loop, &rt->retry_timer);
            uv_unref((uv_handle_t *)&rt->retry_timer);   /* never keeps a stopping loop alive */
            rt->timer_init = true;
        }
        uv_timer_start(&rt->retry_timer, on_retry_timer, m->delay_ms, 0);
    }
    free(m);
}

struct replay_pass {
    struct router *rt;
    int tried, done;
};

static int claim_pass(struct router *rt);

static bool replay_kept(void *ud, int64_t id, const char *type, const char *json)
{
    struct replay_pass *p = ud;
    if (!retry_has(p->rt, id))
        return true;   /* this run's own envelope: its work is queued */
    if (p->tried >= RETRY_BATCH)
        return false;
    p->tried++;
    cJSON *env = cJSON_Parse(json);
    if (!cJSON_IsObject(env)) {
        LOG_ERROR("inbox: unreadable envelope dropped", "inbox_id:l", (long long)id);
        if (store_inbox_delete(p->rt->app->store, id) == 0)
            retry_remove(p->rt, id);
        cJSON_Delete(env);
        return true;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(env, "sirt_inbox_id");
    cJSON_AddNumberToObject(env, "sirt_inbox_id", (double)id);
    if (router__work_one(p->rt, type, env, false) == 0) {
        retry_remove(p->rt, id);
        p->done++;
        LOG_INFO("inbox: kept envelope handled on replay", "inbox_id:l type:s", (long long)id, type);
    }
    cJSON_Delete(env);
    return true;
}

static void retry_round_st(struct store *st, void *arg)
{
    (void)st;
    struct router *rt = arg;
    rt->retry_armed = false;
    struct replay_pass p = { rt, 0, 0 };
    size_t before = rt->n_retry;
    if (rt->old_pending && rt->app->store && claim_pass(rt) >= 0)
        rt->old_pending = false;   /* claimed: their failures are now in the list */
    int rc = rt->app->store ? store_inbox_list(rt->app->store, replay_kept, &p) : STORE_EIO;
    if (rc == 0 && p.tried == 0 && before == rt->n_retry) {
        /* Read fine, and none of the kept ids is in the inbox any more. */
        rt->n_retry = 0;
    }
    rt->retry_rounds++;
    if ((rt->n_retry == 0 && !rt->old_pending) || p.done > 0) {
        rt->retry_delay_ms = RETRY_FIRST_MS;   /* progress: the store works again */
        rt->retry_rounds = rt->n_retry ? rt->retry_rounds : 0;
    } else {
        rt->retry_delay_ms = rt->retry_delay_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : rt->retry_delay_ms * 2;
        LOG_ERROR("inbox: replay failed again; envelopes stay kept", "kept:u next_ms:l round:d", rt->n_retry,
                  (long long)rt->retry_delay_ms, rt->retry_rounds);
    }
    retry_arm(rt);
}

static void on_retry_timer(uv_timer_t *t)
{
    struct router *rt = container_of(t, struct router, retry_timer);
    storeq_post(rt->loop_app->storeq, retry_round_st, NULL, rt);
}

/* A failed envelope: kept for the replay timer; its sender told once. */
void router__keep_for_replay(struct router *rt, const char *type, const cJSON *envelope, bool tell)
{
    const cJSON *inbox = cJSON_GetObjectItemCaseSensitive(envelope, "sirt_inbox_id");
    int64_t inbox_id = cJSON_IsNumber(inbox) ? (int64_t)inbox->valuedouble : 0;
    if (!inbox_id)
        return;   /* no store: nothing was promised durably */
    if (retry_add(rt, inbox_id) && tell) {
        char *t = router__notice_text(rt->app, true, true);
        router__notify_direct(rt, type, cJSON_GetObjectItemCaseSensitive(envelope, "payload"), t);
        free(t);
    }
    retry_arm(rt);
}

/* ---- claims: envelopes nobody holds any more ---- */

struct replay {
    struct router *rt;
    int n;
};

static bool replay_one(void *ud, int64_t id, const char *type, const char *json)
{
    struct replay *r = ud;
    cJSON *env = cJSON_Parse(json);
    r->n++;
    if (!cJSON_IsObject(env)) {
        LOG_ERROR("inbox: unreadable envelope dropped", "inbox_id:l", (long long)id);
        store_inbox_delete(r->rt->app->store, id);
        cJSON_Delete(env);
        return true;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(env, "sirt_inbox_id");
    cJSON_AddNumberToObject(env, "sirt_inbox_id", (double)id);
    LOG_WARN("inbox: handling an envelope its replica did not finish", "inbox_id:l type:s", (long long)id, type);
    if (router__work_one(r->rt, type, env, false) < 0)
        router__keep_for_replay(r->rt, type, env, false);   /* its sender heard from the last run, or hears nothing new */
    cJSON_Delete(env);
    return true;
}

/* Claims (a lease, in its own commit) and handles, a batch at a time, the
 * rows nobody holds: an earlier run's, or those of a replica that died or
 * stopped.  How many were claimed, or <0 when the inbox could not be read. */
static int claim_pass(struct router *rt)
{
    struct replay r = { rt, 0 };
    for (;;) {
        int before = r.n;
        int got = store_inbox_claim(rt->app->store, RETRY_BATCH, replay_one, &r);
        if (got < 0)
            return got;
        if (got < RETRY_BATCH || r.n == before)
            return r.n;
    }
}

static void on_sweep_timer(uv_timer_t *t);

static void sweep_start_loop(void *arg)
{
    struct router *rt = arg;
    if (rt->loop_app->loop && !rt->stopping && !rt->sweep_init) {
        uint64_t every = (uint64_t)store_lease_ms(rt->app->store) / 3;
        uv_timer_init(rt->loop_app->loop, &rt->sweep_timer);
        uv_unref((uv_handle_t *)&rt->sweep_timer);
        rt->sweep_init = true;
        uv_timer_start(&rt->sweep_timer, on_sweep_timer, every, every);
    }
}

/* Store thread, every third of a lease on a shared store: this replica's
 * leases are renewed, then rows whose replica is gone are claimed. */
static void sweep_st(struct store *st, void *arg)
{
    struct router *rt = arg;
    if (rt->sweeping)
        return;
    rt->sweeping = true;
    if (store_leases_renew(st) < 0)
        LOG_ERROR("leases: cannot renew; the work this replica holds may be taken over", "");
    int n = claim_pass(rt);
    if (n > 0)
        LOG_WARN("inbox: envelopes of a stopped replica taken over", "count:d", n);
    rt->sweeping = false;
}

static void on_sweep_timer(uv_timer_t *t)
{
    struct router *rt = container_of(t, struct router, sweep_timer);
    if (!rt->stopping)
        storeq_post(rt->loop_app->storeq, sweep_st, NULL, rt);
}

int router_replay_inbox(struct router *rt)
{
    if (!rt->app->store)
        return 0;
    int n = claim_pass(rt);
    if (n < 0) {
        /* Cannot even read the inbox: try again later. */
        LOG_ERROR("inbox: cannot claim the kept envelopes; retried later", "");
        rt->old_pending = true;
        retry_arm(rt);
        n = 0;
    }
    if (store_shared(rt->app->store) && rt->app->storeq)
        storeq_to_loop(rt->app->storeq, sweep_start_loop, rt);
    return n;
}
