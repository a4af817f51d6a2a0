/* scheduler: see scheduler.h.  Owns one uv_timer.  The agenda itself lives
 * in the store (timers table), so a restart loses nothing: at start the
 * timer is set to the earliest pending due moment, and timers that came
 * due while the bot was down fire at once. */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "../handlers/handlers.h"
#include "app.h"
#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "util.h"

#define FIRE_BATCH 32
#define MAX_DELAY_MS (6LL * 3600 * 1000)   /* re-check at least every 6 h (clock drift, DST) */

struct scheduler {
    struct sirt_app *app;
    uv_timer_t timer;
    bool started;
    bool closing;
    bool firing;
};

static void arm(struct scheduler *s);

/* Returns false on a store error (the due timers stay due). */
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
        int rc = store_timers_due(st, clock_now_ms(), FIRE_BATCH, &due, &n);
        if (rc != 0 || n == 0) {
            ok = rc == 0;
            sched_timers_free(due, n);
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const struct sirt_timer_kind *k = handlers_timer(due[i].kind);
            /* An earlier timer of this batch may have moved or cancelled
             * this one: fire only what is still pending as read. */
            struct sched_timer cur;
            memset(&cur, 0, sizeof(cur));
            bool live = store_timer_get(st, due[i].key, &cur) == 0 && cur.id == due[i].id;
            sched_timer_finish(&cur);
            if (!live)
                continue;
            if (store_begin(st) != 0) {
                ok = false;
                break;
            }
            if (store_timer_done(st, due[i].id) != 0) {
                store_rollback(st);
                ok = false;
                break;
            }
            if (k && k->fire) {
                LOG_INFO("timer fired", "kind:s incident:l", due[i].kind, (long long)due[i].incident_id);
                k->fire(s->app, &due[i]);
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
        outbox_kick(s->app->outbox);
        if (n < FIRE_BATCH)
            break;
    }
    s->firing = false;
    return ok;
}

static void on_timer(uv_timer_t *t)
{
    struct scheduler *s = container_of(t, struct scheduler, timer);
    if (fire_due(s)) {
        arm(s);
    } else {
        /* Looking again at once would find the same due timer: back off. */
        LOG_ERROR("scheduler: store error; retrying in 1 s", "");
        uv_timer_start(&s->timer, on_timer, 1000, 0);
    }
}

static void arm(struct scheduler *s)
{
    if (!s->started || s->closing)
        return;
    int64_t next = store_timer_next(s->app->store);
    if (next < 0) {
        uv_timer_start(&s->timer, on_timer, 1000, 0);   /* store trouble: look again soon */
        return;
    }
    if (next == INT64_MAX) {
        uv_timer_stop(&s->timer);
        return;
    }
    int64_t now = clock_now_ms();
    int64_t delay = next <= now ? 0 : next - now;
    if (delay > MAX_DELAY_MS)
        delay = MAX_DELAY_MS;
    uv_timer_start(&s->timer, on_timer, (uint64_t)delay, 0);
}

struct scheduler *scheduler_create(struct sirt_app *app)
{
    struct scheduler *s = xcalloc(1, sizeof(*s));
    s->app = app;
    uv_timer_init(app->loop, &s->timer);
    return s;
}

void scheduler_start(struct scheduler *s)
{
    s->started = true;
    arm(s);
}

void scheduler_kick(struct scheduler *s)
{
    if (s && s->started && !s->closing && !s->firing)
        arm(s);
}

static void on_closed(uv_handle_t *h)
{
    free(container_of((uv_timer_t *)h, struct scheduler, timer));
}

void scheduler_close(struct scheduler *s)
{
    if (!s)
        return;
    s->closing = true;
    uv_close((uv_handle_t *)&s->timer, on_closed);
}
