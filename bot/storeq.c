/* storeq: see storeq.h.  Owns the store thread, its two lanes of items
 * (guarded by mu, signalled by cv) and the list of completions going back
 * to the loop (guarded by mu, signalled by the uv_async).  Items are freed
 * by whoever pops them last: the thread for items without a completion,
 * the loop's async callback for the others. */
#include "storeq.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

struct sq_item {
    struct sq_item *next;
    storeq_fn fn;
    storeq_done_fn done;
    void *arg;
};

struct sq_list {
    struct sq_item *head, *tail;
    size_t n;
};

struct storeq {
    uv_loop_t *loop;
    struct store *st;
    struct metrics *metrics;
    pthread_t thread;
    bool started;
    bool stopping;      /* no more items taken from the loop; thread ends when empty */
    bool closed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sq_list urgent, normal;   /* to the store thread */
    struct sq_list back;             /* completions to the loop */
    uv_async_t async;
    struct store_stats seen;         /* figures already reported to metrics */
    bool pause_wanted, parked;       /* storeq_pause: guarded by mu, signalled by cv */
};

static void list_push(struct sq_list *l, struct sq_item *it)
{
    it->next = NULL;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    l->n++;
}

static struct sq_item *list_pop(struct sq_list *l)
{
    struct sq_item *it = l->head;
    if (it) {
        l->head = it->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
    }
    return it;
}

static void run_back(struct storeq *q)
{
    pthread_mutex_lock(&q->mu);
    struct sq_list back = q->back;
    q->back = (struct sq_list){ 0 };
    pthread_mutex_unlock(&q->mu);
    struct sq_item *it;
    while ((it = list_pop(&back))) {
        it->done(it->arg);
        free(it);
    }
}

static void on_async(uv_async_t *h)
{
    run_back(container_of(h, struct storeq, async));
}

static void report_figures(struct storeq *q)
{
    struct store_stats now;
    store_stats_get(q->st, &now);
    if (now.commits != q->seen.commits || now.reads != q->seen.reads || now.writes != q->seen.writes)
        metrics_store_txn(q->metrics, now.commits - q->seen.commits, now.reads - q->seen.reads,
                          now.writes - q->seen.writes);
    q->seen = now;
}

static void *thread_main(void *arg)
{
    struct storeq *q = arg;
    store_bind_thread(q->st, true);
    store_stats_get(q->st, &q->seen);
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->urgent.n && !q->normal.n && !q->stopping)
            pthread_cond_wait(&q->cv, &q->mu);
        struct sq_item *it = list_pop(&q->urgent);
        if (!it)
            it = list_pop(&q->normal);
        if (!it)
            break;   /* stopping, and nothing left */
        pthread_mutex_unlock(&q->mu);
        it->fn(q->st, it->arg);
        report_figures(q);
        if (it->done)
            storeq_to_loop(q, it->done, it->arg);
        free(it);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    store_bind_thread(q->st, false);
    return NULL;
}

struct storeq *storeq_create(uv_loop_t *loop, struct store *st, struct metrics *metrics)
{
    struct storeq *q = xcalloc(1, sizeof(*q));
    q->loop = loop;
    q->st = st;
    q->metrics = metrics;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    uv_async_init(loop, &q->async, on_async);
    return q;
}

int storeq_start(struct storeq *q)
{
    int rc = pthread_create(&q->thread, NULL, thread_main, q);
    if (rc != 0)
        return -rc;
    q->started = true;
    return 0;
}

static void post(struct storeq *q, bool urgent, storeq_fn fn, storeq_done_fn done, void *arg)
{
    if (!q) {   /* closed and forgotten by its owner */
        if (done)
            done(arg);
        return;
    }
    struct sq_item *it = xcalloc(1, sizeof(*it));
    it->fn = fn;
    it->done = done;
    it->arg = arg;
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        LOG_DEBUG("store thread stopped: work item not run", "");
        if (done)
            done(arg);
        free(it);
        return;
    }
    list_push(urgent ? &q->urgent : &q->normal, it);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void storeq_post(struct storeq *q, storeq_fn fn, storeq_done_fn done, void *arg)
{
    post(q, false, fn, done, arg);
}

void storeq_post_urgent(struct storeq *q, storeq_fn fn, storeq_done_fn done, void *arg)
{
    post(q, true, fn, done, arg);
}

void storeq_to_loop(struct storeq *q, storeq_done_fn done, void *arg)
{
    struct sq_item *it = xcalloc(1, sizeof(*it));
    it->done = done;
    it->arg = arg;
    pthread_mutex_lock(&q->mu);
    list_push(&q->back, it);
    pthread_mutex_unlock(&q->mu);
    uv_async_send(&q->async);
}

bool storeq_on_thread(const struct storeq *q)
{
    return q && q->started && pthread_equal(q->thread, pthread_self());
}

size_t storeq_pending(struct storeq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->urgent.n + q->normal.n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void park_st(struct store *st, void *arg)
{
    (void)st;
    struct storeq *q = arg;
    pthread_mutex_lock(&q->mu);
    q->parked = true;
    pthread_cond_broadcast(&q->cv);
    while (q->pause_wanted)
        pthread_cond_wait(&q->cv, &q->mu);
    q->parked = false;
    pthread_mutex_unlock(&q->mu);
}

void storeq_pause(struct storeq *q)
{
    if (!q || !q->started || q->closed)
        return;
    pthread_mutex_lock(&q->mu);
    q->pause_wanted = true;
    pthread_mutex_unlock(&q->mu);
    storeq_post_urgent(q, park_st, NULL, q);
    pthread_mutex_lock(&q->mu);
    while (!q->parked)
        pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

void storeq_resume(struct storeq *q)
{
    if (!q || !q->started || q->closed)
        return;
    pthread_mutex_lock(&q->mu);
    q->pause_wanted = false;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void on_closed(uv_handle_t *h)
{
    struct storeq *q = container_of((uv_async_t *)h, struct storeq, async);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

void storeq_close(struct storeq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    if (q->started)
        pthread_join(q->thread, NULL);
    /* Completions may post more items (e.g. the next step of a job): they
     * run here, on this thread, until nothing is left. */
    for (;;) {
        run_back(q);
        pthread_mutex_lock(&q->mu);
        struct sq_item *it = list_pop(&q->urgent);
        if (!it)
            it = list_pop(&q->normal);
        if (!it)
            q->closed = true;
        pthread_mutex_unlock(&q->mu);
        if (!it)
            break;
        it->fn(q->st, it->arg);
        if (it->done)
            it->done(it->arg);
        free(it);
    }
    run_back(q);
    uv_close((uv_handle_t *)&q->async, on_closed);
}
