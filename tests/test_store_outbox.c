/* test_store_outbox: the outbox queue on SQLite and PostgreSQL (STORE_TEST,
 * tests/store_fixture.h): idempotent adds, due order and dependencies
 * (deadline, a failed dependency blocks), next due, state transitions,
 * recovery after a crash, counts, the journal of created jobs, and a late
 * retry that must not undo a job another replica finished. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/store.h"
#include "store_fixture.h"
#include "test.h"

/* Ids of due jobs at now, in order, as a string "1,2,3". */
static void due_ids(struct store *s, int64_t now, size_t max, char *out, size_t outlen)
{
    struct outbox_job *jobs = NULL;
    size_t n = 99;
    ASSERT_EQ(store_outbox_due(s, now, max, &jobs, &n), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(jobs[i].state, OUTBOX_PENDING);
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)jobs[i].id);
        sfx_list_add(out, outlen, id);
    }
    outbox_jobs_free(jobs, n);
}

/* ---- outbox ---- */

STORE_TEST(store_outbox_add_idempotent, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = sfx_new_incident(s, NULL, 1);
    struct outbox_new n = {
        .incident_id = inc, .idem_key = "SIRT-1/create_channel", .op = "slack.create_channel",
        .payload = "{\"name\":\"sirt-1\"}", .next_at_ms = 0, .now_ms = 1000,
    };
    int64_t id = store_outbox_add(s, &n);
    ASSERT(id > 0);
    int64_t other = sfx_add_job(s, "other", 0, 0, NULL, 0);

    /* Re-adding the same key (even with deps) returns the same id, adds nothing. */
    struct outbox_new again = n;
    again.payload = "{\"name\":\"changed\"}";
    again.deps = &other;
    again.n_deps = 1;
    ASSERT_EQ(store_outbox_add(s, &again), id);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox"), 2);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox_deps"), 0);

    struct outbox_job j;
    sfx_job_get(s, id, &j);
    ASSERT_EQ(j.id, id);
    ASSERT_EQ(j.incident_id, inc);
    ASSERT_STR_EQ(j.idem_key, "SIRT-1/create_channel");
    ASSERT_STR_EQ(j.op, "slack.create_channel");
    ASSERT_STR_EQ(j.payload, "{\"name\":\"sirt-1\"}");
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.attempts, 0);
    ASSERT_EQ(j.maybe_sent, 0);
    ASSERT_NULL(j.last_error);
    ASSERT_NULL(j.result);
    ASSERT_EQ(j.created_ms, 1000);
    ASSERT_EQ(j.updated_ms, 1000);
    outbox_job_finish(&j);

    /* Without an incident. */
    sfx_job_get(s, other, &j);
    ASSERT_EQ(j.incident_id, 0);
    outbox_job_finish(&j);

    /* Invalid input and a missing dependency add nothing. */
    struct outbox_new bad = { .idem_key = NULL, .op = "x" };
    ASSERT_EQ(store_outbox_add(s, &bad), STORE_EINVAL);
    int64_t ghost = 12345;
    struct outbox_new dangling = { .idem_key = "dangling", .op = "x", .deps = &ghost, .n_deps = 1 };
    ASSERT(store_outbox_add(s, &dangling) < 0);
    struct outbox_new noinc = { .incident_id = 777, .idem_key = "noinc", .op = "x" };
    ASSERT(store_outbox_add(s, &noinc) < 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox"), 2);
    ASSERT_EQ(store_outbox_get(s, 999, &j), STORE_ENOTFOUND);

    /* The failed adds left no transaction open. */
    sfx_add_job(s, "dangling", 0, 0, NULL, 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox"), 3);
    store_close(s);
}

STORE_TEST(store_outbox_due_order_and_deps, 30)
{
    struct store *s = sfx_open(f->target);
    char ids[256];
    int64_t a = sfx_add_job(s, "a", 100, 0, NULL, 0);
    int64_t b = sfx_add_job(s, "b", 50, 0, &a, 1);         /* waits for a */
    int64_t c = sfx_add_job(s, "c", 100, 0, NULL, 0);
    int64_t d = sfx_add_job(s, "d", 20, 0, NULL, 0);
    int64_t deps_ac[] = { a, c, a };                      /* duplicate dep is fine */
    int64_t e = sfx_add_job(s, "e", 0, 0, deps_ac, 3);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM outbox_deps"), 3);

    due_ids(s, 10, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    due_ids(s, 99, 10, ids, sizeof(ids));
    char want[256];
    snprintf(want, sizeof(want), "%lld", (long long)d);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 100, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)d, (long long)a, (long long)c);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 100, 2, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld", (long long)d, (long long)a);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 100, 0, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");

    /* A sending dependency still blocks; done releases. */
    ASSERT_EQ(store_outbox_mark_sending(s, a, 100), 0);
    due_ids(s, 100, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld", (long long)d, (long long)c);
    ASSERT_STR_EQ(ids, want);
    ASSERT_EQ(store_outbox_mark_done(s, a, "{}", 101), 0);
    due_ids(s, 101, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)d, (long long)b, (long long)c);
    ASSERT_STR_EQ(ids, want);   /* e still waits for c */
    ASSERT_EQ(store_outbox_mark_sending(s, c, 101), 0);
    ASSERT_EQ(store_outbox_mark_done(s, c, NULL, 102), 0);
    due_ids(s, 102, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld,%lld", (long long)e, (long long)d, (long long)b);
    ASSERT_STR_EQ(ids, want);
    store_close(s);
}

STORE_TEST(store_outbox_deps_deadline, 30)
{
    struct store *s = sfx_open(f->target);
    char ids[256], want[64];
    int64_t a = sfx_add_job(s, "a", 1000000, 0, NULL, 0);      /* far in the future */
    int64_t b = sfx_add_job(s, "b", 0, 500, &a, 1);             /* run anyway at 500 */
    int64_t c = sfx_add_job(s, "c", 700, 500, &a, 1);           /* ... but not before 700 */
    due_ids(s, 499, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    due_ids(s, 500, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld", (long long)b);
    ASSERT_STR_EQ(ids, want);
    due_ids(s, 700, 10, ids, sizeof(ids));
    snprintf(want, sizeof(want), "%lld,%lld", (long long)b, (long long)c);
    ASSERT_STR_EQ(ids, want);
    store_close(s);
}

STORE_TEST(store_outbox_failed_dep_blocks, 30)
{
    struct store *s = sfx_open(f->target);
    char ids[256];
    int64_t a = sfx_add_job(s, "a", 0, 0, NULL, 0);
    int64_t ok = sfx_add_job(s, "ok", 0, 0, NULL, 0);
    int64_t b = sfx_add_job(s, "b", 0, 0, &a, 1);
    int64_t c = sfx_add_job(s, "c", 0, 10, &a, 1);              /* deadline does not rescue it */
    int64_t deps[] = { ok, a };
    int64_t d = sfx_add_job(s, "d", 0, 0, deps, 2);
    int64_t *blocked = NULL;
    size_t n = 99;
    ASSERT_EQ(store_outbox_blocked_by_failure(s, &blocked, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_NULL(blocked);

    ASSERT_EQ(store_outbox_mark_sending(s, a, 1), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, a, "http 403", 2), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, ok, 1), 0);
    ASSERT_EQ(store_outbox_mark_done(s, ok, NULL, 2), 0);
    due_ids(s, 1000, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    ASSERT_EQ(store_outbox_next_due(s), INT64_MAX);
    ASSERT_EQ(store_outbox_blocked_by_failure(s, &blocked, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(blocked[0], b);
    ASSERT_EQ(blocked[1], c);
    ASSERT_EQ(blocked[2], d);
    free(blocked);

    /* Failing the dependents in cascade empties the list. */
    ASSERT_EQ(store_outbox_mark_failed(s, b, "dependency failed", 3), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, c, "dependency failed", 3), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, d, "dependency failed", 3), 0);
    ASSERT_EQ(store_outbox_blocked_by_failure(s, &blocked, &n), 0);
    ASSERT_EQ(n, 0);
    free(blocked);
    due_ids(s, 1000, 10, ids, sizeof(ids));
    ASSERT_STR_EQ(ids, "");
    store_close(s);
}

STORE_TEST(store_outbox_next_due_values, 30)
{
    struct store *s = sfx_open(f->target);
    ASSERT_EQ(store_outbox_next_due(s), INT64_MAX);
    int64_t a = sfx_add_job(s, "a", 5000, 0, NULL, 0);
    ASSERT_EQ(store_outbox_next_due(s), 5000);
    sfx_add_job(s, "wait-forever", 10, 0, &a, 1);             /* does not count */
    ASSERT_EQ(store_outbox_next_due(s), 5000);
    sfx_add_job(s, "deadline", 50, 3000, &a, 1);              /* max(50, 3000) */
    ASSERT_EQ(store_outbox_next_due(s), 3000);
    sfx_add_job(s, "late-deadline", 4000, 100, &a, 1);        /* max(4000, 100) */
    ASSERT_EQ(store_outbox_next_due(s), 3000);
    int64_t soon = sfx_add_job(s, "soon", 200, 0, NULL, 0);
    ASSERT_EQ(store_outbox_next_due(s), 200);
    /* Jobs not pending do not count. */
    ASSERT_EQ(store_outbox_mark_sending(s, soon, 200), 0);
    ASSERT_EQ(store_outbox_next_due(s), 3000);
    /* Once a is done its dependents count by their own next_at. */
    ASSERT_EQ(store_outbox_mark_sending(s, a, 200), 0);
    ASSERT_EQ(store_outbox_mark_done(s, a, NULL, 201), 0);
    ASSERT_EQ(store_outbox_next_due(s), 10);
    store_close(s);
}

STORE_TEST(store_outbox_transitions, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t id = sfx_add_job(s, "j", 0, 0, NULL, 0);
    struct outbox_job j;

    ASSERT_EQ(store_outbox_mark_sending(s, id, 2000), 0);
    sfx_job_get(s, id, &j);
    ASSERT_EQ(j.state, OUTBOX_SENDING);
    ASSERT_EQ(j.attempts, 1);
    ASSERT_EQ(j.updated_ms, 2000);
    outbox_job_finish(&j);
    /* Only a pending job can be claimed. */
    ASSERT_EQ(store_outbox_mark_sending(s, id, 2001), STORE_EINVAL);
    ASSERT_EQ(store_outbox_mark_sending(s, 999, 2001), STORE_ENOTFOUND);

    ASSERT_EQ(store_outbox_mark_retry(s, id, 5000, "http 503", true, 2002), 0);
    sfx_job_get(s, id, &j);
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.next_at_ms, 5000);
    ASSERT_STR_EQ(j.last_error, "http 503");
    ASSERT_EQ(j.maybe_sent, 1);
    ASSERT_EQ(j.attempts, 1);
    outbox_job_finish(&j);

    /* maybe_sent is sticky. */
    ASSERT_EQ(store_outbox_mark_sending(s, id, 5000), 0);
    ASSERT_EQ(store_outbox_mark_retry(s, id, 6000, "ratelimited", false, 5001), 0);
    sfx_job_get(s, id, &j);
    ASSERT_EQ(j.maybe_sent, 1);
    ASSERT_EQ(j.attempts, 2);
    ASSERT_STR_EQ(j.last_error, "ratelimited");
    outbox_job_finish(&j);

    ASSERT_EQ(store_outbox_set_payload(s, id, "{\"name\":\"sirt-1-2\"}", 5002), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, id, 6000), 0);
    ASSERT_EQ(store_outbox_mark_done(s, id, "{\"channel\":\"C1\"}", 6001), 0);
    sfx_job_get(s, id, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    ASSERT_EQ(j.attempts, 3);
    ASSERT_STR_EQ(j.payload, "{\"name\":\"sirt-1-2\"}");
    ASSERT_STR_EQ(j.result, "{\"channel\":\"C1\"}");
    ASSERT_EQ(j.updated_ms, 6001);
    outbox_job_finish(&j);

    int64_t fj = sfx_add_job(s, "f", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_sending(s, fj, 1), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, fj, "channel_not_found", 2), 0);
    sfx_job_get(s, fj, &j);
    ASSERT_EQ(j.state, OUTBOX_FAILED);
    ASSERT_STR_EQ(j.last_error, "channel_not_found");
    outbox_job_finish(&j);

    ASSERT_EQ(store_outbox_mark_done(s, 999, NULL, 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_mark_retry(s, 999, 1, "x", false, 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_mark_failed(s, 999, "x", 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_outbox_set_payload(s, 999, "{}", 1), STORE_ENOTFOUND);
    store_close(s);
}

STORE_TEST(store_outbox_recover_after_crash, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = sfx_add_job(s, "a", 0, 0, NULL, 0);
    int64_t b = sfx_add_job(s, "b", 0, 0, NULL, 0);
    int64_t c = sfx_add_job(s, "c", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_sending(s, a, 10), 0);
    ASSERT_EQ(store_outbox_mark_sending(s, b, 10), 0);
    ASSERT_EQ(store_outbox_mark_done(s, b, NULL, 11), 0);
    store_close(s);   /* a was never marked done */

    s = sfx_open(f->target);
    ASSERT_EQ(store_outbox_recover(s, 20), 1);
    ASSERT_EQ(store_outbox_recover(s, 21), 0);
    struct outbox_job j;
    sfx_job_get(s, a, &j);
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.maybe_sent, 1);
    ASSERT_EQ(j.attempts, 1);
    ASSERT_EQ(j.updated_ms, 20);
    outbox_job_finish(&j);
    sfx_job_get(s, c, &j);
    ASSERT_EQ(j.maybe_sent, 0);
    outbox_job_finish(&j);
    sfx_job_get(s, b, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    outbox_job_finish(&j);
    store_close(s);
}

STORE_TEST(store_outbox_counts_by_state, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t counts[OUTBOX_N_STATES] = { -1, -1, -1, -1, -1 };
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    for (int i = 0; i < OUTBOX_N_STATES; i++)
        ASSERT_EQ(counts[i], 0);
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        ids[i] = sfx_add_job(s, key, 0, 0, NULL, 0);
    }
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(store_outbox_mark_sending(s, ids[i], 1), 0);
    ASSERT_EQ(store_outbox_mark_done(s, ids[0], NULL, 2), 0);
    ASSERT_EQ(store_outbox_mark_done(s, ids[1], NULL, 2), 0);
    ASSERT_EQ(store_outbox_mark_failed(s, ids[2], "x", 2), 0);
    ASSERT_EQ(store_outbox_counts(s, counts), 0);
    ASSERT_EQ(counts[OUTBOX_PENDING], 3);
    ASSERT_EQ(counts[OUTBOX_SENDING], 1);
    ASSERT_EQ(counts[OUTBOX_DONE], 2);
    ASSERT_EQ(counts[OUTBOX_FAILED], 1);
    store_close(s);
}

/* The journal of created jobs reports committed inserts once, and never
 * those of a rolled-back savepoint or transaction. */
TEST(store_outbox_created_journal)
{
    struct sfx_tdir t;
    sfx_tdir_make(&t);
    struct store *s = sfx_open(t.db);
    store_outbox_track(s, true);
    struct outbox_new j = { .idem_key = "a", .op = "slack.post", .payload = "{}", .now_ms = 5 };
    ASSERT_EQ(store_begin(s), 0);
    int64_t a = store_outbox_add(s, &j);
    ASSERT(a > 0);
    ASSERT(store_outbox_take_created(s) == NULL);   /* not committed yet */
    ASSERT_EQ(store_begin(s), 0);
    j.idem_key = "b";
    ASSERT(store_outbox_add(s, &j) > 0);
    store_rollback(s);                              /* the savepoint only */
    int64_t deps[] = { a };
    j.idem_key = "c";
    j.deps = deps;
    j.n_deps = 1;
    int64_t c = store_outbox_add(s, &j);
    ASSERT_EQ(store_commit(s), 0);
    struct outbox_created *list = store_outbox_take_created(s);
    ASSERT(list && list->next && !list->next->next);
    ASSERT_EQ(list->job.id, a);
    ASSERT_EQ(list->next->job.id, c);
    ASSERT_EQ(list->next->n_deps, 1);
    ASSERT_EQ(list->next->deps[0], a);
    outbox_created_free(list);
    ASSERT(store_outbox_take_created(s) == NULL);   /* once */
    ASSERT_EQ(store_begin(s), 0);
    j.idem_key = "d";
    j.n_deps = 0;
    ASSERT(store_outbox_add(s, &j) > 0);
    store_rollback(s);
    ASSERT(store_outbox_take_created(s) == NULL);
    /* The same idem key again inserts nothing: nothing reported. */
    j.idem_key = "a";
    ASSERT_EQ(store_outbox_add(s, &j), a);
    ASSERT(store_outbox_take_created(s) == NULL);
    store_close(s);
    sfx_tdir_remove(&t);
}

/* A replica whose lease ended while it was still sending may report a
 * retry after another replica finished the job: the late retry must not
 * make the finished job pending again (it would be sent twice). */
STORE_TEST(store_outbox_late_retry_keeps_done, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = sfx_add_job(s, "late-retry", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_done(s, a, "{\"ok\":true}", 200), 0);
    ASSERT_EQ(store_outbox_mark_retry(s, a, 5000, "timeout", true, 300), STORE_ENOTFOUND);
    struct outbox_job j;
    sfx_job_get(s, a, &j);
    ASSERT_EQ(j.state, OUTBOX_DONE);
    outbox_job_finish(&j);
    int64_t b = sfx_add_job(s, "late-retry-failed", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_failed(s, b, "bad", 200), 0);
    ASSERT_EQ(store_outbox_mark_retry(s, b, 5000, "timeout", false, 300), STORE_ENOTFOUND);
    sfx_job_get(s, b, &j);
    ASSERT_EQ(j.state, OUTBOX_FAILED);
    outbox_job_finish(&j);
    /* a pending job still takes its retry */
    int64_t c = sfx_add_job(s, "late-retry-pending", 0, 0, NULL, 0);
    ASSERT_EQ(store_outbox_mark_retry(s, c, 5000, "timeout", true, 300), 0);
    sfx_job_get(s, c, &j);
    ASSERT_EQ(j.state, OUTBOX_PENDING);
    ASSERT_EQ(j.next_at_ms, 5000);
    outbox_job_finish(&j);
    store_close(s);
}
