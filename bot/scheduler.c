/* scheduler: see scheduler.h.  Owns one uv_timer on the loop, armed by
 * message from the store thread, which reads the agenda, claims the due
 * timers (a lease, so each fires once whichever replicas are up) and fires
 * them.  The agenda itself lives in the store (timers table), so a
 * restart loses nothing: at start the timer is set to the earliest pending
 * due moment, and timers that came due while the bot was down fire at once.
 * Freed by scheduler_destroy once the timer is closed and the store thread
 * has ended. */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "dispatch.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

#define FIRE_BATCH 32
#define MAX_DELAY_MS (6LL * 3600 * 1000)   /* re-check at least every 6 h (clock drift, DST) */

struct scheduler {
    struct sirt_app *app;        /* the store thread's view */
    struct sirt_app *loop_app;
    const struct sched_kinds *kinds;   /* borrowed from the composition root */
    const struct hctx *ctx;      /* what the timer kinds fire with; borrowed likewise */
    uv_timer_t timer;            /* loop */
    bool started;                /* store thread */
    bool closing;                /* loop; checked by the loop's messages */
    bool firing;                 /* store thread */
    int64_t armed_for;           /* store thread: wake moment last sent to the loop (0: none) */
    bool armed_capped;           /* store thread: that wake is a re-check, not a due moment */
};

static void arm_loop(struct scheduler *s, int64_t delay_ms, int64_t due);

static void arm(struct scheduler *s);

/* Returns false on a store error (the due timers stay due).  Due timers are
 * claimed first (a lease in their own commit, so replicas firing at the
 * same moment split them), then each fires in its own transaction that
 * also marks it done, only if it is still this replica's to fire. */
static bool fire_due(struct scheduler *s)
{
    struct store *st = s->app->store;
    bool ok = true;
    if (s->firing)
        return true;
    s->firing = true;
    for (int round = 0; ok && round < 16; round++) {
        struct sched_timer *due = NULL;
        size_t n = 0;
        int rc = store_timers_claim(st, clock_now_ms(), FIRE_BATCH, &due, &n);
        if (rc != 0 || n == 0) {
            ok = rc == 0;
            sched_timers_free(due, n);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const struct sirt_timer_kind *k = s->kinds->find(due[i].kind);
            if (store_begin(st) != 0) {
                ok = false;
                break;
            }
            /* An earlier timer of this batch may have moved or cancelled
             * this one, and another replica may have taken it over. */
            rc = store_timer_fire(st, due[i].id, clock_now_ms());
            if (rc == STORE_ENOTFOUND) {
                store_rollback(st);
                continue;
            }
            if (rc != 0) {
                store_rollback(st);
                ok = false;
                break;
            }
            if (k && k->fire) {
                LOG_INFO("timer fired", "kind:s incident:l", due[i].kind, (long long)due[i].incident_id);
                k->fire(s->ctx, &due[i]);
            } else {
                LOG_WARN("timer of unknown kind dropped", "kind:s", due[i].kind);
            }
            if (store_commit(st) != 0) {
                LOG_ERROR("timer: cannot record its effects; it stays due", "kind:s", due[i].kind);
                ok = false;
                break;
            }
        }
        sched_timers_free(due, n);
        outbox_st_committed(s->app->outbox);
        if (n < FIRE_BATCH)
            break;
    }
    s->firing = false;
    return ok;
}

static void fire_st(struct store *st, void *arg)
{
    (void)st;
    struct scheduler *s = arg;
    s->armed_for = 0;
    if (fire_due(s)) {
        arm(s);
    } else {
        /* Looking again at once would find the same due timer: back off. */
        LOG_ERROR("scheduler: store error; retrying in 1 s", "");
        arm_loop(s, 1000, 0);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct scheduler *s = container_of(t, struct scheduler, timer);
    storeq_post(s->loop_app->storeq, fire_st, NULL, s);
}

struct arm_msg {
    struct scheduler *s;
    int64_t delay_ms;   /* < 0: stop */
};

static void arm_on_loop(void *arg)
{
    struct arm_msg *m = arg;
    if (!m->s->closing) {
        if (m->delay_ms < 0)
            uv_timer_stop(&m->s->timer);
        else
            uv_timer_start(&m->s->timer, on_timer, (uint64_t)m->delay_ms, 0);
    }
    free(m);
}

static void arm_loop(struct scheduler *s, int64_t delay_ms, int64_t due)
{
    s->armed_for = due;
    struct arm_msg *m = xcalloc(1, sizeof(*m));
    m->s = s;
    m->delay_ms = delay_ms;
    storeq_to_loop(s->app->storeq, arm_on_loop, m);
}

/* Store thread: one read of the earliest due moment; the loop hears only
 * when it changed. */
static void arm(struct scheduler *s)
{
    if (!s->started)
        return;
    int64_t now = clock_now_ms();
    int64_t next = store_timer_next(s->app->store, now);
    if (next < 0) {
        arm_loop(s, 1000, 0);   /* store trouble: look again soon */
        return;
    }
    /* On a shared store other replicas add timers this one never hears
     * of: look again every third of a lease (the sweep), so a timer whose
     * creator died fires about a lease after its due moment at the latest. */
    int64_t max_delay = MAX_DELAY_MS;
    if (store_shared(s->app->store))
        max_delay = store_lease_ms(s->app->store) / 3;
    if (next == INT64_MAX && !store_shared(s->app->store)) {
        if (s->armed_for != INT64_MAX)
            arm_loop(s, -1, INT64_MAX);
        return;
    }
    bool capped = next > now && next - now > max_delay;
    int64_t when = capped ? now + max_delay : next;
    /* A capped wake already set no later than needed stays: commits must
     * not keep pushing the sweep away. */
    if (capped ? s->armed_capped && s->armed_for > now && s->armed_for <= when : when == s->armed_for)
        return;
    arm_loop(s, when <= now ? 0 : when - now, when);
    s->armed_capped = capped;
}

struct scheduler *scheduler_create(struct sirt_app *app, const struct sched_kinds *kinds, const struct hctx *ctx)
{
    struct scheduler *s = xcalloc(1, sizeof(*s));
    s->kinds = kinds;
    s->ctx = ctx;
    s->loop_app = app;
    s->app = app->st_app ? app->st_app : app;
    uv_timer_init(app->loop, &s->timer);
    return s;
}

static void start_st(struct store *st, void *arg)
{
    (void)st;
    struct scheduler *s = arg;
    s->started = true;
    arm(s);
}

void scheduler_start(struct scheduler *s)
{
    storeq_post(s->loop_app->storeq, start_st, NULL, s);
}

static void kick_st(struct store *st, void *arg)
{
    (void)st;
    struct scheduler *s = arg;
    s->armed_for = 0;   /* the clock may have moved: arm again whatever the due moment */
    if (!s->firing)
        arm(s);
}

void scheduler_kick(struct scheduler *s)
{
    if (s && !s->closing)
        storeq_post(s->loop_app->storeq, kick_st, NULL, s);
}

void scheduler_st_changed(struct scheduler *s)
{
    if (s && !s->firing)
        arm(s);
}

void scheduler_close(struct scheduler *s)
{
    if (!s)
        return;
    s->closing = true;
    uv_close((uv_handle_t *)&s->timer, NULL);
}

void scheduler_destroy(struct scheduler *s)
{
    free(s);
}
