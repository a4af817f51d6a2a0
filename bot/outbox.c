/* outbox: the worker that turns committed outbox rows into effects (see
 * outbox.h).  Two sides: the store thread owns the due jobs in memory
 * (outbox_queue.h: loaded once at start, fed by the commits that create
 * jobs and by the lease sweep), the list of in-flight jobs and every
 * decision, and writes the store for durability only; the loop owns one
 * uv_timer (armed by message for the next due moment) and runs the effects.  Jobs
 * picked together are marked sending in one commit before their requests
 * leave (outbox_dispatch.c); outcomes that came back together are recorded
 * in one commit (outbox_outcome.c), so a SIGKILL at any point leaves a
 * consistent queue.  This file: the public calls, the queue in memory and
 * its lease sweep, the tick and its timer, start and stop. */
#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "outbox_internal.h"
#include "outbox_queue.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

_Static_assert(METRICS_OUTBOX_STATES == OUTBOX_N_STATES, "metrics and store disagree on outbox states");

static void schedule(struct outbox *o);
static void on_timer(uv_timer_t *t);
static void arm_loop(struct outbox *o, int64_t delay_ms);

size_t outbox_in_flight(const struct outbox *o)
{
    return o ? o->n_inflight : 0;
}

int64_t outbox_add(struct store *s, int64_t incident_id, const char *idem_key, const char *op,
                   const cJSON *payload, const int64_t *deps, size_t n_deps,
                   int64_t deps_deadline_ms)
{
    char *text = payload ? cJSON_PrintUnformatted(payload) : NULL;
    int64_t now = clock_now_ms();
    struct outbox_new j = {
        .incident_id = incident_id,
        .idem_key = idem_key,
        .op = op,
        .payload = text ? text : "{}",
        .next_at_ms = now,
        .deps_deadline_ms = deps_deadline_ms,
        .deps = deps,
        .n_deps = n_deps,
        .now_ms = now,
    };
    int64_t id = store_outbox_add(s, &j);
    if (id <= 0)
        LOG_ERROR("outbox: cannot add job", "op:s idem:s", op, idem_key);
    cJSON_free(text);
    return id;
}

uint64_t outbox_backoff_ms(int attempts, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd)
{
    uint64_t d = base_ms ? base_ms : 1;
    for (int i = 1; i < attempts && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    return d - d / 2 + rnd % (d / 2 + 1);   /* in [d/2, d]: never above the cap */
}

/* ---- the queue in memory (store thread) ---- */

void outbox__count_move(struct outbox *o, int from, int to)
{
    if (from >= 0 && o->counts[from] > 0)
        o->counts[from]--;
    if (to >= 0)
        o->counts[to]++;
}

/* Sweep and renewal period: a third of the lease, at most 10 s. */
static int64_t sweep_every_ms(const struct outbox *o)
{
    int64_t p = store_lease_ms(o->app->store) / 3;
    return p < 10000 ? (p < 1 ? 1 : p) : 10000;
}

/* The dependency dep of j: waited for while pending here or elsewhere;
 * read from the store only when neither the queue nor its memory of
 * finished jobs knows it (another replica's job, or one finished long ago). */
static void resolve_dep(struct outbox *o, struct obq_job *j, int64_t dep)
{
    int st = obq_state(o->q, dep);
    if (st < 0)
        st = store_outbox_state(o->app->store, dep);
    if (st == OUTBOX_PENDING || st == OUTBOX_SENDING)
        obq_add_dep(j, dep);
    else if (st == OUTBOX_FAILED)
        j->dep_failed = true;
    /* done, dropped, or gone: nothing to wait for */
}

/* j's unfinished dependencies as the store has them (claimed jobs, and
 * jobs waiting on another replica's). */
static void load_deps(struct outbox *o, struct obq_job *j)
{
    struct outbox_dep *deps = NULL;
    size_t n = 0;
    if (store_outbox_deps_of(o->app->store, j->job.id, &deps, &n) != 0)
        return;
    j->n_deps = 0;
    for (size_t i = 0; i < n; i++) {
        if (deps[i].dep_state == OUTBOX_FAILED)
            j->dep_failed = true;
        else
            obq_add_dep(j, deps[i].dep_id);
    }
    free(deps);
}

/* The jobs the commits since the last call created: ours, due as written. */
void outbox__take_created(struct outbox *o)
{
    struct outbox_created *list = store_outbox_take_created(o->app->store);
    for (struct outbox_created *c = list; c; c = c->next) {
        int64_t id = c->job.id;
        struct obq_job *j = obq_add(o->q, &c->job);
        if (!j)
            continue;
        (void)id;
        outbox__count_move(o, -1, OUTBOX_PENDING);
        for (size_t i = 0; i < c->n_deps; i++)
            resolve_dep(o, j, c->deps[i]);
    }
    outbox_created_free(list);
}

/* Jobs claimed from the store (at start, or by the sweep) join the queue;
 * their soft waits on dependencies start again (obq_takeover). */
static size_t adopt(struct outbox *o, struct outbox_job *jobs, size_t n, bool with_deps)
{
    size_t added = 0;
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct obq_job *j = obq_add(o->q, &jobs[i]);
        if (!j)
            continue;
        added++;
        obq_takeover(j, now);
        if (with_deps)
            load_deps(o, j);
    }
    return added;
}

/* Store thread, every sweep_every_ms: renews this replica's leases and
 * claims the jobs no one holds (a dead replica's, once its lease ended).
 * The only reading-to-find-work left: one bounded query. */
static void sweep(struct outbox *o)
{
    struct store *s = o->app->store;
    int64_t now = clock_now_ms();
    o->next_sweep_ms = now + sweep_every_ms(o);
    if (store_begin(s) != 0)
        return;
    store_outbox_renew(s, now);
    struct outbox_job *jobs = NULL;
    size_t n = 0;
    if (store_outbox_claim(s, now, false, 256, &jobs, &n) != 0 || store_commit(s) != 0) {
        if (store_txn_failed(s))
            store_rollback(s);
        outbox_jobs_free(jobs, n);
        return;
    }
    size_t added = adopt(o, jobs, n, true);
    outbox_jobs_free(jobs, n);
    if (added)
        LOG_WARN("outbox: jobs taken over from a replica whose lease ended (or from no one)", "jobs:l",
                 (long long)added);
    /* Jobs waiting on another replica's jobs: their states, read again. */
    for (struct obq_job *j = obq_first(o->q); j; j = j->next) {
        bool foreign = false;
        for (size_t i = 0; i < j->n_deps && !foreign; i++)
            foreign = obq_get(o->q, j->deps[i]) == NULL;
        if (foreign)
            load_deps(o, j);
    }
    /* Other replicas change the counts too: the truth, once a sweep. */
    int64_t counts[OUTBOX_N_STATES];
    if (store_outbox_counts(s, counts) == 0)
        memcpy(o->counts, counts, sizeof(counts));
}

/* Store thread: the gauges /metrics shows, from memory, kept here so a
 * scrape never waits on the store. */
static void update_gauges(struct outbox *o)
{
    int64_t oldest = obq_oldest(o->q);
    pthread_mutex_lock(&o->mu);
    o->gauges_ok = true;
    memcpy(o->gauges, o->counts, sizeof(o->counts));
    o->oldest_ms = oldest;
    pthread_mutex_unlock(&o->mu);
}

static void tick_inner(struct outbox *o);

/* Counts the store reads the outbox makes (sirt_outbox_store_reads_total). */
void outbox__tick(struct outbox *o)
{
    if (o->closing || o->ticking || !o->started)
        return;
    struct store_stats a, b;
    store_stats_get(o->app->store, &a);
    tick_inner(o);
    store_stats_get(o->app->store, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
}

static void tick_inner(struct outbox *o)
{
    o->ticking = true;
    struct store *s = o->app->store;
    outbox__take_created(o);
    if (clock_now_ms() >= o->next_sweep_ms)
        sweep(o);
    /* The jobs picked here are marked sending in one transaction. */
    bool began = store_begin(s) == 0;
    bool ok = began && outbox__pick_rounds(o);
    if (began && (store_txn_failed(s) || store_commit(s) != 0))
        ok = false;   /* the commit undid the marks: nothing leaves */
    if (began && !ok && store_txn_failed(s))
        store_rollback(s);
    outbox__take_created(o);
    outbox__starts_settle(o, ok, NULL, 0);
    o->ticking = false;
    update_gauges(o);
    if (ok) {
        schedule(o);
    } else {
        /* The store refused a write: the same jobs are still due, so
         * looking again at once would spin.  Try again in a second. */
        LOG_ERROR("outbox: store error; retrying in 1 s", "");
        arm_loop(o, 1000);
    }
}

static void tick_st(struct store *st, void *arg)
{
    (void)st;
    struct outbox *o = arg;
    pthread_mutex_lock(&o->mu);
    o->tick_posted = false;
    if (o->timer_fired)
        o->armed_for = 0;   /* a one-shot timer: set it again, whatever the moment */
    o->timer_fired = false;
    pthread_mutex_unlock(&o->mu);
    outbox__tick(o);
}

static void post_tick(struct outbox *o)
{
    pthread_mutex_lock(&o->mu);
    bool post = !o->tick_posted && !o->closing;
    o->tick_posted = true;
    pthread_mutex_unlock(&o->mu);
    if (post)
        storeq_post(o->loop_app->storeq, tick_st, NULL, o);
}

static void on_timer(uv_timer_t *t)
{
    struct outbox *o = container_of(t, struct outbox, timer);
    pthread_mutex_lock(&o->mu);
    o->timer_fired = true;
    pthread_mutex_unlock(&o->mu);
    post_tick(o);
}

struct arm {
    struct outbox *o;
    int64_t delay_ms;   /* < 0: stop */
};

static void arm_on_loop(void *arg)
{
    struct arm *a = arg;
    if (!a->o->closing) {
        if (a->delay_ms < 0)
            uv_timer_stop(&a->o->timer);
        else
            uv_timer_start(&a->o->timer, on_timer, (uint64_t)a->delay_ms, 0);
    }
    free(a);
}

static void arm_loop(struct outbox *o, int64_t delay_ms)
{
    o->armed_for = 0;   /* schedule() says which moment, when it knows */
    struct arm *a = xcalloc(1, sizeof(*a));
    a->o = o;
    a->delay_ms = delay_ms;
    storeq_to_loop(o->app->storeq, arm_on_loop, a);
}

/* Store thread: sets the one timer to the next moment something becomes
 * due, or the next sweep.  Full in flight: a completion ticks. */
static void schedule(struct outbox *o)
{
    if (o->closing)
        return;
    int64_t next = o->n_inflight >= OUTBOX_MAX_IN_FLIGHT ? INT64_MAX : obq_next_due(o->q);
    if (o->next_sweep_ms < next)
        next = o->next_sweep_ms;
    int64_t now = clock_now_ms();
    /* Each commit ticks: most ticks want the moment already set (the next
     * sweep), and a loop wake-up per reply for nothing is worth saving. */
    if (next > now && next == o->armed_for)
        return;
    arm_loop(o, next <= now ? 0 : next - now);
    o->armed_for = next;
}

void outbox_kick(struct outbox *o)
{
    if (!o || !o->started || o->closing)
        return;
    post_tick(o);
}

void outbox_st_committed(struct outbox *o)
{
    if (o && o->started && !o->closing && !o->ticking)
        outbox__tick(o);
}

void outbox_st_precommit(struct outbox *o)
{
    if (!o || !o->started || o->closing || o->ticking || store_txn_depth(o->app->store) != 1
        || store_txn_failed(o->app->store))
        return;
    struct store_stats a, b;
    store_stats_get(o->app->store, &a);
    o->ticking = true;
    o->pre = true;
    /* The transaction's own jobs join the queue now, tentatively. */
    struct outbox_created *list = store_outbox_take_created_in_txn(o->app->store);
    for (struct outbox_created *c = list; c; c = c->next) {
        int64_t id = c->job.id;
        struct obq_job *j = obq_add(o->q, &c->job);
        if (!j)
            continue;
        outbox__count_move(o, -1, OUTBOX_PENDING);
        for (size_t i = 0; i < c->n_deps; i++)
            resolve_dep(o, j, c->deps[i]);
        if (o->n_tent == o->cap_tent) {
            o->cap_tent = o->cap_tent ? 2 * o->cap_tent : 16;
            o->tent = xrealloc(o->tent, o->cap_tent * sizeof(*o->tent));
        }
        o->tent[o->n_tent++] = id;
    }
    outbox_created_free(list);
    if (!outbox__pick_rounds(o))
        o->pre_failed = true;
    store_stats_get(o->app->store, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
}

void outbox_st_postcommit(struct outbox *o, bool committed)
{
    if (!o)
        return;
    if (!o->pre) {
        if (committed)
            outbox_st_committed(o);
        return;
    }
    bool ok = committed && !o->pre_failed;
    o->pre = o->pre_failed = false;
    outbox__starts_settle(o, ok, o->tent, o->n_tent);
    o->n_tent = 0;
    o->ticking = false;
    if (committed) {
        outbox__take_created(o);   /* e.g. failure notices of jobs failed in there */
        int64_t now = clock_now_ms();
        if (now >= o->next_sweep_ms || obq_next_due(o->q) <= now) {
            outbox__tick(o);       /* more is due: its own transaction */
            return;
        }
    }
    update_gauges(o);
    schedule(o);
}

void outbox_st_rolled_back(struct outbox *o)
{
    /* The store forgot the jobs of the rolled-back transaction: nothing
     * of them reached the queue. */
    (void)o;
}

struct outbox *outbox_create(struct sirt_app *app)
{
    struct outbox *o = xcalloc(1, sizeof(*o));
    o->loop_app = app;
    o->app = app->st_app ? app->st_app : app;
    o->q = obq_create();
    /* From now on (before the store thread starts) the commits that
     * create jobs report them, including those of an inbox replay that
     * runs before outbox_start. */
    if (app->store)
        store_outbox_track(app->store, true);
    pthread_mutex_init(&o->mu, NULL);
    uv_timer_init(app->loop, &o->timer);
    return o;
}

/* Called by metrics_render on the loop: reads what the store thread kept. */
static bool probe(void *ud, int64_t counts[METRICS_OUTBOX_STATES], int64_t *oldest_age_ms)
{
    struct outbox *o = ud;
    pthread_mutex_lock(&o->mu);
    bool ok = o->gauges_ok;
    memcpy(counts, o->gauges, sizeof(o->gauges));
    int64_t oldest = o->oldest_ms;
    pthread_mutex_unlock(&o->mu);
    int64_t now = clock_now_ms();
    *oldest_age_ms = oldest == INT64_MAX || oldest > now ? 0 : now - oldest;
    return ok;
}

/* Store thread, once: the jobs no live replica holds become ours (on
 * SQLite every job: one process), the queue is loaded from them, and from
 * now on the commits that create jobs report them. */
static void start_st(struct store *st, void *arg)
{
    struct outbox *o = arg;
    struct store_stats a, b;
    store_stats_get(st, &a);
    int64_t now = clock_now_ms();
    size_t recovered = 0, total = 0;
    if (store_begin(st) == 0) {
        for (;;) {
            struct outbox_job *jobs = NULL;
            size_t n = 0;
            if (store_outbox_claim(st, now, true, 1024, &jobs, &n) != 0)
                break;
            for (size_t i = 0; i < n; i++)
                recovered += jobs[i].maybe_sent && jobs[i].attempts > 0;
            total += adopt(o, jobs, n, false);
            outbox_jobs_free(jobs, n);
            if (n < 1024)
                break;
        }
        if (store_commit(st) != 0) {
            obq_destroy(o->q);
            o->q = obq_create();
            total = 0;
        }
    }
    outbox__take_created(o);   /* ours already, e.g. from an inbox replay */
    /* Their dependencies: one read for all. */
    struct outbox_dep *deps = NULL;
    size_t nd = 0;
    if (total && store_outbox_pending_deps(st, &deps, &nd) == 0) {
        for (size_t i = 0; i < nd; i++) {
            struct obq_job *j = obq_get(o->q, deps[i].job_id);
            if (!j)
                continue;
            if (deps[i].dep_state == OUTBOX_FAILED)
                j->dep_failed = true;
            else
                obq_add_dep(j, deps[i].dep_id);
        }
    }
    free(deps);
    if (store_outbox_counts(st, o->counts) == 0 && o->counts[OUTBOX_PENDING])
        LOG_INFO("outbox: pending jobs at start", "pending:l failed:l ours:l", (long long)o->counts[OUTBOX_PENDING],
                 (long long)o->counts[OUTBOX_FAILED], (long long)total);
    if (recovered)
        LOG_WARN("outbox: jobs interrupted by a stop are retried with reconciliation", "jobs:l",
                 (long long)recovered);
    o->next_sweep_ms = now + sweep_every_ms(o);
    store_stats_get(st, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
    o->started = true;
    outbox__tick(o);
}

int outbox_start(struct outbox *o)
{
    if (o->started)
        return 0;
    metrics_set_outbox_probe(o->loop_app->metrics, probe, o);
    storeq_post(o->loop_app->storeq, start_st, NULL, o);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct outbox *o = container_of((uv_timer_t *)h, struct outbox, timer);
    o->timer_closed = true;
}

/* Store thread, at a clean stop: this replica's jobs are anyone's now (the
 * outcomes still coming only record what happened). */
static void release_st(struct store *st, void *arg)
{
    struct outbox *o = arg;
    if (!o->started)
        return;
    int n = store_outbox_release(st);
    if (n > 0)
        LOG_INFO("outbox: leases released", "jobs:d", n);
    store_outbox_track(st, false);
    outbox_created_free(store_outbox_take_created(st));
}

void outbox_close(struct outbox *o)
{
    if (!o)
        return;
    metrics_set_outbox_probe(o->loop_app->metrics, NULL, NULL);
    pthread_mutex_lock(&o->mu);
    o->closing = true;
    pthread_mutex_unlock(&o->mu);
    storeq_post(o->loop_app->storeq, release_st, NULL, o);
    uv_close((uv_handle_t *)&o->timer, on_timer_closed);
}

void outbox_destroy(struct outbox *o)
{
    if (!o)
        return;
    while (o->out_head) {
        struct outbox_outcome *c = o->out_head;
        o->out_head = c->next;
        free(c->error);
        free(c->new_payload);
        cJSON_Delete(c->result);
        free(c);
    }
    while (o->inflight)
        outbox__finish_inflight(o, o->inflight);
    obq_destroy(o->q);
    free(o->tent);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
