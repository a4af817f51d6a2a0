/* router: turns envelopes into handler calls (see router.h).  This file
 * holds the router itself and its two paths: the ingest list the loop fills
 * (guarded by mu) and the store thread drains in one commit, then the work
 * of the kept envelopes, batched in one transaction.  The rest is in
 * router_dispatch.c (envelope -> request -> handler, the work's
 * transaction), router_keep.c (the inbox row, and the notices when the
 * store fails) and router_replay.c (replaying kept envelopes, claiming a
 * dead replica's).  The loop side owns the ingest list, the timers and the
 * sending of acks and direct notices; the store-thread side owns the
 * event-id de-duplication set, the list of inbox rows whose work failed,
 * and runs every handler with rt->ctx (rt->app is the store thread's view
 * of the app, for the platform's own use).
 * An envelope is owned by its env_item until freed. */
#include "router.h"
#include "router_state.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dedup.h"
#include "dispatch.h"
#include "log.h"
#include "mask.h"
#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "outbox.h"
#include "scheduler.h"
#include "slack_api.h"
#include "socket_mode.h"
#include "store.h"
#include "storeq.h"
#include "util.h"

#define DEDUP_CAPACITY 8192

/* ---- entry points ---- */

struct router *router_create(struct sirt_app *app, const struct router_table *table, const struct hctx *ctx)
{
    struct router *r = xcalloc(1, sizeof(*r));
    r->table = table;
    r->ctx = ctx;
    r->loop_app = app;
    r->app = app->st_app ? app->st_app : app;
    r->dedup = dedup_create(DEDUP_CAPACITY);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void env_item_free(struct env_item *it)
{
    cJSON_Delete(it->env);
    cJSON_Delete(it->ack);
    if (it->tok)
        sm_ack(NULL, it->tok, NULL);
    free(it);
}

/* The retry timer is closed with the loop's other handles (main's
 * close_walk) before this runs, and the store thread has ended. */
void router_destroy(struct router *r)
{
    if (!r)
        return;
    while (r->in_head) {
        struct env_item *it = r->in_head;
        r->in_head = it->next;
        env_item_free(it);
    }
    while (r->work_head) {
        struct env_item *it = r->work_head;
        r->work_head = it->next;
        env_item_free(it);
    }
    dedup_destroy(r->dedup);
    pthread_mutex_destroy(&r->mu);
    free(r->retry);
    free(r);
}

void router_stop(struct router *r)
{
    if (r)
        r->stopping = true;
}

cJSON *router_ack(void *router, const char *type, cJSON *envelope, bool *want_work)
{
    struct router *rt = router;
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(envelope, "payload");
    *want_work = false;
    cJSON *ack = router__ack_dispatch(rt, type, payload, want_work);
    if (*want_work && rt->app->store)
        router__keep_alone(rt, type, envelope, &ack, want_work);
    return ack;
}

/* ---- the store thread: group commit of what arrived together ---- */

/* Every envelope of the batch that needs work, durable in one commit.
 * False when anything failed: nothing of it was committed. */
static bool keep_batch(struct router *rt, struct env_item *batch, size_t *n_kept)
{
    struct store *st = rt->app->store;
    size_t n = 0;
    for (struct env_item *it = batch; it; it = it->next)
        n += it->want_work;
    *n_kept = 0;
    if (!n)
        return true;
    if (store_begin(st) != 0)
        return false;
    int64_t *ids = xcalloc(n, sizeof(*ids));
    size_t k = 0;
    bool ok = true;
    for (struct env_item *it = batch; it && ok; it = it->next) {
        if (!it->want_work)
            continue;
        ids[k] = router__keep_one(rt, it->type, it->env);
        ok = ids[k++] >= 0;
    }
    if (!ok || store_txn_failed(st)) {
        store_rollback(st);
        ok = false;
    } else if (store_commit(st) != 0) {
        ok = false;
    }
    if (ok) {
        k = 0;
        for (struct env_item *it = batch; it; it = it->next) {
            if (!it->want_work)
                continue;
            if (ids[k] > 0) {
                router__set_inbox_id(it->env, ids[k]);
                (*n_kept)++;
            } else {
                it->want_work = false;   /* a duplicate event */
            }
            k++;
        }
    }
    free(ids);
    return ok;
}

struct ack_batch {
    struct router *rt;
    size_t n;
    struct sm_ack **toks;
    cJSON **acks;
};

static void acks_on_loop(void *arg)
{
    struct ack_batch *b = arg;
    for (size_t i = 0; i < b->n; i++)
        sm_ack(b->rt->loop_app->sm, b->toks[i], b->acks[i]);
    free(b->toks);
    free(b->acks);
    free(b);
}

/* The acks of the batch's items not acked yet (all, or only the done ones)
 * go to the loop, in the batch's order. */
static void send_acks(struct router *rt, struct env_item *batch, bool only_done)
{
    size_t n = 0;
    for (struct env_item *it = batch; it; it = it->next)
        n += !it->acked && (!only_done || it->done);
    if (!n)
        return;
    struct ack_batch *b = xcalloc(1, sizeof(*b));
    b->rt = rt;
    b->toks = xcalloc(n, sizeof(*b->toks));
    b->acks = xcalloc(n, sizeof(*b->acks));
    for (struct env_item *it = batch; it; it = it->next) {
        if (it->acked || (only_done && !it->done))
            continue;
        b->toks[b->n] = it->tok;
        b->acks[b->n++] = it->ack;
        it->tok = NULL;
        it->ack = NULL;
        it->acked = true;
    }
    storeq_to_loop(rt->app->storeq, acks_on_loop, b);
}

/* One envelope alone (one in flight): when it is an event or a slash
 * command (router__inline_type), its work runs before its ack, in one
 * transaction with its event id and no inbox row: one commit makes it
 * durable and done, the outbox marks its jobs sending in that commit, and
 * its ack and its requests leave together.  A burst keeps the usual path
 * (the inbox rows in one commit, the acks, then the handlers), so that its
 * acks never wait for its handlers.  When the handler or the commit fails,
 * nothing of it stays and the envelope takes the usual path (kept in the
 * inbox, then run again).  The item, when handled, is marked done (no work
 * left) and acked. */
static void work_inline(struct router *rt, struct env_item *batch)
{
    struct store *st = rt->app->store;
    struct env_item *one = NULL;
    for (struct env_item *it = batch; it; it = it->next) {
        if (!it->want_work)
            continue;
        if (one)
            return;
        one = it;
    }
    if (!one || !router__inline_type(one->type) || store_begin(st) != 0)
        return;
    bool ok = router__work_inline(rt, one->type, one->env) >= 0;
    if (ok) {
        one->done = true;
        outbox_st_precommit(rt->app->outbox);   /* its jobs marked sending in the same commit */
        ok = store_commit(st) == 0;             /* on failure rolled back, all of it */
        if (ok)
            send_acks(rt, batch, true);          /* before its requests */
        outbox_st_postcommit(rt->app->outbox, ok);
    } else if (store_txn_depth(st) == 1) {
        store_rollback(st);
    }
    if (ok) {
        one->want_work = false;
        scheduler_st_changed(rt->app->scheduler);
        metrics_store_batch(rt->app->metrics, 1);
    } else {
        one->done = false;
        outbox_st_rolled_back(rt->app->outbox);
    }
}

static void work_batch_st(struct store *st, void *arg);

static void ingest_st(struct store *st, void *arg)
{
    (void)st;
    struct router *rt = arg;
    pthread_mutex_lock(&rt->mu);
    struct env_item *batch = rt->in_head;
    rt->in_head = rt->in_tail = NULL;
    rt->ingest_posted = false;
    pthread_mutex_unlock(&rt->mu);

    for (struct env_item *it = batch; it; it = it->next) {
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(it->env, "payload");
        it->ack = router__ack_dispatch(rt, it->type, payload, &it->want_work);
        if (!rt->app->store)
            it->want_work = false;
    }
    if (rt->app->store)
        work_inline(rt, batch);
    size_t kept = 0;
    if (rt->app->store && !keep_batch(rt, batch, &kept)) {
        /* One of them failed: each on its own, so only the ones that
         * cannot be kept are refused. */
        for (struct env_item *it = batch; it; it = it->next)
            if (it->want_work)
                router__keep_alone(rt, it->type, it->env, &it->ack, &it->want_work);
    } else if (kept) {
        metrics_store_batch(rt->app->metrics, kept);
    }
    /* Durable (done, or kept): the acks go out now, before any handler
     * of a kept envelope runs. */
    send_acks(rt, batch, false);
    while (batch) {
        struct env_item *it = batch;
        batch = it->next;
        it->next = NULL;
        if (!it->want_work) {
            env_item_free(it);
            continue;
        }
        if (rt->work_tail)
            rt->work_tail->next = it;
        else
            rt->work_head = it;
        rt->work_tail = it;
    }
    if (rt->work_head && !rt->work_posted) {
        rt->work_posted = true;
        storeq_post(rt->app->storeq, work_batch_st, NULL, rt);
    }
}

void router_envelope(void *router, struct sm_ack *tok, const char *type, cJSON *envelope)
{
    struct router *rt = router;
    struct env_item *it = xcalloc(1, sizeof(*it));
    it->rt = rt;
    it->tok = tok;
    if (!rt->loop_app->storeq) {   /* shutting down: Slack sends it again */
        it->env = envelope;
        env_item_free(it);
        return;
    }
    if (router__ack_store_free(rt, tok, type, envelope)) {
        it->tok = NULL;
        it->env = envelope;
        env_item_free(it);
        return;
    }
    str_lcpy(it->type, type, sizeof(it->type));
    it->env = envelope;
    pthread_mutex_lock(&rt->mu);
    if (rt->in_tail)
        rt->in_tail->next = it;
    else
        rt->in_head = it;
    rt->in_tail = it;
    bool post = !rt->ingest_posted;
    rt->ingest_posted = true;
    pthread_mutex_unlock(&rt->mu);
    if (post)
        storeq_post_urgent(rt->loop_app->storeq, ingest_st, NULL, rt);
}

void router_work(void *router, const char *type, const cJSON *envelope)
{
    struct router *rt = router;
    if (router__work_one(rt, type, envelope, false) < 0)
        router__keep_for_replay(rt, type, envelope, true);
}

/* Store thread: the handlers of every kept envelope waiting, each in a
 * savepoint of one transaction, so a burst costs one commit (one fsync on
 * PostgreSQL) instead of one each.  A handler that fails rolls back its own
 * savepoint only.  When the commit itself fails (or a write failed with an
 * I/O error, which fails the whole transaction), nothing of the batch is
 * durable: each envelope runs again alone, as it would have unbatched. */
static void work_batch_st(struct store *st, void *arg)
{
    struct router *rt = arg;
    struct env_item *list = rt->work_head;
    rt->work_head = rt->work_tail = NULL;
    rt->work_posted = false;
    if (!list)
        return;
    if (!list->next || !st) {
        while (list) {
            struct env_item *it = list;
            list = it->next;
            router_work(rt, it->type, it->env);
            env_item_free(it);
        }
        return;
    }
    /* Per envelope: 0 not run (or its failure ended the transaction),
     * 1 handled inside the batch, 2 failed alone and kept for replay. */
    size_t n = 0;
    for (struct env_item *it = list; it; it = it->next)
        n++;
    unsigned char *fate = xcalloc(n, 1);
    bool ok = store_begin(st) == 0;
    size_t i = 0;
    for (struct env_item *it = list; it && ok; it = it->next, i++) {
        if (router__work_one(rt, it->type, it->env, true) >= 0) {
            fate[i] = 1;
        } else if (!store_txn_failed(st) && store_txn_depth(st) == 1) {
            fate[i] = 2;   /* its savepoint rolled back; the others stand */
            router__keep_for_replay(rt, it->type, it->env, true);
        } else {
            ok = false;    /* the transaction is failed or gone: no savepoint helps */
        }
    }
    if (ok) {
        outbox_st_precommit(rt->app->outbox);   /* their jobs marked sending in the same commit */
        ok = store_commit(st) == 0;             /* on failure rolled back, all of it */
        outbox_st_postcommit(rt->app->outbox, ok);
    } else if (store_txn_depth(st) == 1) {
        store_rollback(st);
    }
    if (ok) {
        scheduler_st_changed(rt->app->scheduler);
    } else {
        LOG_WARN("handlers: a batch could not commit; its envelopes run again one by one", "envelopes:l",
                 (long long)n);
        outbox_st_rolled_back(rt->app->outbox);
    }
    for (i = 0; list; i++) {
        struct env_item *it = list;
        list = it->next;
        if (!ok && fate[i] != 2)
            router_work(rt, it->type, it->env);
        env_item_free(it);
    }
    free(fate);
}
