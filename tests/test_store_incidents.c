/* test_store_incidents: what the store keeps of an incident, on SQLite and
 * PostgreSQL (STORE_TEST, tests/store_fixture.h): incidents (round trip,
 * rejected updates, submission keys, open ones, the review's window), the
 * timeline, members, decisions, page rounds and page acknowledgements. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/store.h"
#include "store_fixture.h"
#include "test.h"

/* ---- incidents ---- */

STORE_TEST(store_incident_roundtrip, 30)
{
    struct store *s = sfx_open(f->target);
    struct incident inc = {
        .title = "Token leak", .description = "desc", .severity = 1, .priority = 2,
        .component = "gitaly", .repro = "GET /x", .issue_link = "https://example/1",
        .reporter = "U0REP0001", .origin_channel = "C0ORIGIN1", .submission_key = "V123",
        .created_ms = 1700000000123LL,
    };
    ASSERT_EQ(store_incident_create(s, &inc), 0);
    ASSERT_EQ(inc.id, 1);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, inc.id, &got), 0);
    ASSERT_EQ(got.id, 1);
    ASSERT_STR_EQ(got.title, "Token leak");
    ASSERT_STR_EQ(got.description, "desc");
    ASSERT_EQ(got.severity, 1);
    ASSERT_EQ(got.priority, 2);
    ASSERT_STR_EQ(got.component, "gitaly");
    ASSERT_STR_EQ(got.repro, "GET /x");
    ASSERT_STR_EQ(got.issue_link, "https://example/1");
    ASSERT_STR_EQ(got.reporter, "U0REP0001");
    ASSERT_NULL(got.owner);
    ASSERT_STR_EQ(got.state, "open");
    ASSERT_STR_EQ(got.origin_channel, "C0ORIGIN1");
    ASSERT_STR_EQ(got.submission_key, "V123");
    ASSERT_NULL(got.channel_id);
    ASSERT_EQ(got.gitlab_project_id, 0);
    ASSERT_EQ(got.gitlab_issue_iid, 0);
    ASSERT_EQ(got.created_ms, 1700000000123LL);
    ASSERT_EQ(got.updated_ms, 1700000000123LL);
    ASSERT_EQ(got.resolved_ms, 0);
    incident_finish(&got);
    ASSERT_NULL(got.title);
    incident_finish(&got);   /* finishing twice is harmless */

    ASSERT_EQ(store_incident_get(s, 42, &got), STORE_ENOTFOUND);
    ASSERT_EQ(store_incident_by_channel(s, "C0INC0001", &got), STORE_ENOTFOUND);

    ASSERT_EQ(store_incident_set_text(s, inc.id, "channel_id", "C0INC0001", 2000), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "channel_name", "sirt-1-token-leak", 2001), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "owner", "U0OWNER01", 2002), 0);
    ASSERT_EQ(store_incident_set_int(s, inc.id, "gitlab_project_id", 77, 2003), 0);
    ASSERT_EQ(store_incident_set_int(s, inc.id, "gitlab_issue_iid", 3, 2004), 0);
    ASSERT_EQ(store_incident_set_int(s, inc.id, "severity", 4, 2005), 0);
    ASSERT_EQ(store_incident_set_text(s, inc.id, "gitlab_issue_url", "https://gl/i/3", 2006), 0);
    ASSERT_EQ(store_incident_by_channel(s, "C0INC0001", &got), 0);
    ASSERT_EQ(got.id, inc.id);
    ASSERT_STR_EQ(got.channel_name, "sirt-1-token-leak");
    ASSERT_STR_EQ(got.owner, "U0OWNER01");
    ASSERT_EQ(got.gitlab_project_id, 77);
    ASSERT_EQ(got.gitlab_issue_iid, 3);
    ASSERT_EQ(got.severity, 4);
    ASSERT_STR_EQ(got.gitlab_issue_url, "https://gl/i/3");
    ASSERT_EQ(got.updated_ms, 2006);
    ASSERT_EQ(got.created_ms, 1700000000123LL);
    incident_finish(&got);

    /* NULL clears a text field. */
    ASSERT_EQ(store_incident_set_text(s, inc.id, "owner", NULL, 2007), 0);
    ASSERT_EQ(store_incident_get(s, inc.id, &got), 0);
    ASSERT_NULL(got.owner);
    incident_finish(&got);

    store_close(s);
}

STORE_TEST(store_incident_set_rejects, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t id = sfx_new_incident(s, NULL, 1000);
    /* Not on the whitelist, or whitelisted with the other type. */
    ASSERT_EQ(store_incident_set_text(s, id, "reporter", "U0EVIL", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "submission_key", "x", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "title = 'x', reporter", "y", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "Title", "y", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, "severity", "1", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_text(s, id, NULL, "1", 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "title", 1, 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "id", 9, 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "created_ms", 9, 2000), STORE_EINVAL);
    /* Values the schema refuses. */
    ASSERT_EQ(store_incident_set_int(s, id, "severity", 5, 2000), STORE_EINVAL);
    ASSERT_EQ(store_incident_set_int(s, id, "priority", 0, 2000), STORE_EINVAL);
    /* Missing incident. */
    ASSERT_EQ(store_incident_set_text(s, 999, "title", "y", 2000), STORE_ENOTFOUND);
    ASSERT_EQ(store_incident_set_int(s, 999, "severity", 1, 2000), STORE_ENOTFOUND);

    struct incident got;
    ASSERT_EQ(store_incident_get(s, id, &got), 0);
    ASSERT_STR_EQ(got.reporter, "U0REP0001");
    ASSERT_STR_EQ(got.title, "t");
    ASSERT_EQ(got.severity, 2);
    ASSERT_EQ(got.updated_ms, 1000);
    incident_finish(&got);

    /* Create-time validation. */
    struct incident bad = { .severity = 9, .priority = 1, .reporter = "U1", .created_ms = 1 };
    ASSERT_EQ(store_incident_create(s, &bad), STORE_EINVAL);
    struct incident noreporter = { .severity = 1, .priority = 1, .created_ms = 1 };
    ASSERT_EQ(store_incident_create(s, &noreporter), STORE_EINVAL);
    store_close(s);
}

STORE_TEST(store_incident_submission_key_conflict, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t first = sfx_new_incident(s, "V-dup", 1000);
    sfx_new_incident(s, "V-other", 1000);
    struct incident again = {
        .title = "again", .severity = 1, .priority = 1, .reporter = "U0REP0002",
        .submission_key = "V-dup", .created_ms = 2000,
    };
    ASSERT_EQ(store_incident_create(s, &again), STORE_EEXIST);
    ASSERT_EQ(again.id, first);
    struct incident got;
    ASSERT_EQ(store_incident_get(s, first, &got), 0);
    ASSERT_STR_EQ(got.title, "t");   /* untouched */
    incident_finish(&got);
    /* Without a key there is never a conflict. */
    int64_t a = sfx_new_incident(s, NULL, 3000);
    int64_t b = sfx_new_incident(s, NULL, 3000);
    ASSERT_NE(a, b);
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incidents"), 4);
    store_close(s);
}

struct open_ctx {
    struct store *s;
    int64_t ids[16];
    int n;
    int stop_after;
};

static bool collect_open(void *ud, const struct incident *inc)
{
    struct open_ctx *c = ud;
    c->ids[c->n++] = inc->id;
    /* Writing the store from inside the callback is allowed. */
    ASSERT_EQ(store_incident_set_text(c->s, inc->id, "owner", "U0SEEN", 5000), 0);
    return c->n != c->stop_after;
}

STORE_TEST(store_incidents_open_iteration, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = sfx_new_incident(s, NULL, 1);
    int64_t b = sfx_new_incident(s, NULL, 2);
    int64_t c = sfx_new_incident(s, NULL, 3);
    int64_t d = sfx_new_incident(s, NULL, 4);
    ASSERT_EQ(store_incident_set_text(s, b, "state", "resolved", 10), 0);
    ASSERT_EQ(store_incident_set_int(s, b, "resolved_ms", 10, 10), 0);

    struct open_ctx ctx = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_open(s, collect_open, &ctx), 0);
    ASSERT_EQ(ctx.n, 3);
    ASSERT_EQ(ctx.ids[0], a);
    ASSERT_EQ(ctx.ids[1], c);
    ASSERT_EQ(ctx.ids[2], d);

    struct open_ctx early = { .s = s, .stop_after = 2 };
    ASSERT_EQ(store_incidents_open(s, collect_open, &early), 0);
    ASSERT_EQ(early.n, 2);

    struct incident got;
    ASSERT_EQ(store_incident_get(s, d, &got), 0);
    ASSERT_STR_EQ(got.owner, "U0SEEN");
    incident_finish(&got);
    ASSERT_EQ(store_incident_get(s, b, &got), 0);
    ASSERT_NULL(got.owner);
    ASSERT_EQ(got.resolved_ms, 10);
    incident_finish(&got);
    store_close(s);
}

/* ---- timeline ---- */

struct tl_ctx {
    char kinds[256];
    int64_t last_ts;
    int n, stop_after;
};

static bool collect_tl(void *ud, const struct timeline_entry *e)
{
    struct tl_ctx *c = ud;
    ASSERT(e->ts_ms >= c->last_ts);
    c->last_ts = e->ts_ms;
    strcat(c->kinds, e->kind);
    strcat(c->kinds, " ");
    c->n++;
    return c->n != c->stop_after;
}

STORE_TEST(store_timeline_order, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = sfx_new_incident(s, NULL, 1);
    int64_t other = sfx_new_incident(s, NULL, 1);
    ASSERT_EQ(store_timeline_add(s, inc, 300, "sirtbot", "paged", "p"), 0);
    ASSERT_EQ(store_timeline_add(s, inc, 100, "U0REP0001", "reported", "r"), 0);
    ASSERT_EQ(store_timeline_add(s, other, 150, "sirtbot", "elsewhere", NULL), 0);
    ASSERT_EQ(store_timeline_add(s, inc, 200, "sirtbot", "channel_created", NULL), 0);
    ASSERT_EQ(store_timeline_add(s, inc, 100, "sirtbot", "same_ts_later", "x"), 0);

    struct tl_ctx c = { .stop_after = -1 };
    ASSERT_EQ(store_timeline_list(s, inc, collect_tl, &c), 0);
    ASSERT_STR_EQ(c.kinds, "reported same_ts_later channel_created paged ");

    struct tl_ctx early = { .stop_after = 1 };
    ASSERT_EQ(store_timeline_list(s, inc, collect_tl, &early), 0);
    ASSERT_STR_EQ(early.kinds, "reported ");

    struct tl_ctx none = { .stop_after = -1 };
    ASSERT_EQ(store_timeline_list(s, 999, collect_tl, &none), 0);
    ASSERT_EQ(none.n, 0);
    /* An entry for a missing incident is refused by the foreign key. */
    ASSERT(store_timeline_add(s, 999, 1, "sirtbot", "x", NULL) < 0);
    store_close(s);
}

/* ---- incidents since ---- */

STORE_TEST(store_incidents_since_window, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t old_open = sfx_new_incident(s, NULL, 100);
    int64_t old_resolved = sfx_new_incident(s, NULL, 200);
    int64_t recent_resolved = sfx_new_incident(s, NULL, 1000);
    int64_t recent_open = sfx_new_incident(s, NULL, 1500);
    int64_t edge = sfx_new_incident(s, NULL, 999);
    ASSERT_EQ(store_incident_set_text(s, old_resolved, "state", "resolved", 300), 0);
    ASSERT_EQ(store_incident_set_text(s, recent_resolved, "state", "resolved", 1100), 0);
    ASSERT_EQ(store_incident_set_text(s, edge, "state", "resolved", 1100), 0);

    struct open_ctx ctx = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_since(s, 1000, collect_open, &ctx), 0);
    ASSERT_EQ(ctx.n, 3);
    ASSERT_EQ(ctx.ids[0], old_open);         /* old, but still open */
    ASSERT_EQ(ctx.ids[1], recent_resolved);  /* created exactly at since */
    ASSERT_EQ(ctx.ids[2], recent_open);

    struct open_ctx early = { .s = s, .stop_after = 1 };
    ASSERT_EQ(store_incidents_since(s, 1000, collect_open, &early), 0);
    ASSERT_EQ(early.n, 1);

    struct open_ctx all = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_since(s, 0, collect_open, &all), 0);
    ASSERT_EQ(all.n, 5);
    for (int i = 1; i < all.n; i++)
        ASSERT(all.ids[i] > all.ids[i - 1]);

    struct open_ctx future = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_incidents_since(s, INT64_MAX, collect_open, &future), 0);
    ASSERT_EQ(future.n, 2);                  /* only the open ones */
    store_close(s);
}

/* ---- members ---- */

STORE_TEST(store_members, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = sfx_new_incident(s, NULL, 1);
    int64_t b = sfx_new_incident(s, NULL, 1);
    ASSERT_EQ(store_member_is(s, a, "U0EM00001"), 0);
    ASSERT_EQ(store_member_add(s, a, "U0EM00001", "em", 10), 0);
    ASSERT_EQ(store_member_add(s, a, "U0EM00001", "owner", 20), 0);     /* idempotent */
    ASSERT_EQ(store_member_add(s, a, "U0RESP001", NULL, 30), 0);
    ASSERT_EQ(store_member_is(s, a, "U0EM00001"), 1);
    ASSERT_EQ(store_member_is(s, a, "U0RESP001"), 1);
    ASSERT_EQ(store_member_is(s, b, "U0EM00001"), 0);                   /* per incident */
    ASSERT_EQ(store_member_is(s, a, "U0em00001"), 0);                   /* ids are exact */
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incident_members"), 2);
    /* The first add's role and time are kept. */
    ASSERT_EQ(sfx_raw_int(f, "SELECT COUNT(*) FROM incident_members"
                            " WHERE user_id = 'U0EM00001' AND role = 'em' AND added_ms = 10"), 1);

    ASSERT_EQ(store_member_add(s, a, NULL, "x", 1), STORE_EINVAL);
    ASSERT_EQ(store_member_add(s, a, "", "x", 1), STORE_EINVAL);
    ASSERT_EQ(store_member_is(s, a, NULL), 0);
    ASSERT_EQ(store_member_is(s, a, ""), 0);
    ASSERT(store_member_add(s, 999, "U0EM00001", "em", 1) < 0);        /* no such incident */
    ASSERT_EQ(store_member_is(s, 999, "U0EM00001"), 0);

    /* Inside a rolled-back transaction nothing sticks. */
    ASSERT_EQ(store_begin(s), 0);
    ASSERT_EQ(store_member_add(s, b, "U0PM00001", "pm", 40), 0);
    ASSERT_EQ(store_member_is(s, b, "U0PM00001"), 1);
    store_rollback(s);
    ASSERT_EQ(store_member_is(s, b, "U0PM00001"), 0);
    store_close(s);
}

/* ---- decisions ---- */

STORE_TEST(store_decision_roundtrip, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = sfx_new_incident(s, NULL, 1);
    /* Zeroed delivery/validation fields must not read as "validated: no". */
    struct decision d = {
        .incident_id = inc, .author = "U0EM00001", .created_ms = 5000,
        .solution = "Rotate the token", .options = "rotate; revoke all",
        .effectiveness = "stops new abuse", .customers = "all", .how_affected = "cannot log in",
        .magnitude = "minutes", .consequences = "sessions end",
    };
    ASSERT_EQ(store_decision_add(s, &d), 0);
    ASSERT(d.id > 0);

    struct decision got;
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.id, d.id);
    ASSERT_EQ(got.incident_id, inc);
    ASSERT_STR_EQ(got.author, "U0EM00001");
    ASSERT_EQ(got.created_ms, 5000);
    ASSERT_STR_EQ(got.solution, "Rotate the token");
    ASSERT_STR_EQ(got.options, "rotate; revoke all");
    ASSERT_STR_EQ(got.effectiveness, "stops new abuse");
    ASSERT_STR_EQ(got.customers, "all");
    ASSERT_STR_EQ(got.how_affected, "cannot log in");
    ASSERT_STR_EQ(got.magnitude, "minutes");
    ASSERT_STR_EQ(got.consequences, "sessions end");
    ASSERT_EQ(got.fix_delivered_ms, 0);
    ASSERT_NULL(got.fix_delivered_by);
    ASSERT_EQ(got.validated, -1);
    ASSERT_NULL(got.validated_by);
    ASSERT_EQ(got.validated_ms, 0);
    decision_finish(&got);
    ASSERT_NULL(got.solution);
    decision_finish(&got);     /* finishing twice is harmless */
    decision_finish(NULL);

    ASSERT_EQ(store_decision_fix_delivered(s, d.id, "U0DEV0001", 6000), 0);
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.fix_delivered_ms, 6000);
    ASSERT_STR_EQ(got.fix_delivered_by, "U0DEV0001");
    ASSERT_EQ(got.validated, -1);
    decision_finish(&got);

    ASSERT_EQ(store_decision_validated(s, d.id, true, "U0EM00001", 7000), 0);
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.validated, 1);
    ASSERT_STR_EQ(got.validated_by, "U0EM00001");
    ASSERT_EQ(got.validated_ms, 7000);
    ASSERT_EQ(got.fix_delivered_ms, 6000);
    decision_finish(&got);

    ASSERT_EQ(store_decision_validated(s, d.id, false, "U0PM00001", 8000), 0);
    ASSERT_EQ(store_decision_get(s, d.id, &got), 0);
    ASSERT_EQ(got.validated, 0);
    ASSERT_STR_EQ(got.validated_by, "U0PM00001");
    ASSERT_EQ(got.validated_ms, 8000);
    decision_finish(&got);

    /* Sparse decision: NULL texts stay NULL. */
    struct decision sparse = { .incident_id = inc, .created_ms = 9000, .validated = 1,
                               .fix_delivered_ms = 42 };
    ASSERT_EQ(store_decision_add(s, &sparse), 0);
    ASSERT(sparse.id > d.id);
    ASSERT_EQ(store_decision_get(s, sparse.id, &got), 0);
    ASSERT_NULL(got.author);
    ASSERT_NULL(got.solution);
    ASSERT_EQ(got.validated, -1);
    ASSERT_EQ(got.fix_delivered_ms, 0);
    decision_finish(&got);

    ASSERT_EQ(store_decision_get(s, 999, &got), STORE_ENOTFOUND);
    ASSERT_EQ(store_decision_fix_delivered(s, 999, "U1", 1), STORE_ENOTFOUND);
    ASSERT_EQ(store_decision_validated(s, 999, true, "U1", 1), STORE_ENOTFOUND);
    struct decision orphan = { .incident_id = 999, .author = "U1" };
    ASSERT(store_decision_add(s, &orphan) < 0);
    ASSERT_EQ(orphan.id, 0);
    store_close(s);
}

struct dec_ctx {
    struct store *s;
    int64_t ids[8];
    int n, stop_after;
};

static bool collect_decisions(void *ud, const struct decision *d)
{
    struct dec_ctx *c = ud;
    c->ids[c->n++] = d->id;
    /* Writing the store from inside the callback is allowed. */
    ASSERT_EQ(store_decision_fix_delivered(c->s, d->id, "U0CB", 77), 0);
    return c->n != c->stop_after;
}

STORE_TEST(store_decisions_list_order, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = sfx_new_incident(s, NULL, 1);
    int64_t other = sfx_new_incident(s, NULL, 1);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        struct decision d = { .incident_id = inc, .author = "U1", .created_ms = 100 - i };
        ASSERT_EQ(store_decision_add(s, &d), 0);
        ids[i] = d.id;
        struct decision o = { .incident_id = other, .author = "U2", .created_ms = 100 };
        ASSERT_EQ(store_decision_add(s, &o), 0);
    }
    struct dec_ctx c = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_decisions_list(s, inc, collect_decisions, &c), 0);
    ASSERT_EQ(c.n, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(c.ids[i], ids[i]);
    struct decision got;
    ASSERT_EQ(store_decision_get(s, ids[2], &got), 0);
    ASSERT_EQ(got.fix_delivered_ms, 77);
    decision_finish(&got);

    struct dec_ctx early = { .s = s, .stop_after = 2 };
    ASSERT_EQ(store_decisions_list(s, inc, collect_decisions, &early), 0);
    ASSERT_EQ(early.n, 2);
    struct dec_ctx none = { .s = s, .stop_after = -1 };
    ASSERT_EQ(store_decisions_list(s, 999, collect_decisions, &none), 0);
    ASSERT_EQ(none.n, 0);
    store_close(s);
}

/* ---- page rounds ---- */

struct rounds {
    char keys[8][64];
    int open;
    int n;
};

static bool collect_round(void *ud, const struct page_round *r)
{
    struct rounds *c = ud;
    if (c->n < 8)
        snprintf(c->keys[c->n++], 64, "%d:%s:%s", r->round, r->dedup_key, r->paged_user ? r->paged_user : "-");
    if (!r->resolved_ms)
        c->open++;
    return true;
}

STORE_TEST(store_page_rounds, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t a = sfx_new_incident(s, NULL, 100), b = sfx_new_incident(s, NULL, 100);
    struct page_round r;
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(store_page_last_round(s, a), 0);
    ASSERT_EQ(store_page_open(s, a, &r), STORE_ENOTFOUND);
    ASSERT_EQ(store_page_add(s, a, 1, "SIRT-1", "report", 200), 0);
    ASSERT_EQ(store_page_add(s, a, 2, "SIRT-1/page-2", "handoff", 300), 0);
    /* A round or a key cannot be recorded twice, not even for another incident. */
    ASSERT_EQ(store_page_add(s, a, 2, "SIRT-1/page-x", "page", 300), STORE_EEXIST);
    ASSERT_EQ(store_page_add(s, b, 1, "SIRT-1", "page", 300), STORE_EEXIST);
    ASSERT_EQ(store_page_add(s, b, 0, "SIRT-2", "page", 300), STORE_EINVAL);
    ASSERT_EQ(store_page_last_round(s, a), 2);
    ASSERT_EQ(store_page_open(s, a, &r), 0);   /* the newest open round */
    ASSERT_EQ(r.round, 2);
    ASSERT_STR_EQ(r.dedup_key, "SIRT-1/page-2");
    ASSERT_STR_EQ(r.reason, "handoff");
    ASSERT_EQ(r.created_ms, 300);
    ASSERT(r.paged_user == NULL);
    page_round_finish(&r);
    ASSERT_EQ(store_page_set_user(s, a, "SIRT-1/page-2", "U0SECOPS1"), 0);
    ASSERT_EQ(store_page_set_user(s, b, "SIRT-1/page-2", "U0SECOPS1"), STORE_ENOTFOUND);
    /* Resolving one round leaves the other open; NULL resolves the rest. */
    ASSERT_EQ(store_page_resolve(s, a, "SIRT-1/page-2", 400), 1);
    ASSERT_EQ(store_page_resolve(s, a, "SIRT-1/page-2", 500), 0);
    ASSERT_EQ(store_page_open(s, a, &r), 0);
    ASSERT_STR_EQ(r.dedup_key, "SIRT-1");
    page_round_finish(&r);
    struct rounds c = { .n = 0 };
    ASSERT_EQ(store_pages_list(s, a, collect_round, &c), 0);
    ASSERT_EQ(c.n, 2);
    ASSERT_EQ(c.open, 1);
    ASSERT_STR_EQ(c.keys[0], "1:SIRT-1:-");
    ASSERT_STR_EQ(c.keys[1], "2:SIRT-1/page-2:U0SECOPS1");
    ASSERT_EQ(store_page_resolve(s, a, NULL, 600), 1);
    ASSERT_EQ(store_page_open(s, a, &r), STORE_ENOTFOUND);
    ASSERT_EQ(store_page_last_round(s, b), 0);
    store_close(s);
}

/* page_acks (issue 9, pages that are seen): the first acknowledgement seen
 * stands; the bot's columns and PagerDuty's are written separately. */
static bool count_acks(void *ud, const struct page_ack *a)
{
    int *n = ud;
    if (a->escalation_key)
        (*n)++;
    return true;
}

STORE_TEST(store_page_acks, 30)
{
    struct store *s = sfx_open(f->target);
    int64_t inc = sfx_new_incident(s, NULL, 1);
    struct page_ack a;
    ASSERT_EQ(store_page_ack_get(s, "SIRT-1", &a), STORE_ENOTFOUND);
    memset(&a, 0, sizeof(a));
    a.dedup_key = (char *)"SIRT-1";
    a.incident_id = inc;
    a.polls = 2;
    a.poll_job = 7;
    ASSERT_EQ(store_page_ack_put(s, &a), 0);
    ASSERT_EQ(store_page_ack_seen(s, inc, "SIRT-1", 5000, "Alice", "acknowledged"), 0);
    ASSERT_EQ(store_page_ack_seen(s, inc, "SIRT-1", 9000, "Bob", "acknowledged"), 0);   /* the first stands */
    a.noticed_ms = 6000;
    a.escalation_key = (char *)"SIRT-1/escalation-1";
    a.escalated_ms = 5500;
    ASSERT_EQ(store_page_ack_put(s, &a), 0);   /* leaves ack_* alone */
    struct page_ack b;
    ASSERT_EQ(store_page_ack_get(s, "SIRT-1", &b), 0);
    ASSERT_EQ(b.ack_ms, 5000);
    ASSERT_STR_EQ(b.ack_by, "Alice");
    ASSERT_STR_EQ(b.ack_how, "acknowledged");
    ASSERT_EQ(b.noticed_ms, 6000);
    ASSERT_STR_EQ(b.escalation_key, "SIRT-1/escalation-1");
    ASSERT_EQ(b.polls, 2);
    ASSERT_EQ(b.poll_job, 7);
    page_ack_finish(&b);
    /* Seen before the bot wrote its row: created by the capture. */
    ASSERT_EQ(store_page_ack_seen(s, inc, "SIRT-1/page-2", 7000, NULL, "resolved"), 0);
    ASSERT_EQ(store_page_ack_get(s, "SIRT-1/page-2", &b), 0);
    ASSERT_EQ(b.ack_ms, 7000);
    ASSERT_NULL(b.ack_by);
    page_ack_finish(&b);
    int n = 0;
    ASSERT_EQ(store_page_acks_list(s, inc, count_acks, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT(store_page_ack_seen(s, inc, "SIRT-1", 0, "x", "acknowledged") < 0);
    store_close(s);
}
