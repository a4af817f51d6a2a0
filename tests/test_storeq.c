/* test_storeq: the store thread's queue (bot/storeq.c) on a real store:
 * items run in order on the one store thread, urgent ones first, their
 * completions back on the loop; the store refuses nothing from its own
 * thread; closing runs what is queued. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/metrics.h"
#include "../bot/store.h"
#include "../bot/storeq.h"
#include "../bot/util.h"
#include "test.h"

struct ctx {
    struct storeq *q;
    int order[64];
    int n_run;
    int n_done;
    bool on_thread;
    bool off_loop;
    pthread_t loop_thread;
    int64_t inbox_ids[8];
    atomic_bool started0;    /* job 0 runs on the store thread */
    atomic_bool posted;      /* the loop posted the jobs that queue behind it */
};

struct job {
    struct ctx *c;
    int tag;
};

static void job_fn(struct store *st, void *arg)
{
    struct job *j = arg;
    struct ctx *c = j->c;
    c->on_thread = storeq_on_thread(c->q);
    c->off_loop = !pthread_equal(pthread_self(), c->loop_thread);
    if (j->tag == 0) {
        /* the others queue up meanwhile (waited for, not timed: a busy
         * machine may run this thread late or the loop's posts late) */
        atomic_store(&c->started0, true);
        for (int i = 0; i < 5000 && !atomic_load(&c->posted); i++)
            usleep(1000);
    }
    if (j->tag < 8)
        c->inbox_ids[j->tag] = store_inbox_add(st, "test", "{}", 1);
    c->order[c->n_run++] = j->tag;
}

static void job_done(void *arg)
{
    struct job *j = arg;
    j->c->n_done++;
    free(j);
}

static void post_job(struct ctx *c, int tag, bool urgent)
{
    struct job *j = calloc(1, sizeof(*j));
    j->c = c;
    j->tag = tag;
    if (urgent)
        storeq_post_urgent(c->q, job_fn, job_done, j);
    else
        storeq_post(c->q, job_fn, job_done, j);
}

static bool count_row(void *ud, int64_t id, const char *type, const char *json)
{
    (void)id;
    (void)type;
    (void)json;
    (*(int *)ud)++;
    return true;
}

TEST(storeq_order_urgent_first_completions_on_loop)
{
    char dir[] = "/tmp/sirt-storeq-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[300], err[200];
    snprintf(path, sizeof(path), "%s/s.db", dir);
    struct store *st = NULL;
    ASSERT_EQ(store_open(&st, path, err, sizeof(err)), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct metrics *m = metrics_create();
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.loop_thread = pthread_self();
    c.q = storeq_create(&loop, st, m);
    ASSERT_EQ(storeq_start(c.q), 0);
    ASSERT(!storeq_on_thread(c.q));
    post_job(&c, 0, false);         /* runs first (waits: the rest queue behind it) */
    for (int i = 0; i < 5000 && !atomic_load(&c.started0); i++)
        usleep(1000);
    ASSERT(atomic_load(&c.started0));
    post_job(&c, 1, false);
    post_job(&c, 2, false);
    post_job(&c, 3, true);          /* jumps the ordinary ones */
    atomic_store(&c.posted, true);
    for (int i = 0; i < 5000 && c.n_done < 4; i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    ASSERT_EQ(c.n_done, 4);
    ASSERT_EQ(c.order[0], 0);
    ASSERT_EQ(c.order[1], 3);
    ASSERT_EQ(c.order[2], 1);
    ASSERT_EQ(c.order[3], 2);
    ASSERT(c.on_thread);
    ASSERT(c.off_loop);
    for (int i = 0; i < 4; i++)
        ASSERT(c.inbox_ids[i] > 0);
    /* Closing runs what is still queued, completions included. */
    post_job(&c, 4, false);
    post_job(&c, 5, false);
    storeq_close(c.q);
    ASSERT_EQ(c.n_run, 6);
    ASSERT_EQ(c.n_done, 6);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    /* The thread has ended: the store is anyone's again, and holds the
     * six rows written from it. */
    int n = 0;
    ASSERT_EQ(store_inbox_list(st, count_row, &n), 0);
    ASSERT_EQ(n, 6);
    struct buf b;
    buf_init(&b, 1 << 16);
    metrics_render(m, &b);
    ASSERT_CONTAINS(b.data, "sirt_store_statements_total{kind=\"write\"} ");
    buf_finish(&b);
    metrics_destroy(m);
    store_close(st);
    unlink(path);
    char wal[320];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    rmdir(dir);
}
