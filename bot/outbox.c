/* outbox: the worker that turns committed outbox rows into effects (see
 * outbox.h).  Two sides: the store thread owns the due jobs in memory
 * (outbox_queue.h: loaded once at start, fed by the commits that create
 * jobs and by the lease sweep), the list of in-flight jobs and every
 * decision, and writes the store for durability only; the loop owns one
 * uv_timer (armed by message for the next due moment) and runs the effects.  Jobs
 * picked together (outbox_dispatch.c) are marked sending in one commit
 * before their requests leave; outcomes that came back together are
 * recorded in one commit (each by outbox_outcome.c), so a SIGKILL at any
 * point leaves a consistent queue.  This file: the public calls, sending
 * the picked jobs and receiving their outcomes, the tick and its timer,
 * start and stop; the queue in memory is outbox_state.c's. */
#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "outbox_dispatch.h"
#include "outbox_outcome.h"
#include "outbox_queue.h"
#include "outbox_state.h"
#include "scheduler.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

_Static_assert(METRICS_OUTBOX_STATES == OUTBOX_N_STATES, "metrics and store disagree on outbox states");

static void tick(struct outbox *o);
static void on_effect_done(void *ud, const struct effect_result *r);
static void schedule(struct outbox *o);
static void on_timer(uv_timer_t *t);
static void arm_loop(struct outbox *o, int64_t delay_ms);

size_t outbox_in_flight(const struct outbox *o)
{
    return o ? o->n_inflight : 0;
}

/* ---- jobs out and outcomes back ---- */

static void start_free(struct outbox_start *sp)
{
    outbox_job_finish(&sp->job);
    cJSON_Delete(sp->payload);
    incident_finish(&sp->inc);
    free(sp);
}

/* Loop: the requests of the jobs just marked sending leave. */
static void starts_on_loop(void *arg)
{
    struct outbox_start *list = arg;
    while (list) {
        struct outbox_start *sp = list;
        list = sp->next;
        if (sp->f->o->closing) {   /* stays sending: retried with reconciliation at the next start */
            start_free(sp);
            continue;
        }
        cJSON *payload = sp->payload;   /* the effect's from here on */
        sp->payload = NULL;
        effect_start(sp->f->o->loop_app, &sp->job, payload, sp->have_inc ? &sp->inc : NULL, on_effect_done,
                     sp->f);
        start_free(sp);
    }
}

/* The transaction that marked o->starts ended: committed (ok), their
 * requests leave; otherwise they stay pending, and the jobs that the
 * transaction itself created (tent, n_tent) leave the queue with it. */
static void starts_settle(struct outbox *o, bool ok, const int64_t *tent, size_t n_tent)
{
    struct outbox_start *list = o->starts;
    o->starts = NULL;
    for (struct outbox_start *sp = list; sp; sp = sp->next) {
        struct obq_job *j = obq_get(o->q, sp->job.id);
        if (!j)
            continue;
        if (ok) {
            j->job.attempts = sp->job.attempts;
            j->job.first_due_ms = sp->job.first_due_ms;
            outbox__count_move(o, OUTBOX_PENDING, OUTBOX_SENDING);
        } else {
            j->inflight = false;
        }
    }
    for (size_t i = 0; !ok && i < n_tent; i++) {
        struct obq_job *j = obq_get(o->q, tent[i]);
        if (j) {
            outbox__count_move(o, OUTBOX_PENDING, -1);
            obq_remove(o->q, j);
        }
    }
    if (ok) {
        if (list)
            storeq_to_loop(o->app->storeq, starts_on_loop, list);
    } else {
        while (list) {
            struct outbox_start *sp = list;
            list = sp->next;
            outbox__finish_inflight(o, sp->f);
            start_free(sp);
        }
    }
}

static void outcomes_st(struct store *st, void *arg)
{
    struct outbox *o = arg;
    pthread_mutex_lock(&o->mu);
    struct outbox_outcome *list = o->out_head;
    o->out_head = o->out_tail = NULL;
    o->outcome_posted = false;
    bool closing = o->closing;
    pthread_mutex_unlock(&o->mu);
    if (!list)
        return;
    /* Every outcome that came back together: one commit. */
    struct store_stats sa, sb;
    store_stats_get(st, &sa);
    bool began = store_begin(st) == 0;
    if (!began)
        LOG_ERROR("outbox: store unavailable; jobs stay sending until restart", "");
    else
        store_txn_relax(st);   /* lost only with the server: the jobs stay sending, retried as maybe sent */
    for (struct outbox_outcome *c = list; c && began; c = c->next) {
        struct effect_result r = { c->outcome, c->error ? c->error : "", c->retry_after_ms, c->maybe_sent, c->result };
        outbox__apply_outcome(o, c->f, &r, closing, c);
    }
    bool ok = began && store_commit(st) == 0;
    if (began && !ok)   /* rolled back; the jobs stay sending (and ours) until restart */
        LOG_ERROR("outbox: cannot record the outcomes", "");
    bool woke = false;   /* a result set a timer ("wake"): the scheduler re-reads its agenda */
    for (struct outbox_outcome *c = list; c && ok && !woke; c = c->next)
        woke = c->outcome == EFFECT_DONE && cJSON_GetObjectItemCaseSensitive(c->result, "wake");
    if (woke)
        scheduler_st_changed(o->app->scheduler);
    store_stats_get(st, &sb);
    metrics_outbox_reads(o->app->metrics, sb.reads - sa.reads);
    while (list) {
        struct outbox_outcome *c = list;
        list = c->next;
        struct obq_job *j = obq_get(o->q, c->f->job_id);
        if (j && !ok) {
            obq_remove(o->q, j);
        } else if (j && c->final_state >= 0) {
            outbox__count_move(o, OUTBOX_SENDING, c->final_state);
            obq_finished(o->q, c->f->job_id, (enum outbox_state)c->final_state);
        } else if (j) {
            outbox__count_move(o, OUTBOX_SENDING, OUTBOX_PENDING);
            j->inflight = false;
            j->job.next_at_ms = c->next_at_ms;
            j->job.maybe_sent = j->job.maybe_sent || c->maybe_sent;
            if (c->new_payload) {
                free(j->job.payload);
                j->job.payload = c->new_payload;
                c->new_payload = NULL;
            }
        }
        outbox__finish_inflight(o, c->f);
        free(c->error);
        free(c->new_payload);
        cJSON_Delete(c->result);
        free(c);
    }
    if (!closing)
        tick(o);
}

/* Loop: an effect reported back; its outcome goes to the store thread. */
static void on_effect_done(void *ud, const struct effect_result *r)
{
    struct outbox_inflight *f = ud;
    struct outbox *o = f->o;
    struct outbox_outcome *c = xcalloc(1, sizeof(*c));
    c->f = f;
    c->outcome = r->outcome;
    c->error = r->error ? xstrdup(r->error) : NULL;
    c->retry_after_ms = r->retry_after_ms;
    c->maybe_sent = r->maybe_sent;
    c->result = r->result ? cJSON_Duplicate(r->result, true) : NULL;
    pthread_mutex_lock(&o->mu);
    if (o->out_tail)
        o->out_tail->next = c;
    else
        o->out_head = c;
    o->out_tail = c;
    bool post = !o->outcome_posted;
    o->outcome_posted = true;
    pthread_mutex_unlock(&o->mu);
    if (post)
        storeq_post(o->loop_app->storeq, outcomes_st, NULL, o);
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
static void tick(struct outbox *o)
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
        outbox__sweep(o);
    /* The jobs picked here are marked sending in one transaction. */
    bool began = store_begin(s) == 0;
    bool ok = began && outbox__pick_rounds(o);
    if (began && (store_txn_failed(s) || store_commit(s) != 0))
        ok = false;   /* the commit undid the marks: nothing leaves */
    if (began && !ok && store_txn_failed(s))
        store_rollback(s);
    outbox__take_created(o);
    starts_settle(o, ok, NULL, 0);
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
    tick(o);
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
        tick(o);
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
            outbox__resolve_dep(o, j, c->deps[i]);
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
    starts_settle(o, ok, o->tent, o->n_tent);
    o->n_tent = 0;
    o->ticking = false;
    if (committed) {
        outbox__take_created(o);   /* e.g. failure notices of jobs failed in there */
        int64_t now = clock_now_ms();
        if (now >= o->next_sweep_ms || obq_next_due(o->q) <= now) {
            tick(o);       /* more is due: its own transaction */
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
            total += outbox__adopt(o, jobs, n, false);
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
    o->next_sweep_ms = now + outbox__sweep_every_ms(o);
    store_stats_get(st, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
    o->started = true;
    tick(o);
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
