/* End-to-end tests of page rounds: each PagerDuty alert the bot opens has
 * its own dedup_key ("SIRT-n", then "SIRT-n/page-2", ...), so a handoff to
 * the secops on-call while the report's page is still open reaches the new
 * on-call; whoever a page reaches is invited to the channel and the GitLab
 * project; retries keep their round's key; resolving resolves every round;
 * and an S1 page that could not wait for a slow GitLab issue is followed by
 * the link.  The real bot against the fakes; the bot's clock is set by the
 * test (SIRT_CLOCK_FILE) where the 15 s wait for the issue matters. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/store.h"
#include "fakes/fake_gitlab.h"
#include "fakes/fake_http.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

/* Wednesday 2026-11-25 10:00 UTC: Amsterdam (11:00) in hours, LA (02:00) not. */
#define WED_10_UTC 1795600800000LL

/* The harness's default config, plus GitLab usernames for the on-calls. */
static const char cfg_paging[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\",\"U0SIRT002\"],"
    "\"severity1_responders\":[\"U0SIRT001\"],\"directors\":[\"U0DIRSEC1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/Los_Angeles\",\"hours\":\"09:00-17:00\",\"gitlab\":\"alice\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\",\"channel\":\"C0GITALY1\"}],"
    "\"handoff\":{\"lead_minutes\":30},\"gitlab\":{\"namespace_id\":42},"
    "\"gitlab_users\":{\"U0SECOPS1\":\"sid\",\"U0SECOPS2\":\"sam\"}}";

#define SID_GL_ID 301
#define SAM_GL_ID 302

static const struct report_fields s1 = {
    .title = "Deploy token leaked in CI logs",
    .what = "A CI job printed the deploy token.",
    .severity = "1",
    .priority = "2",
    .component = "gitaly",
    .repro = "GET /api/v4/projects",
    .link = "",
};

static void start(struct fx *fx, int64_t clock_ms)
{
    fx_init_opts(fx, FX_PAGERDUTY | FX_GITLAB);
    fx_write_config(fx, cfg_paging);
    fake_gitlab_add_user(fx->gitlab, SID_GL_ID, "sid");
    fake_gitlab_add_user(fx->gitlab, SAM_GL_ID, "sam");
    fake_slack_add_user(fx->slack, "U0SECOPS2", "sam", "sam@example.com", "UTC");
    if (clock_ms)
        fx_set_clock(fx, clock_ms);
    fx_start(fx, NULL);
}

static const char *submit(struct fx *fx, const char *reporter)
{
    const char *eid = fx_submit_report(fx, "V0PAGING01", reporter, &s1);
    return eid;
}

static void slash(struct fx *fx, const char *user, const char *channel, const char *text)
{
    fx_slash(fx, user, channel, text, 5000);
}

struct key_n {
    const char *key;
    size_t n;
};

static bool pred_triggers(struct fx *fx, void *ud)
{
    struct key_n *k = ud;
    return fake_pagerduty_trigger_count(fx->pd, k->key) >= k->n;
}

/* Waits until n triggers under key were accepted. */
static bool wait_triggers(struct fx *fx, const char *key, size_t n, int ms)
{
    struct key_n k = { key, n };
    return fx_wait(fx, pred_triggers, &k, ms);
}

static bool pred_resolved(struct fx *fx, void *ud)
{
    const char *st = fake_pagerduty_incident_state(fx->pd, ud);
    return st && strcmp(st, "resolved") == 0;
}

static bool pred_in_channel(struct fx *fx, void *ud)
{
    return fake_slack_channel_count(fx->slack) >= 1
           && fake_slack_channel_has_member(fake_slack_channel(fx->slack, 0), ud);
}

/* The first ok post to channel whose body holds text, NULL if none. */
static const struct fake_call *post_with(struct fx *fx, const char *channel, const char *text)
{
    return fx_nth(fx, &(struct fx_q){ .channel = channel, .body = text, .ok = FX_HTTP_OK }, 0);
}

static bool wait_post(struct fx *fx, const char *channel, const char *text, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .body = text, .ok = FX_HTTP_OK }, 1, ms);
}

/* The "links" of the idx-th accepted event, as one string "text=href|...". */
static void event_links(struct fx *fx, size_t idx, char *out, size_t len)
{
    out[0] = '\0';
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(fake_pagerduty_event_json(fx->pd, idx), "links")) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s=%s|", util_jstr(l, "text") ? util_jstr(l, "text") : "?",
                 util_jstr(l, "href") ? util_jstr(l, "href") : "?");
    }
}

static struct store *open_store(struct fx *fx)
{
    char path[400], err[256];
    snprintf(path, sizeof(path), "%s/sirt.db", fx->dir);
    struct store *s = NULL;
    if (store_open(&s, path, err, sizeof(err)) != 0)
        TEST_FAIL("store_open: %s", err);
    return s;
}

/* "round:key:reason:user:state|..." for incident 1, read with a plain
 * SQLite connection: the bot may be running, and a second store on its file
 * would be refused (one process per SQLite database). */
static char *rounds_of_sirt1(struct fx *fx)
{
    return fx_db_rows(fx, "SELECT round, dedup_key, COALESCE(reason, '-'), COALESCE(paged_user, '-'),"
                          " CASE WHEN resolved_ms THEN 'resolved' ELSE 'open' END FROM pages"
                          " WHERE incident_id = 1 ORDER BY round", "-");
}

TEST_T(e2e_paging_handoff_pages_a_new_round_and_invites_the_oncall, 120)
{
    struct fx fx;
    start(&fx, WED_10_UTC);
    /* The Amsterdam engineer reports an S1: they own it; round 1 pages. */
    submit(&fx, "U0APPSEC2");
    ASSERT(wait_triggers(&fx, "SIRT-1", 1, 20000));
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "SIRT-1"), "triggered");
    /* Whoever round 1 reached (PSCHED1 -> secops@example.com -> U0SECOPS1)
     * is invited to the channel and, known as "sid", to the project. */
    ASSERT(fx_wait(&fx, pred_in_channel, (void *)"U0SECOPS1", 15000));
    ASSERT(fx_wait_gitlab_member(&fx, SID_GL_ID, 15000));
    ASSERT_EQ(fx_gitlab_access(&fx, SID_GL_ID), 30);
    const char *ch = fake_slack_channel(fx.slack, 0)->id;

    /* The rotation moves on; PagerDuty refuses the next trigger once. */
    fake_pagerduty_set_oncall(fx.pd, "PSCHED1", "PSECOPS02", "sam", "sam@example.com");
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 503, 0);
    /* Nobody else in working hours: /sirt handoff gives it to the secops
     * on-call, paged in round 2 while round 1 is still open. */
    slash(&fx, "U0APPSEC2", ch, "handoff");
    ASSERT(wait_triggers(&fx, "SIRT-1/page-2", 1, 20000));
    ASSERT_EQ(fake_pagerduty_trigger_attempts(fx.pd, "SIRT-1/page-2"), 2);   /* the retry kept its key */
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 2);                      /* a new alert: notified */
    ASSERT(fake_pagerduty_incident_by_key(fx.pd, "SIRT-1/page-2") != NULL);
    ASSERT_EQ(fake_pagerduty_incident_by_key(fx.pd, "SIRT-1/page-2")->alerts, 1);
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "SIRT-1"), "triggered");
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1"), 1);
    /* The new on-call owns it, is invited, and is added to the project. */
    ASSERT(wait_post(&fx, "D0SECOPS2", "You now own SIRT-1", 15000));
    ASSERT(fx_wait(&fx, pred_in_channel, (void *)"U0SECOPS2", 15000));
    ASSERT(fx_wait_gitlab_member(&fx, SAM_GL_ID, 15000));
    ASSERT(wait_post(&fx, ch, "page `SIRT-1/page-2`", 10000));

    /* /sirt page now: the open round (the newest, round 2) again. */
    slash(&fx, "U0SIRT001", "C0PUBLIC1", "page SIRT-1");
    ASSERT(wait_triggers(&fx, "SIRT-1/page-2", 2, 10000));
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 2);
    ASSERT(wait_post(&fx, ch, "paged the security on-call again (PagerDuty page `SIRT-1/page-2`", 10000));

    /* Resolving the incident resolves every round, each under its key (its
     * long-term fix recorded first: no confirmation asked). */
    slash(&fx, "U0SIRT002", "C0PUBLIC1", "release SIRT-1 https://gitlab.example/security/release/-/issues/7");
    ASSERT(fx_wait_post_text(&fx, "the long-term fix of SIRT-1", 10000));   /* recorded before the resolve asks */
    slash(&fx, "U0SIRT002", "C0PUBLIC1", "resolve SIRT-1");
    ASSERT(fx_wait(&fx, pred_resolved, (void *)"SIRT-1", 10000));
    ASSERT(fx_wait(&fx, pred_resolved, (void *)"SIRT-1/page-2", 10000));
    ASSERT(wait_post(&fx, ch, "Its PagerDuty pages are being resolved too.", 10000));

    char *rounds = rounds_of_sirt1(&fx);
    ASSERT_STR_EQ(rounds, "1:SIRT-1:report:U0SECOPS1:resolved|2:SIRT-1/page-2:handoff:U0SECOPS2:resolved|");
    free(rounds);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_paging_page_after_a_resolved_round_opens_a_new_one, 120)
{
    struct fx fx;
    start(&fx, 0);
    submit(&fx, "U0REPORT1");
    ASSERT(wait_triggers(&fx, "SIRT-1", 1, 20000));
    ASSERT(fx_wait(&fx, pred_in_channel, (void *)"U0SECOPS1", 15000));
    const char *ch = fake_slack_channel(fx.slack, 0)->id;

    /* /sirt page while round 1 is open: the same key, folded by PagerDuty;
     * its retries keep the key too. */
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 2, 500, 0);
    slash(&fx, "U0REPORT1", ch, "page");
    ASSERT(wait_triggers(&fx, "SIRT-1", 2, 20000));
    ASSERT_EQ(fake_pagerduty_trigger_attempts(fx.pd, "SIRT-1"), 4);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_EQ(fake_pagerduty_incident_by_key(fx.pd, "SIRT-1")->alerts, 2);

    /* Round 1 is resolved (in PagerDuty, and so recorded on the round, as the
     * bot records it when it resolves a page) while the incident stays open.
     * The bot is stopped to write the store. */
    ASSERT(fake_pagerduty_set_incident_state(fx.pd, "SIRT-1", "resolved"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    struct store *s = open_store(&fx);
    ASSERT_EQ(store_page_resolve(s, 1, "SIRT-1", 1), 1);
    store_close(s);
    fx_start(&fx, NULL);

    /* /sirt page now opens round 2 under its own key: a new PagerDuty
     * incident, and the on-call it reaches is invited again. */
    slash(&fx, "U0REPORT1", ch, "page");
    ASSERT(wait_triggers(&fx, "SIRT-1/page-2", 1, 20000));
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 2);
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "SIRT-1/page-2"), "triggered");
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "SIRT-1"), "resolved");
    ASSERT(wait_post(&fx, ch, "paged the security on-call (PagerDuty page `SIRT-1/page-2`)", 10000));
    /* And again: that round is open now. */
    slash(&fx, "U0SIRT001", ch, "page");
    ASSERT(wait_triggers(&fx, "SIRT-1/page-2", 2, 10000));
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 2);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1"), 2);

    /* Resolve: only the open round is resolved in PagerDuty. */
    size_t before = fake_pagerduty_event_count(fx.pd);
    slash(&fx, "U0SIRT002", ch, "release https://gitlab.example/security/release/-/issues/7");
    slash(&fx, "U0SIRT002", ch, "resolve");
    ASSERT(fx_wait(&fx, pred_resolved, (void *)"SIRT-1/page-2", 10000));
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), before + 1);
    ASSERT(wait_post(&fx, ch, "Its PagerDuty page is being resolved too.", 10000));
    char *rounds = rounds_of_sirt1(&fx);
    ASSERT_STR_EQ(rounds, "1:SIRT-1:report:U0SECOPS1:resolved|2:SIRT-1/page-2:page:U0SECOPS1:resolved|");
    free(rounds);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

static bool pred_issue_requested(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_gitlab_call_count(fx->gitlab, "POST /projects/*/issues") >= 1;
}

TEST_T(e2e_paging_s1_page_does_not_wait_for_a_slow_issue_and_the_link_follows, 120)
{
    struct fx fx;
    start(&fx, WED_10_UTC);
    /* GitLab takes 5 s to answer the issue creation: the page's 15 s wait
     * (on the bot's clock, moved below) ends first.  Under a wrapper
     * (valgrind) 25 s, past the bot's 15 s HTTP timeout: the retry finds
     * the issue by its marker and the link follows all the same. */
    fake_gitlab_delay(fx.gitlab, "POST /projects/*/issues", 1, getenv("SIRTBOT_WRAPPER") ? 25000 : 5000);
    submit(&fx, "U0REPORT1");
    ASSERT(fx_wait(&fx, pred_issue_requested, NULL, 15000));
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);   /* created, the answer still on its way */
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);    /* the page waits for the issue... */
    /* ...at most 15 s: 20 s later on the bot's clock it goes without it. */
    fx_set_clock(&fx, WED_10_UTC + 20000);
    ASSERT(wait_triggers(&fx, "SIRT-1", 1, 20000));
    char links[1024];
    event_links(&fx, 0, links, sizeof(links));
    ASSERT_NOT_CONTAINS(links, "GitLab issue");
    ASSERT_EQ(fake_gitlab_call_count(fx.gitlab, "POST /projects/*/issues"), 1);   /* no second try */

    /* The issue arrives: a second trigger under the same key carries the
     * link, PagerDuty folds it into the same incident, the channel is told. */
    ASSERT(wait_triggers(&fx, "SIRT-1", 2, 45000));
    event_links(&fx, 1, links, sizeof(links));
    const char *issue_url = util_jstr(fake_gitlab_issue(fx.gitlab, 0), "web_url");
    ASSERT_NOT_NULL(issue_url);
    char want[600];
    snprintf(want, sizeof(want), "GitLab issue=%s|", issue_url);
    ASSERT_CONTAINS(links, want);
    ASSERT_CONTAINS(links, "Slack channel=");
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_EQ(fake_pagerduty_incident_by_key(fx.pd, "SIRT-1")->alerts, 2);
    const char *ch = fake_slack_channel(fx.slack, 0)->id;
    ASSERT(wait_post(&fx, ch, "went out before the GitLab issue was ready", 10000));
    ASSERT_CONTAINS(post_with(&fx, ch, "went out before the GitLab issue was ready")->body, issue_url);
    /* Exactly one follow-up. */
    fx_run_for(&fx, 1000);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1"), 2);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_paging_s1_page_with_a_fast_issue_has_no_follow_up, 60)
{
    struct fx fx;
    start(&fx, 0);
    submit(&fx, "U0REPORT1");
    ASSERT(wait_triggers(&fx, "SIRT-1", 1, 20000));
    char links[1024];
    event_links(&fx, 0, links, sizeof(links));
    ASSERT_CONTAINS(links, "GitLab issue=");
    ASSERT(fx_wait(&fx, pred_in_channel, (void *)"U0SECOPS1", 15000));
    fx_run_for(&fx, 1500);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1"), 1);
    ASSERT(post_with(&fx, fake_slack_channel(fx.slack, 0)->id, "went out before the GitLab issue") == NULL);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
