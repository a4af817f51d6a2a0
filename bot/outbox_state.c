/* outbox_state: the queue in memory of the outbox worker (struct outbox,
 * outbox_state.h), kept in step with the store on the store thread: the
 * jobs the commits created, the jobs claimed at start and by the lease
 * sweep, their dependencies, and the counts by state.  The queue owns its
 * jobs (outbox_queue.h); the store's lists are freed here once read. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "outbox_queue.h"
#include "outbox_state.h"
#include "store.h"


void outbox__count_move(struct outbox *o, int from, int to)
{
    if (from >= 0 && o->counts[from] > 0)
        o->counts[from]--;
    if (to >= 0)
        o->counts[to]++;
}

/* Sweep and renewal period: a third of the lease, at most 10 s. */
int64_t outbox__sweep_every_ms(const struct outbox *o)
{
    int64_t p = store_lease_ms(o->app->store) / 3;
    return p < 10000 ? (p < 1 ? 1 : p) : 10000;
}

/* The dependency dep of j: waited for while pending here or elsewhere;
 * read from the store only when neither the queue nor its memory of
 * finished jobs knows it (another replica's job, or one finished long ago). */
void outbox__resolve_dep(struct outbox *o, struct obq_job *j, int64_t dep)
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
            outbox__resolve_dep(o, j, c->deps[i]);
    }
    outbox_created_free(list);
}

/* Jobs claimed from the store (at start, or by the sweep) join the queue;
 * their soft waits on dependencies start again (obq_takeover). */
size_t outbox__adopt(struct outbox *o, struct outbox_job *jobs, size_t n, bool with_deps)
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
void outbox__sweep(struct outbox *o)
{
    struct store *s = o->app->store;
    int64_t now = clock_now_ms();
    o->next_sweep_ms = now + outbox__sweep_every_ms(o);
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
    size_t added = outbox__adopt(o, jobs, n, true);
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
