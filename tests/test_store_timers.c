/* test_store_timers: timers on SQLite and PostgreSQL (STORE_TEST,
 * tests/store_fixture.h): set, move and cancel by key, due order and the
 * next due time, a key set again while its timer fires, and cancelling one
 * incident's timers only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/store.h"
#include "store_fixture.h"
#include "test.h"

/* ---- timers ---- */

/* Keys of due timers at now, in order, as "a,b,c". */
static void due_keys(struct store *s, int64_t now, size_t max, char *out, size_t outlen)
{
    struct sched_timer *v = NULL;
    size_t n = 99;
    ASSERT_EQ(store_timers_due(s, now, max, &v, &n), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ASSERT(v[i].due_ms <= now);
        sfx_list_add(out, outlen, v[i].key);
    }
    if (n == 0)
        ASSERT_NULL(v);
    sched_timers_free(v, n);
}

STORE_TEST(store_timer_set_move_cancel, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = sfx_new_incident(s, NULL, 1);
    struct sched_timer tm;
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(s, 0), INT64_MAX);

    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt", inc, 5000,
                              "{\"n\":1}", 100), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), 0);
    int64_t id = tm.id;
    ASSERT(id > 0);
    ASSERT_STR_EQ(tm.key, "handoff_prompt/SIRT-1");
    ASSERT_STR_EQ(tm.kind, "handoff_prompt");
    ASSERT_EQ(tm.incident_id, inc);
    ASSERT_EQ(tm.due_ms, 5000);
    ASSERT_STR_EQ(tm.payload, "{\"n\":1}");
    sched_timer_finish(&tm);
    ASSERT_NULL(tm.key);
    sched_timer_finish(&tm);
    sched_timer_finish(NULL);
    ASSERT_EQ(store_timer_next(s, 0), 5000);

    /* Setting the key again moves the same timer (earlier or later). */
    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt2", 0, 3000, NULL, 200), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), 0);
    ASSERT_EQ(tm.id, id);
    ASSERT_STR_EQ(tm.kind, "handoff_prompt2");
    ASSERT_EQ(tm.incident_id, 0);                      /* 0 is stored as NULL */
    ASSERT_EQ(tm.due_ms, 3000);
    ASSERT_NULL(tm.payload);
    sched_timer_finish(&tm);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers WHERE incident_id IS NULL"), 1);
    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt", inc, 9000, "{}", 300), 0);
    ASSERT_EQ(store_timer_next(s, 0), 9000);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers"), 1);
    ASSERT_EQ(sfx_raw_int(f, "SELECT created_ms * 1000 + updated_ms FROM timers"), 100 * 1000 + 300);

    /* Cancel: gone from get/due/next; cancelling again (or a missing key) is fine. */
    ASSERT_EQ(store_timer_set(s, "other", "reminder", inc, 8000, NULL, 300), 0);
    ASSERT_EQ(store_timer_cancel(s, "handoff_prompt/SIRT-1"), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(s, 0), 8000);
    ASSERT_EQ(store_timer_cancel(s, "handoff_prompt/SIRT-1"), 0);
    ASSERT_EQ(store_timer_cancel(s, "never-set"), 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'handoff_prompt/SIRT-1'"), 2);

    /* After a cancel the key is free: a new timer, not the canceled one. */
    ASSERT_EQ(store_timer_set(s, "handoff_prompt/SIRT-1", "handoff_prompt", inc, 4000, NULL, 400), 0);
    ASSERT_EQ(store_timer_get(s, "handoff_prompt/SIRT-1", &tm), 0);
    ASSERT(tm.id != id);
    ASSERT_EQ(tm.due_ms, 4000);
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_next(s, 0), 4000);

    /* Bad input. */
    ASSERT_EQ(store_timer_set(s, NULL, "k", 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_set(s, "", "k", 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_set(s, "k", NULL, 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_set(s, "k", "", 0, 1, NULL, 1), STORE_EINVAL);
    ASSERT_EQ(store_timer_get(s, NULL, &tm), STORE_EINVAL);
    ASSERT_EQ(store_timer_cancel(s, NULL), STORE_EINVAL);
    /* No transaction left open by the failed calls. */
    ASSERT_EQ(store_commit(s), STORE_EINVAL);
    store_close(s);
}

STORE_TEST(store_timers_due_next_done, 30)
{
    struct store *s = sfx_open(f->target);
    char keys[256];
    ASSERT_EQ(store_timer_set(s, "c", "k", 0, 300, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "a", "k", 0, 100, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "b2", "k", 0, 200, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "b1", "k", 0, 200, NULL, 1), 0);   /* same due: insertion order */
    ASSERT_EQ(store_timer_set(s, "late", "k", 0, 10000, NULL, 1), 0);
    ASSERT_EQ(store_timer_next(s, 0), 100);

    due_keys(s, 99, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "");
    due_keys(s, 100, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a");
    due_keys(s, 300, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a,b2,b1,c");
    due_keys(s, 300, 2, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a,b2");
    due_keys(s, 300, 0, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "");
    due_keys(s, INT64_MAX, SIZE_MAX, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "a,b2,b1,c,late");

    /* Fire "a": done, it no longer shows up or blocks its key. */
    struct sched_timer *v = NULL;
    size_t n = 0;
    ASSERT_EQ(store_timers_due(s, 100, 1, &v, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(v[0].key, "a");
    int64_t a_id = v[0].id;
    sched_timers_free(v, n);
    ASSERT_EQ(store_timer_done(s, a_id), 0);
    ASSERT_EQ(store_timer_done(s, a_id), 0);                 /* idempotent */
    ASSERT_EQ(store_timer_done(s, 999), STORE_ENOTFOUND);
    ASSERT_EQ(store_timer_next(s, 0), 200);
    due_keys(s, 300, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "b2,b1,c");
    struct sched_timer tm;
    ASSERT_EQ(store_timer_get(s, "a", &tm), STORE_ENOTFOUND);

    /* Set after done: a new pending timer under the same key. */
    ASSERT_EQ(store_timer_set(s, "a", "k", 0, 150, "{\"again\":true}", 120), 0);
    ASSERT_EQ(store_timer_get(s, "a", &tm), 0);
    ASSERT(tm.id != a_id);
    ASSERT_EQ(tm.due_ms, 150);
    ASSERT_STR_EQ(tm.payload, "{\"again\":true}");
    sched_timer_finish(&tm);
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'a' ORDER BY id LIMIT 1"), 1);
    ASSERT_EQ(store_timer_next(s, 0), 150);

    /* Done on a canceled timer leaves it canceled. */
    ASSERT_EQ(store_timer_get(s, "c", &tm), 0);
    int64_t c_id = tm.id;
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_cancel(s, "c"), 0);
    ASSERT_EQ(store_timer_done(s, c_id), 0);
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'c'"), 2);

    /* Everything fired: next is INT64_MAX again. */
    ASSERT_EQ(store_timers_due(s, INT64_MAX, 100, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(store_timer_done(s, v[i].id), 0);
    sched_timers_free(v, n);
    ASSERT_EQ(store_timer_next(s, 0), INT64_MAX);
    due_keys(s, INT64_MAX, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "");
    store_close(s);
}

/* A handler that sets its own key again while its timer fires must get the
 * new schedule, whether the timer is marked done before or after it runs. */
STORE_TEST(store_timer_reset_while_firing, 30)
{
    struct store *s = sfx_open(f->target);
    struct sched_timer tm;

    /* Done first, then set. */
    ASSERT_EQ(store_timer_set(s, "remind", "remind", 0, 1000, NULL, 0), 0);
    ASSERT_EQ(store_timer_get(s, "remind", &tm), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_timer_done(s, tm.id), 0);
    ASSERT_EQ(store_timer_set(s, "remind", "remind", 0, 2000, NULL, 1000), 0);
    ASSERT_EQ(store_commit(s), 0);
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_next(s, 0), 2000);

    /* Set first (the firing timer is due, so it is retired), then done. */
    ASSERT_EQ(store_timer_get(s, "remind", &tm), 0);
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_timer_set(s, "remind", "remind", 0, 3000, NULL, 2000), 0);
    ASSERT_EQ(store_timer_done(s, tm.id), 0);
    ASSERT_EQ(store_commit(s), 0);
    sched_timer_finish(&tm);
    ASSERT_EQ(store_timer_next(s, 0), 3000);
    ASSERT_EQ(store_timer_get(s, "remind", &tm), 0);
    ASSERT_EQ(tm.due_ms, 3000);
    sched_timer_finish(&tm);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers WHERE state = 0"), 1);
    store_close(s);
}

STORE_TEST(store_timers_cancel_incident_only_its_own, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = sfx_new_incident(s, NULL, 1);
    int64_t b = sfx_new_incident(s, NULL, 1);
    char keys[256];
    ASSERT_EQ(store_timer_set(s, "a/1", "k", a, 100, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "a/2", "k", a, 200, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "a/fired", "k", a, 50, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "b/1", "k", b, 150, NULL, 1), 0);
    ASSERT_EQ(store_timer_set(s, "global", "k", 0, 300, NULL, 1), 0);
    struct sched_timer tm;
    ASSERT_EQ(store_timer_get(s, "a/fired", &tm), 0);
    ASSERT_EQ(store_timer_done(s, tm.id), 0);
    sched_timer_finish(&tm);

    ASSERT_EQ(store_timers_cancel_incident(s, a), 0);
    due_keys(s, 1000, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "b/1,global");
    ASSERT_EQ(sfx_raw_int(f, "SELECT state FROM timers WHERE key = 'a/fired'"), 1);   /* stays done */
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM timers WHERE state = 2"), 2);
    ASSERT_EQ(store_timers_cancel_incident(s, a), 0);       /* nothing left: fine */
    ASSERT_EQ(store_timers_cancel_incident(s, 0), 0);       /* 0 is "none", not the NULL rows */
    due_keys(s, 1000, 10, keys, sizeof(keys));
    ASSERT_STR_EQ(keys, "b/1,global");
    store_close(s);
}
