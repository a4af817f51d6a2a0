/* End-to-end tests of severity and priority changes: `/sirt severity`,
 * `@sirt severity` inside the incident channel, and the summary's "Change
 * severity" button with its modal.  The real bot runs against the fake
 * Slack, PagerDuty and GitLab; each test reports SIRT-1 through the report
 * modal first.  The incident row and timeline are read from the bot's
 * SQLite file with a plain read-only connection. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_http.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define CAROL_GL_ID 204
#define PUT_ISSUE "PUT /projects/*/issues/*"

/* The default config plus a GitLab username for one S1 responder (the
 * other has none: channel only). */
static const char config[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\",\"U0SIRT002\"],"
    "\"severity1_responders\":[\"U0SIRT001\",\"U0SIRT002\"],\"directors\":[\"U0DIRSEC1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/Los_Angeles\",\"hours\":\"09:00-17:00\","
    "\"gitlab\":\"alice\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\",\"channel\":\"C0GITALY1\","
    "\"gitlab_em\":\"em-gitaly\",\"gitlab_pm\":\"pm-gitaly\"}],"
    "\"gitlab\":{\"namespace_id\":42},\"gitlab_users\":{\"U0SIRT001\":\"sirt-carol\"}}";

static void start(struct fx *fx)
{
    fx_init_opts(fx, FX_PAGERDUTY | FX_GITLAB);
    fx_write_config(fx, config);
    fake_gitlab_add_user(fx->gitlab, CAROL_GL_ID, "sirt-carol");
    fx_start(fx, NULL);
}

/* Reports SIRT-1 (S<sev>/P<pri>) and waits for its pinned summary and
 * GitLab issue.  Returns the channel id. */
static const char *report(struct fx *fx, const char *sev, const char *pri)
{
    struct report_fields f = {
        .title = "Stored XSS in the merge request widget",
        .what = "A crafted branch name runs script in reviewers' browsers.",
        .severity = sev,
        .priority = pri,
        .component = "gitaly",
        .repro = "POST /api/v4/projects/1/repository/branches",
        .link = "",
    };
    fx_submit_report(fx, "V0REPORT01", "U0REPORT1", &f);
    ASSERT(fx_wait(fx, fx_pred_pinned, NULL, 20000));
    ASSERT(fx_wait_n(fx, fx_gitlab_issues, 1, 20000));
    return fake_slack_channel(fx->slack, 0)->id;
}

static size_t issue_puts(struct fx *fx)
{
    return fake_http_count(fake_gitlab_http(fx->gitlab), PUT_ISSUE);
}

/* Ok posts to channel whose body holds needle; waited for 10 s. */
static size_t posts_with(struct fx *fx, const char *channel, const char *needle)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel, .body = needle, .ok = FX_HTTP_OK });
}

static bool wait_post(struct fx *fx, const char *channel, const char *needle)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .body = needle, .ok = FX_HTTP_OK }, 1, 10000);
}

/* The Change severity button of the summary, pressed. */
static const char *press(struct fx *fx, const char *user, const char *channel, const char *value,
                         const char *action_ts, const char *trigger_id)
{
    return fx_press(fx, &(struct fx_button){ .user = user, .channel = channel, .action_id = "sirt_severity",
                                             .block_id = "sirt_next_steps", .value = value, .action_ts = action_ts,
                                             .trigger_id = trigger_id, .message_ts = "1700000000.000100",
                                             .response_path = action_ts, .app = true });
}

static bool has_label(const cJSON *issue, const char *label)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(issue, "labels"))
        if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0)
            return true;
    return false;
}

/* The labels of the incident's issue as "a,b,c" (sorted as stored). */
static void labels_of(struct fx *fx, char *out, size_t n)
{
    const cJSON *issue = fake_gitlab_issue(fx->gitlab, 0);
    out[0] = '\0';
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(issue, "labels")) {
        size_t k = strlen(out);
        snprintf(out + k, n - k, "%s%s", k ? "," : "", l->valuestring);
    }
}

/* ---- an S3 raised to S1 ---- */

TEST_T(e2e_severity_raise_s3_to_s1, 90)
{
    struct fx fx;
    start(&fx);
    const char *ch = report(&fx, "3", "3");
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);   /* an S3/P3 pages nobody */
    ASSERT(!fx_is_member(&fx, ch, "U0SIRT002"));
    ASSERT(has_label(fake_gitlab_issue(fx.gitlab, 0), "severity::3"));

    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "severity SIRT-1 S1 P2");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Changing SIRT-1 to S1/P2");

    /* The page, the responders in the channel and the project, the labels. */
    ASSERT(fx_wait_n(&fx, fx_pd_events, 1, 10000));
    const cJSON *ev = fake_pagerduty_event_json(fx.pd, 0);
    ASSERT_STR_EQ(util_jstr(ev, "dedup_key"), "SIRT-1");
    ASSERT_STR_EQ(util_jstr(ev, "event_action"), "trigger");
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(ev, "payload"), "summary"), "[S1/P2]");
    ASSERT(fx_wait_member(&fx, ch, "U0SIRT001", 10000));
    ASSERT(fx_wait_member(&fx, ch, "U0SIRT002", 10000));
    ASSERT(fx_wait_n(&fx, issue_puts, 1, 10000));
    const cJSON *proj = fake_gitlab_project(fx.gitlab, 0);
    int pid = (int)cJSON_GetObjectItemCaseSensitive(proj, "id")->valuedouble;
    for (int i = 0; i < 100 && fake_gitlab_member_access(fx.gitlab, pid, CAROL_GL_ID) == 0; i++)
        fx_run_for(&fx, 100);
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, CAROL_GL_ID), 30);
    const struct fake_http_request *put = fake_http_last(fake_gitlab_http(fx.gitlab), PUT_ISSUE);
    ASSERT_EQ(put->status, 200);
    ASSERT_CONTAINS(put->body, "\"add_labels\":\"severity::1,priority::2\"");
    ASSERT_CONTAINS(put->body, "\"remove_labels\"");
    char labels[256];
    labels_of(&fx, labels, sizeof(labels));
    ASSERT_CONTAINS(labels, "severity::1");
    ASSERT_CONTAINS(labels, "priority::2");
    ASSERT_CONTAINS(labels, "security");
    ASSERT_NOT_CONTAINS(labels, "severity::3");
    ASSERT_NOT_CONTAINS(labels, "priority::3");

    /* Said in the channel; stored with who and when. */
    ASSERT(wait_post(&fx, ch, "raised SIRT-1 from S3/P3 to S1/P2"));
    ASSERT(wait_post(&fx, ch, "is now S1/P2: the security on-call is being paged"));
    char v[256];
    fx_db_text(&fx, "SELECT severity || '/' || priority FROM incidents WHERE id = 1", v, sizeof(v));
    ASSERT_STR_EQ(v, "1/2");
    fx_db_text(&fx, "SELECT actor || ' ' || text FROM timeline WHERE incident_id = 1 AND kind = 'severity_changed'",
            v, sizeof(v));
    ASSERT_STR_EQ(v, "U0REPORT1 S3/P3 -> S1/P2");

    /* The same again: nothing changed, nothing sent. */
    ASSERT(fx_wait_member(&fx, ch, "U0SECOPS1", 10000));
    fx_run_for(&fx, 500);
    size_t invites = fake_slack_call_count(fx.slack, "conversations.invite");
    eid = fake_slack_send_slash(fx.slack, "U0SIRT001", "C0PUBLIC1", "severity SIRT-1 s1/p2");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "already S1/P2: nothing changed");
    /* Now P1 as well: already paged and already S1, so no second page. */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT001", "C0PUBLIC1", "severity SIRT-1 P1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(fx_wait_n(&fx, issue_puts, 2, 10000));
    ASSERT(wait_post(&fx, ch, "from S1/P2 to S1/P1"));
    fx_run_for(&fx, 1500);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);
    ASSERT_EQ(fake_pagerduty_trigger_count(fx.pd, "SIRT-1"), 1);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.invite"), invites);
    ASSERT_EQ(posts_with(&fx, ch, "raised SIRT-1 from S3/P3 to S1/P2"), 1);
    fx_db_text(&fx, "SELECT count(*) FROM timeline WHERE incident_id = 1 AND kind = 'severity_changed'", v, sizeof(v));
    ASSERT_STR_EQ(v, "2");
    labels_of(&fx, labels, sizeof(labels));
    ASSERT_CONTAINS(labels, "priority::1");
    ASSERT_NOT_CONTAINS(labels, "priority::2");
    ASSERT_EQ(fx_stop(&fx, 10000), 0);
    fx_finish(&fx);
}

/* ---- a priority-only raise to P1 pages ---- */

TEST_T(e2e_severity_priority_only_pages, 90)
{
    struct fx fx;
    start(&fx);
    const char *ch = report(&fx, "3", "3");
    /* Inside the incident channel the incident is implied. */
    const char *eid = fx_mention_text(&fx, "U0REPORT1", ch, "severity P1", "Ev0SEVP1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(fx_wait_n(&fx, fx_pd_events, 1, 10000));
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_event_json(fx.pd, 0), "dedup_key"), "SIRT-1");
    ASSERT(wait_post(&fx, ch, "raised SIRT-1 from S3/P3 to S3/P1"));
    ASSERT(fx_wait_n(&fx, issue_puts, 1, 10000));
    char labels[256];
    labels_of(&fx, labels, sizeof(labels));
    ASSERT_CONTAINS(labels, "severity::3");
    ASSERT_CONTAINS(labels, "priority::1");
    ASSERT_NOT_CONTAINS(labels, "priority::3");
    /* Not S1: the severity-1 responders are not brought in. */
    fx_run_for(&fx, 1000);
    ASSERT(!fx_is_member(&fx, ch, "U0SIRT002"));
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);
    /* The same envelope delivered again (Slack's retry) changes nothing more. */
    eid = fx_mention_text(&fx, "U0REPORT1", ch, "severity P1", "Ev0SEVP1");
    fx_run_for(&fx, 1500);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);
    ASSERT_EQ(fake_http_count(fake_gitlab_http(fx.gitlab), PUT_ISSUE), 1);
    ASSERT_EQ(posts_with(&fx, ch, "raised SIRT-1"), 1);
    ASSERT_EQ(fx_stop(&fx, 10000), 0);
    fx_finish(&fx);
}

/* ---- lowering changes the labels only ---- */

TEST_T(e2e_severity_lower_labels_only, 90)
{
    struct fx fx;
    start(&fx);
    const char *ch = report(&fx, "1", "1");
    ASSERT(fx_wait_n(&fx, fx_pd_events, 1, 10000));   /* the report's page */
    ASSERT(fx_wait_member(&fx, ch, "U0SIRT002", 10000));
    ASSERT(fx_wait_member(&fx, ch, "U0SECOPS1", 10000));
    fx_run_for(&fx, 1000);
    size_t invites = fake_slack_call_count(fx.slack, "conversations.invite");
    size_t members = fake_gitlab_member_count(fx.gitlab);
    size_t pd_calls = fake_http_count(fake_pagerduty_http(fx.pd), "*");

    const char *eid = fake_slack_send_slash(fx.slack, "U0SIRT002", "C0PUBLIC1", "severity SIRT-1 S3 P3");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Changing SIRT-1 to S3/P3");
    ASSERT(fx_wait_n(&fx, issue_puts, 1, 10000));
    ASSERT(wait_post(&fx, ch, "lowered SIRT-1 from S1/P1 to S3/P3"));
    ASSERT_EQ(posts_with(&fx, ch, "Nobody is removed from the incident"), 1);
    fx_run_for(&fx, 1500);
    char labels[256];
    labels_of(&fx, labels, sizeof(labels));
    ASSERT_CONTAINS(labels, "severity::3");
    ASSERT_CONTAINS(labels, "priority::3");
    ASSERT_NOT_CONTAINS(labels, "severity::1");
    ASSERT_NOT_CONTAINS(labels, "priority::1");
    /* Nobody removed, invited, added or paged. */
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.kick"), 0);
    ASSERT(fx_is_member(&fx, ch, "U0SIRT002"));
    ASSERT(fx_is_member(&fx, ch, "U0SIRT001"));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.invite"), invites);
    ASSERT_EQ(fake_gitlab_member_count(fx.gitlab), members);
    ASSERT_EQ(fake_http_count(fake_pagerduty_http(fx.pd), "*"), pd_calls);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);
    ASSERT_EQ(fx_stop(&fx, 10000), 0);
    fx_finish(&fx);
}

/* ---- outsiders and bad input ---- */

TEST_T(e2e_severity_refused_and_usage, 90)
{
    struct fx fx;
    start(&fx);
    const char *ch = report(&fx, "3", "3");

    const char *eid = fake_slack_send_slash(fx.slack, "U0OUTSID1", "C0PUBLIC1", "severity SIRT-1 S1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "only the SIRT team and the people on SIRT-1 can change its severity");
    ASSERT_NOT_CONTAINS(fx_ack_text(&fx, eid), "XSS");
    eid = press(&fx, "U0OUTSID1", ch, "SIRT-1", "1700000400.000001", "1337.77.out");
    ASSERT(fx_wait_ack(&fx, eid, 5000));

    static const char *const bad[] = { "severity", "severity SIRT-1", "severity SIRT-1 S5", "severity SIRT-1 P0",
                                       "severity SIRT-1 S1 S2", "severity SIRT-1 high" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eid = fake_slack_send_slash(fx.slack, "U0SIRT001", "C0PUBLIC1", bad[i]);
        ASSERT(fx_wait_ack(&fx, eid, 5000));
        ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Usage: `/sirt severity [SIRT-n] S<1-4> [P<1-4>]`");
    }
    /* Outside any incident channel, without an id: which incident? */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT001", "C0PUBLIC1", "severity S2");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Which incident?");

    /* The button's refusal reached the outsider, and nothing changed. */
    bool refused = false;
    for (int i = 0; i < 50 && !refused; i++) {
        for (size_t k = 0; k < fake_slack_call_count(fx.slack, "response_url"); k++) {
            const struct fake_call *c = fake_slack_call(fx.slack, "response_url", k);
            refused = refused || (c->body && strstr(c->body, "can change its severity"));
        }
        if (!refused)
            fx_run_for(&fx, 100);
    }
    ASSERT(refused);
    fx_run_for(&fx, 1000);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "views.open"), 0);
    ASSERT_EQ(fake_http_count(fake_gitlab_http(fx.gitlab), PUT_ISSUE), 0);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    char v[64];
    fx_db_text(&fx, "SELECT severity || '/' || priority FROM incidents WHERE id = 1", v, sizeof(v));
    ASSERT_STR_EQ(v, "3/3");
    fx_db_text(&fx, "SELECT count(*) FROM timeline WHERE kind = 'severity_changed'", v, sizeof(v));
    ASSERT_STR_EQ(v, "0");
    ASSERT_EQ(fx_stop(&fx, 10000), 0);
    fx_finish(&fx);
}

/* ---- the button and the modal ---- */

static const cJSON *block_named(const cJSON *view, const char *id)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(view, "blocks"))
        if (util_jstr(b, "block_id") && strcmp(util_jstr(b, "block_id"), id) == 0)
            return b;
    return NULL;
}

static const char *initial_of(const cJSON *view, const char *id)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(block_named(view, id), "element");
    return util_jstr(cJSON_GetObjectItemCaseSensitive(e, "initial_option"), "value");
}

/* The view_submission Slack sends for the opened view (its callback_id and
 * private_metadata) with the levels chosen. */
static const char *submit(struct fx *fx, const cJSON *opened, const char *user, const char *view_id,
                          const char *sev, const char *pri)
{
    struct view_submission vs = { .user = user, .view_id = view_id, .callback_id = util_jstr(opened, "callback_id"),
                                  .metadata = util_jstr(opened, "private_metadata"), .trigger_id = "1337.99.sev",
                                  .app = true, .team = true };
    cJSON *values;
    cJSON *p = view_submission_payload(&vs, &values);
    view_select_value(values, "severity", sev);
    view_select_value(values, "priority", pri);
    const char *eid = fake_slack_send_interactive(fx->slack, p);
    cJSON_Delete(p);
    return eid;
}

TEST_T(e2e_severity_button_modal, 90)
{
    struct fx fx;
    start(&fx);
    const char *ch = report(&fx, "3", "3");
    /* The pinned summary carries the button. */
    bool button = false;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx.slack, "chat.postMessage", i);
        button = button || (c->body && strstr(c->body, "\"action_id\":\"sirt_severity\"") &&
                            strstr(c->body, "Change severity"));
    }
    ASSERT(button);

    const char *eid = press(&fx, "U0SIRT001", ch, "SIRT-1", "1700000500.000001", "1337.55.sev");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(fx_wait_calls(&fx, "views.open", 1, 10000));
    const struct fake_call *open = fake_slack_call(fx.slack, "views.open", 0);
    ASSERT_EQ(open->status, 200);
    ASSERT_STR_EQ(util_jstr(open->json, "trigger_id"), "1337.55.sev");
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(open->json, "view");
    cJSON *vparsed = NULL;
    if (cJSON_IsString(view))   /* form-encoded: the view is JSON text */
        view = vparsed = cJSON_Parse(cJSON_GetStringValue(view));
    ASSERT_STR_EQ(util_jstr(view, "callback_id"), "sirt_severity");
    ASSERT_STR_EQ(initial_of(view, "severity"), "3");
    ASSERT_STR_EQ(initial_of(view, "priority"), "3");

    /* An outsider's submission of that form is refused in the form. */
    eid = submit(&fx, view, "U0OUTSID1", "V0SEV0002", "1", "1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    const cJSON *ack = fx_ack_payload(&fx, eid);
    ASSERT_STR_EQ(util_jstr(ack, "response_action"), "errors");
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(ack, "errors"), "severity"),
                    "can change its severity");
    /* The same levels again: nothing to change, the form says so. */
    eid = submit(&fx, view, "U0SIRT001", "V0SEV0001", "3", "3");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(fx_ack_payload(&fx, eid), "errors"), "severity"),
                    "nothing changed");

    eid = submit(&fx, view, "U0SIRT001", "V0SEV0001", "1", "3");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_NULL(util_jstr(fx_ack_payload(&fx, eid), "response_action"));
    ASSERT(fx_wait_n(&fx, fx_pd_events, 1, 10000));
    ASSERT(fx_wait_member(&fx, ch, "U0SIRT002", 10000));
    ASSERT(fx_wait_n(&fx, issue_puts, 1, 10000));
    ASSERT(wait_post(&fx, ch, "<@U0SIRT001> raised SIRT-1 from S3/P3 to S1/P3"));
    char labels[256];
    labels_of(&fx, labels, sizeof(labels));
    ASSERT_CONTAINS(labels, "severity::1");
    ASSERT_CONTAINS(labels, "priority::3");
    ASSERT_NOT_CONTAINS(labels, "severity::3");
    char v[128];
    fx_db_text(&fx, "SELECT actor || ' ' || text FROM timeline WHERE incident_id = 1 AND kind = 'severity_changed'",
            v, sizeof(v));
    ASSERT_STR_EQ(v, "U0SIRT001 S3/P3 -> S1/P3");
    cJSON_Delete(vparsed);
    ASSERT_EQ(fx_stop(&fx, 10000), 0);
    fx_finish(&fx);
}
