/* Unit tests of the outbox's queue in memory (bot/outbox_queue.c): soft
 * waits on dependencies, and what a takeover does to them. */
#include <stdlib.h>
#include <string.h>

#include "../bot/outbox_queue.h"
#include "../bot/util.h"
#include "test.h"

#define SOFT_MS 15000

/* A pending job created at created_ms that waits for dep at most SOFT_MS
 * (deadline 0: for good), as the report's page waits for its GitLab issue. */
static struct obq_job *add_waiting(struct obq *q, int64_t id, int64_t created_ms, int64_t dep, bool soft)
{
    struct outbox_job j;
    memset(&j, 0, sizeof(j));
    j.id = id;
    j.incident_id = 3;
    j.idem_key = xstrdup("SIRT-3/page");
    j.op = xstrdup("pd.trigger");
    j.payload = xstrdup("{}");
    j.state = OUTBOX_PENDING;
    j.next_at_ms = created_ms;
    j.created_ms = j.updated_ms = created_ms;
    j.deps_deadline_ms = soft ? created_ms + SOFT_MS : 0;
    struct obq_job *oj = obq_add(q, &j);
    ASSERT(oj != NULL);
    obq_add_dep(oj, dep);
    return oj;
}

/* The three-replica scenario's double trigger: a page whose replica died
 * before the issue existed is taken over after its 15 s ran out.  Before
 * the takeover restarted the soft wait, the page was due at once (before
 * its issue job, taken over in the same sweep, could run) and its link
 * update followed as a second trigger. */
TEST(outbox_queue_takeover_restarts_the_soft_wait)
{
    struct obq *q = obq_create();
    struct obq_job *due[4];
    const int64_t created = 1000, taken = created + 40000;   /* lease ended, swept 40 s later */
    struct obq_job *page = add_waiting(q, 38, created, 30, true);

    /* Held by the live replica that wrote it: due once the wait ran out. */
    ASSERT_EQ(obq_due(q, created + SOFT_MS - 1, due, 4), 0);
    ASSERT_EQ(obq_due(q, created + SOFT_MS, due, 4), 1);
    ASSERT_EQ(obq_due(q, taken, due, 4), 1);

    /* Taken over: it waits for the issue again, SOFT_MS from the takeover. */
    obq_takeover(page, taken);
    ASSERT_EQ(page->job.deps_deadline_ms, taken + SOFT_MS);
    ASSERT_EQ(obq_due(q, taken, due, 4), 0);
    ASSERT_EQ(obq_next_due(q), taken + SOFT_MS);
    /* the issue comes a few ms later: the page leaves then, with its link */
    obq_finished(q, 30, OUTBOX_DONE);
    ASSERT_EQ(obq_due(q, taken + 44, due, 4), 1);
    ASSERT_EQ(due[0]->job.id, 38);

    /* Still no issue SOFT_MS after the takeover (GitLab down): goes without it. */
    struct obq_job *page2 = add_waiting(q, 83, created, 77, true);
    obq_takeover(page2, taken);
    ASSERT_EQ(obq_due(q, taken + SOFT_MS - 1, due, 4), 1);   /* only 38 */
    ASSERT_EQ(due[0]->job.id, 38);
    ASSERT_EQ(obq_due(q, taken + SOFT_MS, due, 4), 2);
    obq_destroy(q);
}

TEST(outbox_queue_takeover_keeps_later_deadlines_and_hard_waits)
{
    struct obq *q = obq_create();
    struct obq_job *due[4];
    /* Taken over early (a release, then the next sweep): the wait restarts,
     * it never ends earlier than written. */
    struct obq_job *a = add_waiting(q, 1, 1000, 90, true);
    obq_takeover(a, 3000);
    ASSERT_EQ(a->job.deps_deadline_ms, 3000 + SOFT_MS);
    obq_takeover(a, 0);   /* a clock behind the deadline: unchanged */
    ASSERT_EQ(a->job.deps_deadline_ms, 3000 + SOFT_MS);
    /* A hard wait (deadline 0) stays one. */
    struct obq_job *b = add_waiting(q, 2, 1000, 91, false);
    obq_takeover(b, 50000);
    ASSERT_EQ(b->job.deps_deadline_ms, 0);
    ASSERT_EQ(obq_due(q, 1000000, due, 4), 1);   /* a, past its new deadline; b waits */
    ASSERT_EQ(due[0]->job.id, 1);
    /* No dependency left: due as written, whatever the deadline. */
    obq_finished(q, 91, OUTBOX_DONE);
    ASSERT_EQ(obq_due(q, 1000, due, 4), 1);
    ASSERT_EQ(due[0]->job.id, 2);
    obq_destroy(q);
}
