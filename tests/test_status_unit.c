/* Unit tests of status, review and timeline against a real store in a temp
 * dir: who sees what (limited access), the open list, the review digest's
 * sections and its split into messages, the weekly timer, and the timeline
 * Markdown and its parts.  Effects are read back from the outbox. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/clock.h"
#include "../bot/config.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"
#include "test.h"

#define SECRET "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"
#define MON_0900 1795424400000LL     /* 2026-11-23T09:00:00Z, a Monday */
#define HOUR 3600000LL
#define DAY (24 * HOUR)

struct env {
    char dir[64];
    struct cfg cfg;
    struct store *store;
    struct hctx ctx;
};

static const char team_json[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"UTC\",\"hours\":\"09:00-17:00\"}],"
    "\"components\":[{\"name\":\"gitaly\"}]}";

static void env_init(struct env *e, const char *json)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/sirt-status-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(e->dir));
    char err[256], path[128];
    ASSERT_EQ(cfg_parse_team(&e->cfg, "t.json", json, strlen(json), err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/sirt.db", e->dir);
    if (store_open(&e->store, path, err, sizeof(err)) != 0)
        TEST_FAIL("store_open: %s", err);
    e->ctx.cfg = &e->cfg;
    e->ctx.store = e->store;
    e->ctx.now_ms = clock_now_ms;
    clock_set_fixed_ms(MON_0900 - 2 * DAY);
}

static void env_finish(struct env *e)
{
    store_close(e->store);
    cfg_finish(&e->cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
    ASSERT_EQ(system(cmd), 0);
    clock_set_real();
}

/* SIRT-n with a channel, a decision and a few timeline entries. */
static int64_t add_incident(struct env *e, const char *title, const char *state, int64_t created)
{
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.title = (char *)title;
    inc.description = "Deploy token " SECRET " printed by a CI job; <script> & friends";
    inc.severity = 1;
    inc.priority = 2;
    inc.component = "gitaly";
    inc.reporter = "U0REPORT1";
    inc.state = (char *)state;
    inc.created_ms = inc.updated_ms = created;
    ASSERT_EQ(store_incident_create(e->store, &inc), 0);
    char ch[16];
    snprintf(ch, sizeof(ch), "C0INC%04" PRId64, inc.id);
    store_incident_set_text(e->store, inc.id, "channel_id", ch, created);
    store_incident_set_text(e->store, inc.id, "channel_name", "sirt-1-token-leaked", created);
    store_incident_set_text(e->store, inc.id, "gitlab_issue_url", "https://gl.example/sec/sirt-1/-/issues/1", created);
    if (strcmp(state, "resolved") == 0)
        store_incident_set_int(e->store, inc.id, "resolved_ms", created + HOUR, created + HOUR);
    store_timeline_add(e->store, inc.id, created, "U0REPORT1", "reported", "incident reported");
    store_timeline_add(e->store, inc.id, created + 1000, "sirtbot", "slack.create_channel",
                       "private channel #sirt-1-token-leaked created");
    store_timeline_add(e->store, inc.id, created + 2000, "sirtbot", "pd.trigger", "security on-call paged (PagerDuty)");
    return inc.id;
}

static void add_decision(struct env *e, int64_t id, const char *solution, int64_t fix, int validated)
{
    struct decision d;
    memset(&d, 0, sizeof(d));
    d.incident_id = id;
    d.author = "U0SIRT001";
    d.created_ms = clock_now_ms();
    d.solution = (char *)solution;
    d.customers = "self-managed customers with CI tokens " SECRET;
    d.magnitude = "hundreds";
    ASSERT_EQ(store_decision_add(e->store, &d), 0);
    if (fix)
        ASSERT_EQ(store_decision_fix_delivered(e->store, d.id, "U0SIRT001", fix), 0);
    if (validated >= 0)
        ASSERT_EQ(store_decision_validated(e->store, d.id, validated == 1, "U0SIRT001", fix + 1000), 0);
}

static struct sirt_req req_of(enum req_source src, const char *user, const char *channel, const char *args)
{
    struct sirt_req r;
    memset(&r, 0, sizeof(r));
    r.source = src;
    r.user_id = user;
    r.channel_id = channel;
    r.verb = "status";
    r.args = args;
    r.trigger_id = src == REQ_SLASH ? "1234.5678.trig" : NULL;
    return r;
}

static char *status_of(struct env *e, enum req_source src, const char *user, const char *channel, const char *args)
{
    struct sirt_req r = req_of(src, user, channel, args);
    struct sirt_reply out = { 0 };
    status_respond(&e->ctx, &r, &out);
    ASSERT_NOT_NULL(out.text);
    ASSERT_NULL(out.blocks);
    char *t = out.text;
    out.text = NULL;
    reply_finish(&out);
    return t;
}

static void assert_limited(const char *t, const char *id)
{
    char want[96];
    snprintf(want, sizeof(want), "%s exists (open). Ask in <#C0SIRT0001> or contact the SIRT team.", id);
    ASSERT_STR_EQ(t, want);
}

static void assert_full(const char *t)
{
    ASSERT_CONTAINS(t, "SIRT-1: Token glpat-[MASKED] leaked");
    ASSERT_CONTAINS(t, "S1");
    ASSERT_CONTAINS(t, "P2");
    ASSERT_CONTAINS(t, "gitaly");
    ASSERT_CONTAINS(t, "<@U0REPORT1>");
    ASSERT_CONTAINS(t, "<#C0INC0001>");
    ASSERT_CONTAINS(t, "/-/issues/1");
    ASSERT_CONTAINS(t, "Rotate the token");
    ASSERT_CONTAINS(t, "fix delivered, not validated yet");
    ASSERT_CONTAINS(t, "slack.create_channel");
    ASSERT_NOT_CONTAINS(t, SECRET);
}

TEST(status_limited_unless_private_and_allowed)
{
    struct env e;
    env_init(&e, team_json);
    int64_t id = add_incident(&e, "Token " SECRET " leaked", "open", clock_now_ms());
    add_decision(&e, id, "Rotate the token", clock_now_ms(), -1);
    store_member_add(e.store, id, "U0EM00001", "em", clock_now_ms());

    struct {
        enum req_source src;
        const char *user, *channel, *args;
        bool full;
    } cases[] = {
        { REQ_MENTION, "U0OUTSID1", "C0PUBLIC1", "SIRT-1", false },   /* outsider, public */
        { REQ_MENTION, "U0SIRT001", "C0PUBLIC1", "SIRT-1", false },   /* SIRT, but public */
        { REQ_MENTION, "U0REPORT1", "C0PUBLIC1", "sirt-1", false },   /* reporter, public */
        { REQ_SLASH, "U0OUTSID1", "C0PUBLIC1", "SIRT-1", false },     /* private, not allowed */
        { REQ_DM, "U0OUTSID1", "D0DM00001", "1", false },
        { REQ_MENTION, "U0SIRT001", "C0INC0002", "SIRT-1", false },   /* another incident's channel */
        { REQ_SLASH, "U0SIRT001", "C0PUBLIC1", "SIRT-1", true },
        { REQ_SLASH, "U0REPORT1", "C0PUBLIC1", "SIRT-1", true },
        { REQ_DM, "U0EM00001", "D0DM00002", "SIRT-1", true },         /* recorded on the incident */
        { REQ_MENTION, "U0OUTSID1", "C0INC0001", "", true },          /* in its channel: implied */
        { REQ_MENTION, "U0OUTSID1", "C0INC0001", "SIRT-1", true },
        { REQ_SLASH, "U0OUTSID1", "C0INC0001", "", true },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char *t = status_of(&e, cases[i].src, cases[i].user, cases[i].channel, cases[i].args);
        if (cases[i].full) {
            assert_full(t);
        } else {
            if (strstr(t, "Token") || strstr(t, "gitaly") || strstr(t, "S1") || strstr(t, "U0REPORT1")
                || strstr(t, "C0INC0001"))
                TEST_FAIL("case %zu leaks details: %s", i, t);
            assert_limited(t, "SIRT-1");
        }
        free(t);
    }
    char *t = status_of(&e, REQ_SLASH, "U0SIRT001", "C0PUBLIC1", "SIRT-99");
    ASSERT_STR_EQ(t, "There is no incident SIRT-99.");
    free(t);
    env_finish(&e);
}

TEST(status_resolved_and_no_channel_configured)
{
    struct env e;
    env_init(&e, "{\"sirt_team\":[\"U0SIRT001\"]}");
    add_incident(&e, "Old thing", "resolved", clock_now_ms() - DAY);
    char *t = status_of(&e, REQ_MENTION, "U0OUTSID1", "C0PUBLIC1", "SIRT-1");
    ASSERT_STR_EQ(t, "SIRT-1 exists (resolved). Contact the SIRT team.");
    free(t);
    env_finish(&e);
}

TEST(status_lists_open_incidents_per_viewer)
{
    struct env e;
    env_init(&e, team_json);
    add_incident(&e, "Token " SECRET " leaked", "open", clock_now_ms());
    add_incident(&e, "Closed long ago", "resolved", clock_now_ms() - 3 * DAY);
    add_incident(&e, "XSS in wiki", "open", clock_now_ms());

    char *t = status_of(&e, REQ_SLASH, "U0SIRT001", "C0PUBLIC1", "");
    ASSERT_CONTAINS(t, "Open incidents* (2)");
    ASSERT_CONTAINS(t, "*SIRT-1* Token glpat-[MASKED] leaked");
    ASSERT_CONTAINS(t, "*SIRT-3* XSS in wiki");
    ASSERT_NOT_CONTAINS(t, "SIRT-2");
    ASSERT_NOT_CONTAINS(t, SECRET);
    free(t);

    /* Public mention, even by the SIRT: ids and "open" only. */
    const char *who[] = { "U0SIRT001", "U0OUTSID1" };
    for (size_t i = 0; i < ARRAY_LEN(who); i++) {
        t = status_of(&e, REQ_MENTION, who[i], "C0PUBLIC1", "");
        ASSERT_CONTAINS(t, "• SIRT-1 — open");
        ASSERT_CONTAINS(t, "• SIRT-3 — open");
        ASSERT_NOT_CONTAINS(t, "Token");
        ASSERT_NOT_CONTAINS(t, "XSS");
        ASSERT_NOT_CONTAINS(t, "gitaly");
        ASSERT_NOT_CONTAINS(t, "C0INC");
        free(t);
    }
    /* Outsider's slash: private, but not allowed for either. */
    t = status_of(&e, REQ_SLASH, "U0OUTSID1", "C0PUBLIC1", "");
    ASSERT_NOT_CONTAINS(t, "XSS");
    ASSERT_CONTAINS(t, "• SIRT-3 — open");
    free(t);
    env_finish(&e);
}

/* ---- reading the outbox back ---- */

struct jobs {
    struct outbox_job *v;
    size_t n;
};

static struct jobs jobs_now(struct env *e)
{
    struct jobs j;
    /* Far enough ahead that ordered parts are due even with their deps pending. */
    ASSERT_EQ(store_outbox_due(e->store, clock_now_ms() + DAY, 1000, &j.v, &j.n), 0);
    return j;
}

static char *job_text(const struct outbox_job *j, const char **channel_out)
{
    cJSON *p = cJSON_Parse(j->payload);
    ASSERT_NOT_NULL(p);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(p, "channel");
    static char chan[32];
    str_lcpy(chan, cJSON_IsString(c) ? c->valuestring : "", sizeof(chan));
    if (channel_out)
        *channel_out = chan;
    char *s = xstrdup(cJSON_IsString(t) ? t->valuestring : "");
    cJSON_Delete(p);
    return s;
}

static struct sirt_req review_req(const char *user, const char *trig)
{
    struct sirt_req r = req_of(REQ_SLASH, user, "C0PUBLIC1", "");
    r.verb = "review";
    r.trigger_id = trig;
    return r;
}

TEST(review_digest_sections_and_window)
{
    struct env e;
    env_init(&e, team_json);
    int64_t now = clock_now_ms();
    int64_t a = add_incident(&e, "Token " SECRET " leaked", "open", now - 20 * DAY);   /* old but open */
    add_decision(&e, a, "Rotate the token", now - DAY, 1);
    add_decision(&e, a, "Revoke all CI tokens", 0, -1);
    store_timeline_add(e.store, a, now - HOUR, "sirtbot", "effect_failed",
                       ":warning: SIRT-1: creating the GitLab issue failed (403 token " SECRET ")");
    store_timeline_add(e.store, a, now - HOUR, "U0APPSEC1", "handoff", "handed off to <@U0APPSEC2>");
    add_incident(&e, "Fixed this week", "resolved", now - 3 * DAY);
    add_incident(&e, "Fixed long ago", "resolved", now - 10 * DAY);
    store_incident_set_text(e.store, a, "owner", "U0APPSEC1", now);

    struct sirt_req r = review_req("U0SIRT001", "trig.review.1");
    struct sirt_reply out = { 0 };
    review_respond(&e.ctx, &r, &out);
    ASSERT_STR_EQ(out.text, "Posting the weekly review in <#C0SIRT0001>.");
    reply_finish(&out);
    ASSERT_EQ(store_begin(e.store), 0);
    review_work(&e.ctx, &r);
    ASSERT_EQ(store_commit(e.store), 0);

    struct jobs j = jobs_now(&e);
    ASSERT_EQ(j.n, 1);
    ASSERT_STR_EQ(j.v[0].op, "slack.post");
    ASSERT_STR_EQ(j.v[0].idem_key, "review/trig.review.1/1");
    const char *ch;
    char *t = job_text(&j.v[0], &ch);
    ASSERT_STR_EQ(ch, "C0SIRT0001");
    ASSERT_CONTAINS(t, "Weekly SIRT review");
    ASSERT_CONTAINS(t, "2 (1 open, 1 resolved)");
    ASSERT_CONTAINS(t, "*SIRT-1 — Token glpat-[MASKED] leaked*");
    ASSERT_CONTAINS(t, "*Scope*: component gitaly, severity S1, priority P2");
    ASSERT_CONTAINS(t, "*Impact*: Deploy token glpat-[MASKED] printed by a CI job; &lt;script&gt; &amp; friends");
    ASSERT_CONTAINS(t, "2 decisions (1 fix delivered, 1 validated effective, 0 not effective)");
    ASSERT_CONTAINS(t, "paged 1×, 1 hand-off");
    ASSERT_CONTAINS(t, "deliver the fix of decision #2");
    ASSERT_CONTAINS(t, "1 failed effect");
    ASSERT_CONTAINS(t, "*Status*: open since");
    ASSERT_CONTAINS(t, "owner <@U0APPSEC1>");
    ASSERT_CONTAINS(t, "*SIRT-2 — Fixed this week*");
    ASSERT_CONTAINS(t, "postmortem");
    ASSERT_NOT_CONTAINS(t, "SIRT-3");
    ASSERT_NOT_CONTAINS(t, SECRET);
    free(t);
    outbox_jobs_free(j.v, j.n);

    /* The same delivery again: the same key, nothing new. */
    ASSERT_EQ(store_begin(e.store), 0);
    review_work(&e.ctx, &r);
    ASSERT_EQ(store_commit(e.store), 0);
    j = jobs_now(&e);
    ASSERT_EQ(j.n, 1);
    outbox_jobs_free(j.v, j.n);
    env_finish(&e);
}

TEST(review_splits_long_digests_in_order)
{
    struct env e;
    env_init(&e, team_json);
    char title[160];
    for (int i = 0; i < 30; i++) {
        snprintf(title, sizeof(title), "Incident number %d with a fairly long title to fill the digest quickly "
                 "and then some more words", i);
        add_incident(&e, title, "open", clock_now_ms());
    }
    struct sirt_req r = review_req("U0SIRT001", "trig.review.2");
    ASSERT_EQ(store_begin(e.store), 0);
    review_work(&e.ctx, &r);
    ASSERT_EQ(store_commit(e.store), 0);
    struct jobs j = jobs_now(&e);
    ASSERT_GE(j.n, 3);
    bool seen[31] = { false };
    for (size_t i = 0; i < j.n; i++) {
        char *t = job_text(&j.v[i], NULL);
        ASSERT_LE(strlen(t), 3500);
        ASSERT_CONTAINS(t, "(part ");
        for (int k = 1; k <= 30; k++) {
            char id[32];
            snprintf(id, sizeof(id), "*SIRT-%d — ", k);
            if (strstr(t, id))
                seen[k] = true;
        }
        free(t);
    }
    for (int k = 1; k <= 30; k++)
        if (!seen[k])
            TEST_FAIL("SIRT-%d missing from the digest", k);
    outbox_jobs_free(j.v, j.n);
    /* Only the first part is due while the others wait for their predecessor. */
    ASSERT_EQ(store_outbox_due(e.store, clock_now_ms(), 1000, &j.v, &j.n), 0);
    ASSERT_EQ(j.n, 1);
    ASSERT_STR_EQ(j.v[0].idem_key, "review/trig.review.2/1");
    outbox_jobs_free(j.v, j.n);
    env_finish(&e);
}

TEST(review_refusals)
{
    struct env e;
    env_init(&e, team_json);
    struct sirt_req r = review_req("U0OUTSID1", "trig.review.3");
    struct sirt_reply out = { 0 };
    review_respond(&e.ctx, &r, &out);
    ASSERT_CONTAINS(out.text, "Only the SIRT team");
    reply_finish(&out);
    ASSERT_EQ(store_begin(e.store), 0);
    review_work(&e.ctx, &r);
    ASSERT_EQ(store_commit(e.store), 0);
    struct jobs j = jobs_now(&e);
    ASSERT_EQ(j.n, 0);
    outbox_jobs_free(j.v, j.n);
    env_finish(&e);

    env_init(&e, "{\"sirt_team\":[\"U0SIRT001\"]}");
    r = review_req("U0SIRT001", "trig.review.4");
    review_respond(&e.ctx, &r, &out);
    ASSERT_CONTAINS(out.text, "not configured");
    reply_finish(&out);
    env_finish(&e);
}

TEST(review_timer_mondays_at_nine)
{
    struct env e;
    env_init(&e, team_json);
    add_incident(&e, "Something", "open", clock_now_ms());
    clock_set_fixed_ms(MON_0900 - 10000);   /* Monday 08:59:50 */
    ASSERT_EQ(store_begin(e.store), 0);
    review_plan(&e.ctx);
    ASSERT_EQ(store_commit(e.store), 0);
    struct sched_timer t;
    ASSERT_EQ(store_timer_get(e.store, "weekly_review", &t), 0);
    ASSERT_STR_EQ(t.kind, "weekly_review");
    ASSERT_EQ(t.due_ms, MON_0900);
    int64_t first_id = t.id;
    sched_timer_finish(&t);
    /* Planned again (a restart): the pending timer stays. */
    review_plan(&e.ctx);
    ASSERT_EQ(store_timer_get(e.store, "weekly_review", &t), 0);
    ASSERT_EQ(t.id, first_id);

    clock_set_fixed_ms(MON_0900 + 5000);
    ASSERT_EQ(store_begin(e.store), 0);
    store_timer_done(e.store, t.id);
    review_fire(&e.ctx, &t);
    ASSERT_EQ(store_commit(e.store), 0);
    sched_timer_finish(&t);
    struct jobs j = jobs_now(&e);
    ASSERT_EQ(j.n, 1);
    ASSERT_STR_EQ(j.v[0].idem_key, "review/week-2026-11-23/1");
    char *text = job_text(&j.v[0], NULL);
    ASSERT_CONTAINS(text, "SIRT-1");
    free(text);
    outbox_jobs_free(j.v, j.n);
    ASSERT_EQ(store_timer_get(e.store, "weekly_review", &t), 0);
    ASSERT_EQ(t.due_ms, MON_0900 + 7 * DAY);
    sched_timer_finish(&t);
    env_finish(&e);

    /* No SIRT channel: nothing posted, the timer re-arms. */
    env_init(&e, "{\"sirt_team\":[\"U0SIRT001\"]}");
    clock_set_fixed_ms(MON_0900 + 5000);
    struct sched_timer ft = { .key = "weekly_review", .kind = "weekly_review", .due_ms = MON_0900 };
    ASSERT_EQ(store_begin(e.store), 0);
    review_fire(&e.ctx, &ft);
    ASSERT_EQ(store_commit(e.store), 0);
    j = jobs_now(&e);
    ASSERT_EQ(j.n, 0);
    outbox_jobs_free(j.v, j.n);
    ASSERT_EQ(store_timer_get(e.store, "weekly_review", &t), 0);
    ASSERT_EQ(t.due_ms, MON_0900 + 7 * DAY);
    sched_timer_finish(&t);
    env_finish(&e);
}

static char *timeline_reply(struct env *e, const char *user, const char *channel, const char *args)
{
    struct sirt_req r = req_of(REQ_SLASH, user, channel, args);
    r.verb = "timeline";
    r.trigger_id = "trig.timeline.1";
    struct sirt_reply out = { 0 };
    timeline_respond(&e->ctx, &r, &out);
    ASSERT_EQ(store_begin(e->store), 0);
    timeline_work(&e->ctx, &r);
    ASSERT_EQ(store_commit(e->store), 0);
    char *t = out.text;
    out.text = NULL;
    reply_finish(&out);
    return t;
}

TEST(timeline_markdown_for_allowed_only)
{
    struct env e;
    env_init(&e, team_json);
    int64_t id = add_incident(&e, "Token " SECRET " leaked", "open", clock_now_ms());
    add_decision(&e, id, "Rotate the ``` token", clock_now_ms(), 1);
    store_timeline_add(e.store, id, clock_now_ms() + 5000, "U0SIRT001", "note", "user said {{incident.id}} " SECRET);

    char *reply = timeline_reply(&e, "U0OUTSID1", "C0PUBLIC1", "SIRT-1");
    ASSERT_STR_EQ(reply, "Only people on the incident or in the SIRT team can get its timeline.");
    free(reply);
    struct jobs j = jobs_now(&e);
    ASSERT_EQ(j.n, 0);
    outbox_jobs_free(j.v, j.n);

    reply = timeline_reply(&e, "U0SIRT001", "C0PUBLIC1", "SIRT-1");
    ASSERT_CONTAINS(reply, "to <#C0INC0001>");
    free(reply);
    j = jobs_now(&e);
    ASSERT_EQ(j.n, 1);
    ASSERT_EQ(j.v[0].incident_id, id);
    ASSERT_STR_EQ(j.v[0].op, "slack.file_upload");
    ASSERT_STR_EQ(j.v[0].idem_key, "SIRT-1/timeline/trig.timeline.1");
    cJSON *p = cJSON_Parse(j.v[0].payload);
    ASSERT_STR_EQ(util_jstr(p, "channel"), "C0INC0001");
    ASSERT_STR_EQ(util_jstr(p, "filename"), "SIRT-1-timeline.md");
    ASSERT_STR_EQ(util_jstr(p, "title"), "SIRT-1 timeline");
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "names")));
    const char *t = util_jstr(p, "content");
    ASSERT_NOT_NULL(t);
    ASSERT(strncmp(t, "# SIRT-1: Token glpat-[MASKED] leaked\n", 37) == 0);
    ASSERT_CONTAINS(t, "- Severity: S1 · Priority: P2 · Component: gitaly");
    /* People as placeholders the effect turns into names. */
    ASSERT_CONTAINS(t, "{{user.U0REPORT1}} — reported: incident reported");
    ASSERT_CONTAINS(t, "sirtbot — slack.create_channel: private channel #sirt-1-token-leaked created");
    ASSERT_CONTAINS(t, "## Decisions");
    ASSERT_CONTAINS(t, "Rotate the ``` token");
    ASSERT_CONTAINS(t, "  - Validated: effective");
    ASSERT_CONTAINS(t, "  - Magnitude: hundreds");
    ASSERT_CONTAINS(t, "- GitLab issue: https://gl.example/sec/sirt-1/-/issues/1");
    ASSERT_CONTAINS(t, "- Slack channel: #sirt-1-token-leaked (C0INC0001) {{incident.channel_url}}");
    /* User text cannot smuggle placeholders in. */
    ASSERT_NOT_CONTAINS(t, "{{incident.id}}");
    ASSERT_NOT_CONTAINS(t, SECRET);
    cJSON_Delete(p);
    outbox_jobs_free(j.v, j.n);
    env_finish(&e);
}

TEST(timeline_long_is_one_whole_file)
{
    struct env e;
    env_init(&e, team_json);
    int64_t id = add_incident(&e, "Busy incident", "open", clock_now_ms());
    char text[400];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    for (int i = 0; i < 60; i++)
        store_timeline_add(e.store, id, clock_now_ms() + i, "U0SIRT001", "note", text);
    char *reply = timeline_reply(&e, "U0REPORT1", "C0PUBLIC1", "SIRT-1");
    free(reply);
    struct jobs j = jobs_now(&e);
    /* One file, whole: the split into messages is only the fallback's. */
    ASSERT_EQ(j.n, 1);
    cJSON *p = cJSON_Parse(j.v[0].payload);
    const char *t = util_jstr(p, "content");
    ASSERT_NOT_NULL(t);
    ASSERT_GE(strlen(t), 60 * 400);
    int n = 0;
    for (const char *q = strstr(t, "— note: xxx"); q; q = strstr(q + 1, "— note: xxx"))
        n++;
    ASSERT_EQ(n, 60);
    cJSON_Delete(p);
    outbox_jobs_free(j.v, j.n);
    env_finish(&e);
}
