/* Store tests of the leases of replicas: inbox rows and timers held by the
 * replica working on them, taken over by another once the lease ends (or
 * at once after a release), never while it is held.  Two stores on one
 * PostgreSQL database are two replicas (each store_open is a new replica
 * id); leases are shortened with SIRT_TEST_LEASE_MS.  On SQLite (one
 * process) the leases of a previous run are cleared at open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/store.h"
#include "../bot/util.h"
#include "pg_test.h"
#include "test.h"

#define LEASE_MS 400

static struct store *open_lease(const char *target, int lease_ms)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", lease_ms);
    setenv("SIRT_TEST_LEASE_MS", v, 1);
    struct store *s = NULL;
    char err[512];
    int rc = store_open(&s, target, err, sizeof(err));
    unsetenv("SIRT_TEST_LEASE_MS");
    if (rc != 0)
        TEST_FAIL("store_open: %d %s", rc, err);
    return s;
}

struct seen {
    int n;
    int64_t ids[8];
};

static bool note_row(void *ud, int64_t id, const char *type, const char *json)
{
    (void)type;
    (void)json;
    struct seen *s = ud;
    if (s->n < 8)
        s->ids[s->n] = id;
    s->n++;
    return true;
}

static int claim(struct store *s, struct seen *out)
{
    memset(out, 0, sizeof(*out));
    int n = store_inbox_claim(s, 16, note_row, out);
    ASSERT_EQ(n, out->n);
    return n;
}

TEST_PG(store_pg_inbox_lease_held_then_taken_over)
{
    char *uri = pg_test_fresh_db("inbox_lease");
    struct store *a = open_lease(uri, LEASE_MS), *b = open_lease(uri, LEASE_MS);
    ASSERT(strcmp(store_owner(a), store_owner(b)) != 0);
    ASSERT_EQ(store_lease_ms(a), LEASE_MS);
    ASSERT(store_shared(a));
    struct seen got;

    /* Held by the replica that stored it: the other neither claims nor deletes it. */
    int64_t id = store_inbox_add(a, "events_api", "{\"n\":1}", 100);
    ASSERT(id > 0);
    ASSERT_EQ(claim(b, &got), 0);
    ASSERT_EQ(store_inbox_delete(b, id), STORE_ENOTFOUND);
    memset(&got, 0, sizeof(got));
    ASSERT_EQ(store_inbox_list(b, note_row, &got), 0);
    ASSERT_EQ(got.n, 0);
    ASSERT_EQ(store_inbox_list(a, note_row, &got), 0);
    ASSERT_EQ(got.n, 1);

    /* Renewed while a lives: still a's after more than a lease. */
    usleep(LEASE_MS * 600);
    ASSERT_EQ(store_leases_renew(a), 0);
    usleep(LEASE_MS * 600);
    ASSERT_EQ(claim(b, &got), 0);

    /* Not renewed: b takes it over, and a may no longer finish it. */
    usleep(LEASE_MS * 1100);
    ASSERT_EQ(claim(b, &got), 1);
    ASSERT_EQ(got.ids[0], id);
    ASSERT_EQ(claim(a, &got), 0);            /* b's now, freshly leased */
    ASSERT_EQ(store_inbox_delete(a, id), STORE_ENOTFOUND);
    ASSERT_EQ(store_inbox_delete(b, id), 0);

    /* Released at a clean stop: b takes it at once, in arrival order. */
    int64_t x = store_inbox_add(a, "events_api", "{\"n\":2}", 200);
    int64_t y = store_inbox_add(a, "events_api", "{\"n\":3}", 200);
    ASSERT_EQ(claim(b, &got), 0);
    ASSERT_EQ(store_leases_release(a), 0);
    ASSERT_EQ(claim(b, &got), 2);
    ASSERT_EQ(got.ids[0], x);
    ASSERT_EQ(got.ids[1], y);
    ASSERT_EQ(claim(b, &got), 0);            /* its own rows are not claimed again */
    store_close(a);
    store_close(b);
    free(uri);
}

/* A transaction holding the row (a replica deleting it in its handler's
 * transaction) makes the other's claim skip it rather than wait. */
TEST_PG(store_pg_inbox_claim_skips_locked_rows)
{
    char *uri = pg_test_fresh_db("inbox_skip");
    struct store *a = open_lease(uri, LEASE_MS), *b = open_lease(uri, LEASE_MS);
    int64_t id = store_inbox_add(a, "events_api", "{}", 100);
    ASSERT(id > 0);
    usleep(LEASE_MS * 1100);                 /* a's lease ends ... */
    ASSERT_EQ(store_begin(a), 0);
    ASSERT_EQ(store_inbox_delete(a, id), 0); /* ... but a is finishing it right now */
    struct seen got;
    ASSERT_EQ(claim(b, &got), 0);            /* skipped, not waited for */
    ASSERT_EQ(store_commit(a), 0);
    ASSERT_EQ(claim(b, &got), 0);            /* done: gone */
    store_close(a);
    store_close(b);
    free(uri);
}

static int fire(struct store *s, int64_t id, int64_t now)
{
    ASSERT_EQ(store_begin(s), 0);
    int rc = store_timer_fire(s, id, now);
    if (rc == 0)
        ASSERT_EQ(store_commit(s), 0);
    else
        store_rollback(s);
    return rc;
}

TEST_PG(store_pg_timer_claimed_fires_once)
{
    char *uri = pg_test_fresh_db("timer_lease");
    struct store *a = open_lease(uri, LEASE_MS), *b = open_lease(uri, LEASE_MS);
    ASSERT_EQ(store_timer_set(a, "handoff_prompt/SIRT-1", "handoff_prompt", 0, 1000, "{}", 500), 0);
    ASSERT_EQ(store_timer_set(a, "handoff_prompt/SIRT-2", "handoff_prompt", 0, 1100, "{}", 500), 0);
    struct sched_timer *v;
    size_t n;
    ASSERT_EQ(store_timers_claim(b, 900, 8, &v, &n), 0);       /* not due yet */
    ASSERT_EQ(n, 0);
    sched_timers_free(v, n);
    ASSERT_EQ(store_timer_next(b, 900), 1000);

    /* a claims both; b finds nothing to claim, and waits for a's lease. */
    ASSERT_EQ(store_timers_claim(a, 2000, 8, &v, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(v[0].key, "handoff_prompt/SIRT-1");      /* earliest first */
    int64_t t1 = v[0].id, t2 = v[1].id;
    sched_timers_free(v, n);
    ASSERT_EQ(store_timers_claim(b, 2000, 8, &v, &n), 0);
    ASSERT_EQ(n, 0);
    sched_timers_free(v, n);
    int64_t next = store_timer_next(b, 2000);
    ASSERT(next > 2000 && next <= 2000 + LEASE_MS);
    ASSERT_EQ(store_timer_next(a, 2000), 1000);             /* a's own: due now */
    ASSERT_EQ(fire(b, t1, 2000), STORE_ENOTFOUND);
    ASSERT_EQ(fire(a, t1, 2000), 0);
    ASSERT_EQ(fire(a, t1, 2000), STORE_ENOTFOUND);           /* once */

    /* a dies before firing the second: b takes it after the lease. */
    usleep(LEASE_MS * 1100);
    ASSERT_EQ(store_timers_claim(b, 2500, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(v[0].id, t2);
    sched_timers_free(v, n);
    ASSERT_EQ(fire(a, t2, 2500), STORE_ENOTFOUND);
    ASSERT_EQ(fire(b, t2, 2500), 0);
    ASSERT_EQ(store_timer_next(b, 2500), INT64_MAX);

    /* A claimed timer moved to later is no longer claimed: not fired now. */
    ASSERT_EQ(store_timer_set(a, "review/weekly", "weekly_review", 0, 3000, "{}", 2600), 0);
    ASSERT_EQ(store_timers_claim(a, 3000, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    int64_t r = v[0].id;
    sched_timers_free(v, n);
    ASSERT_EQ(store_timer_set(b, "review/weekly", "weekly_review", 0, 9000, "{}", 2900), 0);
    ASSERT_EQ(fire(a, r, 3000), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(b, 3000), 9000);

    /* Released at a clean stop: the other claims at once. */
    ASSERT_EQ(store_timers_claim(a, 9000, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    sched_timers_free(v, n);
    ASSERT_EQ(store_leases_release(a), 0);
    ASSERT_EQ(store_timers_claim(b, 9000, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    sched_timers_free(v, n);
    store_close(a);
    store_close(b);
    free(uri);
}

/* Two replicas planning the same pending timer at once (the weekly review
 * at start): one pending row, whichever wins. */
TEST_PG(store_pg_timer_pending_key_unique_across_replicas)
{
    char *uri = pg_test_fresh_db("timer_key");
    struct store *a = open_lease(uri, LEASE_MS), *b = open_lease(uri, LEASE_MS);
    ASSERT_EQ(store_begin(a), 0);
    ASSERT_EQ(store_begin(b), 0);
    ASSERT_EQ(store_timer_set(a, "review/weekly", "weekly_review", 0, 5000, "{}", 100), 0);
    ASSERT_EQ(store_commit(a), 0);
    ASSERT_EQ(store_timer_set(b, "review/weekly", "weekly_review", 0, 5000, "{}", 100), 0);
    ASSERT_EQ(store_commit(b), 0);
    struct sched_timer *v;
    size_t n;
    ASSERT_EQ(store_timers_claim(a, 5000, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    sched_timers_free(v, n);
    store_close(a);
    store_close(b);
    free(uri);
}

/* SQLite: one process, so what a previous run held is free at open. */
TEST(store_sqlite_leases_of_a_previous_run_cleared)
{
    char dir[] = "/tmp/sirt-lease-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/sirt.db", dir);
    struct store *s = open_lease(path, 30000);
    ASSERT(!store_shared(s));
    int64_t id = store_inbox_add(s, "events_api", "{}", 100);
    ASSERT_EQ(store_timer_set(s, "k", "handoff_prompt", 0, 50, "{}", 10), 0);
    struct sched_timer *v;
    size_t n;
    ASSERT_EQ(store_timers_claim(s, 100, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    sched_timers_free(v, n);
    store_close(s);                          /* "crashed" holding both */

    s = open_lease(path, 30000);
    struct seen got;
    ASSERT_EQ(claim(s, &got), 1);
    ASSERT_EQ(got.ids[0], id);
    ASSERT_EQ(store_timer_next(s, 100), 50);
    ASSERT_EQ(store_timers_claim(s, 100, 8, &v, &n), 0);
    ASSERT_EQ(n, 1);
    sched_timers_free(v, n);
    store_close(s);
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    ASSERT_EQ(system(rm), 0);
}
