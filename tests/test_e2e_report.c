/* End-to-end tests of `/sirt report`: the real bot against fake Slack,
 * PagerDuty and GitLab.  They check what each fake received: the modal, the
 * private channel and its members, the pinned summary, the GitLab project,
 * confidential issue, members and note, the page, the EM/PM messages, and
 * that secrets never leave the bot unmasked (the S1 path also on
 * PostgreSQL: SIRT_DB=postgresql://...).  The crash test SIGKILLs the
 * real binary mid-flight and checks nothing is lost and nothing doubled. */
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "pg_test.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define SECRET_GL "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"
#define SECRET_SLACK "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
#define SECRET_AWS "AKIAIOSFODNN7EXAMPLE"

/* Most tests run on Wednesday 2026-11-25 10:00 UTC, when the Amsterdam
 * appsec engineer is in working hours and becomes the owner; the S3 test
 * runs on the real clock (the owner then depends on the time of day: an
 * engineer in hours, or the secops on-call). */
static void pin_clock(struct fx *fx)
{
    fx_set_clock(fx, 1795600800000LL);
}

static const char *submit(struct fx *fx, const char *view_id, const struct report_fields *f)
{
    cJSON *p = report_submission_payload(view_id, "U0REPORT1", f);
    const char *eid = fake_slack_send_interactive(fx->slack, p);
    cJSON_Delete(p);
    return eid;
}

static const struct report_fields s1_fields = {
    .title = "Token " SECRET_GL " leaked in CI logs",
    .what = "A CI job printed the deploy token " SECRET_GL " and the bot token " SECRET_SLACK ".",
    .severity = "1",
    .priority = "2",
    .component = "gitaly",
    .repro = "GET /api/v4/projects HTTP/1.1\nPRIVATE-TOKEN: " SECRET_GL "\nAuthorization: Bearer abcdefghijklmnop\n"
             "aws_key=" SECRET_AWS,
    .link = "https://gitlab.example.com/gitlab-org/gitaly/-/jobs/42",
};

/* Starts the bot at the pinned time and submits the S1 report (acked). */
static void start_and_submit_s1(struct fx *fx, const char *view_id)
{
    pin_clock(fx);
    fx_start(fx, NULL);
    ASSERT(fx_wait_ack(fx, submit(fx, view_id, &s1_fields), 5000));
}

struct pd_count {
    size_t n;
};

static bool pred_pd_events(struct fx *fx, void *ud)
{
    return fake_pagerduty_event_count(fx->pd) >= ((struct pd_count *)ud)->n;
}

/* Everything of the S1 plan has reached the fakes. */
static bool pred_s1_settled(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_channel_count(fx->slack) >= 1 && fake_gitlab_issue_count(fx->gitlab) >= 1
           && fake_pagerduty_incident_count(fx->pd) >= 1 && fake_gitlab_note_count(fx->gitlab) >= 1
           && fx_pred_pinned(fx, NULL) && fake_slack_call_count(fx->slack, "conversations.invite") >= 1
           && fake_slack_call_count(fx->slack, "conversations.open") >= 3   /* EM, PM, reporter */
           && fake_gitlab_member_count(fx->gitlab) >= 2;
}

static const struct fake_call *post_to(struct fx *fx, const char *channel)
{
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        if (util_jstr(c->json, "channel") && strcmp(util_jstr(c->json, "channel"), channel) == 0)
            return c;
    }
    return NULL;
}

/* Nothing any fake received may hold a secret in clear. */
static void assert_no_secret_left_the_bot(struct fx *fx)
{
    const char *secrets[] = { SECRET_GL, SECRET_SLACK, SECRET_AWS, "abcdefghijklmnop" };
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, NULL); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, NULL, i);
        for (size_t k = 0; k < ARRAY_LEN(secrets); k++)
            if (c->body && strstr(c->body, secrets[k]))
                TEST_FAIL("secret %s reached Slack in %s", secrets[k], c->method);
    }
    for (size_t i = 0; i < fake_gitlab_call_count(fx->gitlab, NULL); i++) {
        const struct fake_http_request *r = fake_gitlab_call(fx->gitlab, NULL, i);
        for (size_t k = 0; k < ARRAY_LEN(secrets); k++)
            if (r->body && strstr(r->body, secrets[k]))
                TEST_FAIL("secret %s reached GitLab in %s", secrets[k], r->path);
    }
    for (size_t i = 0; i < fake_pagerduty_event_count(fx->pd); i++) {
        char *s = cJSON_PrintUnformatted(fake_pagerduty_event_json(fx->pd, i));
        for (size_t k = 0; k < ARRAY_LEN(secrets); k++)
            if (strstr(s, secrets[k]))
                TEST_FAIL("secret %s reached PagerDuty", secrets[k]);
        cJSON_free(s);
    }
    for (size_t k = 0; k < ARRAY_LEN(secrets); k++)
        if (fx_stderr_has(fx, secrets[k]))
            TEST_FAIL("secret %s reached the log", secrets[k]);
}

TEST_T(e2e_report_slash_opens_modal, 30)
{
    struct fx fx;
    fx_init(&fx);
    pin_clock(&fx);
    fx_start(&fx, NULL);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "report SQL injection in search");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    /* The ack carries nothing to say: the modal opens. */
    ASSERT(fx_wait_calls(&fx, "views.open", 1, 3000));
    const struct fake_call *c = fake_slack_call(fx.slack, "views.open", 0);
    ASSERT_EQ(c->status, 200);
    ASSERT_STR_EQ(util_jstr(c->json, "trigger_id"), fake_slack_last_trigger_id(fx.slack));
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(c->json, "view");
    ASSERT_STR_EQ(util_jstr(view, "callback_id"), "sirt_report");
    char *v = cJSON_PrintUnformatted(view);
    ASSERT_CONTAINS(v, "\"initial_value\":\"SQL injection in search\"");
    ASSERT_CONTAINS(v, "\"value\":\"gitaly\"");
    cJSON_free(v);
    /* Within Slack's 3 s for a trigger_id (far within). */
    const struct fake_ack *a = fake_slack_ack(fx.slack, eid);
    ASSERT_LE(c->t_us - a->sent_us, 3000000);

    /* From a mention: a button, which opens the same form. */
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 3000));
    cJSON *ev = cJSON_Parse("{\"type\":\"app_mention\",\"user\":\"U0REPORT1\",\"text\":\"<@U0BOT0001> report XSS\","
                            "\"channel\":\"C0PUBLIC1\",\"ts\":\"1700000100.000200\"}");
    fake_slack_send_event(fx.slack, ev, "Ev0REPORT01", 0);
    cJSON_Delete(ev);
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 1, 3000));
    c = fake_slack_call(fx.slack, "chat.postMessage", 0);
    char *b = cJSON_PrintUnformatted(c->json);
    ASSERT_CONTAINS(b, "sirt_report_open");
    cJSON_free(b);
    cJSON *click = cJSON_Parse("{\"type\":\"block_actions\",\"user\":{\"id\":\"U0REPORT1\"},\"trigger_id\":\"555.666.click\","
                               "\"channel\":{\"id\":\"C0PUBLIC1\"},\"actions\":[{\"action_id\":\"sirt_report_open\","
                               "\"block_id\":\"b\",\"type\":\"button\",\"value\":\"XSS\",\"action_ts\":\"1.2\"}]}");
    fake_slack_send_interactive(fx.slack, click);
    cJSON_Delete(click);
    ASSERT(fx_wait_calls(&fx, "views.open", 2, 3000));
    ASSERT_STR_EQ(util_jstr(fake_slack_call(fx.slack, "views.open", 1)->json, "trigger_id"), "555.666.click");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_report_invalid_input_is_refused, 30)
{
    struct fx fx;
    fx_init(&fx);
    pin_clock(&fx);
    fx_start(&fx, NULL);
    struct report_fields f = s1_fields;
    f.title = "";
    f.component = "nginx";
    f.link = "http://insecure.example/x";
    const char *eid = submit(&fx, "V0BAD0001", &f);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    const struct fake_ack *a = fake_slack_ack(fx.slack, eid);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(a->json, "payload");
    ASSERT_STR_EQ(util_jstr(p, "response_action"), "errors");
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(p, "errors");
    ASSERT_NOT_NULL(util_jstr(errs, "title"));
    ASSERT_NOT_NULL(util_jstr(errs, "component"));
    ASSERT_CONTAINS(util_jstr(errs, "link"), "https://");
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* The S1 path on the store env picks (SIRT_DB): registered on SQLite and,
 * as e2e_report_s1_full_path_pg, on PostgreSQL. */
static void s1_full_path(const char *const *env, const char *driver)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    pin_clock(&fx);
    fx_start(&fx, env);
    const char *eid = submit(&fx, "V0S1000001", &s1_fields);
    uint64_t t0 = uv_hrtime();
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_NULL(cJSON_GetObjectItemCaseSensitive(fake_slack_ack(fx.slack, eid)->json, "payload"));
    ASSERT(fx_wait(&fx, pred_s1_settled, NULL, 20000));
    fprintf(stderr, "s1 report on %s: submitted -> every effect at the fakes in %.1f ms\n", driver,
            (double)(uv_hrtime() - t0) / 1e6);

    /* Private channel sirt-1-<slug>, reporter + S1 responders + EM + PM invited. */
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 1);
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    ASSERT(ch->is_private);
    ASSERT(strncmp(ch->name, "sirt-1-token-", 13) == 0);
    ASSERT_NOT_CONTAINS(ch->name, "zx9yw8");
    /* U0APPSEC2 (Amsterdam, in hours at 10:00 UTC on a Wednesday; LA is
     * not) owns it: the appsec engineer with the most of the day left. */
    const char *members[] = { "U0REPORT1", "U0SIRT001", "U0SIRT002", "U0EM00001", "U0PM00001", "U0APPSEC2" };
    for (size_t i = 0; i < ARRAY_LEN(members); i++)
        if (!fake_slack_channel_has_member(ch, members[i]))
            TEST_FAIL("%s not invited", members[i]);

    /* The pinned summary in the channel, with the buttons and the issue link. */
    const struct fake_call *sum = post_to(&fx, ch->id);
    ASSERT_NOT_NULL(sum);
    char *s = cJSON_PrintUnformatted(sum->json);
    ASSERT_CONTAINS(s, "SIRT-1");
    ASSERT_CONTAINS(s, "sirt_page");
    ASSERT_CONTAINS(s, "sirt_decision");
    ASSERT_CONTAINS(s, "sirt_handoff");
    ASSERT_CONTAINS(s, "sirt_resolve");
    ASSERT_CONTAINS(s, "/-/issues/1");
    ASSERT_CONTAINS(s, "glpat-[MASKED]");
    cJSON_free(s);

    /* GitLab: private project in namespace 42, confidential issue with labels. */
    ASSERT_EQ(fake_gitlab_project_count(fx.gitlab), 1);
    const cJSON *proj = fake_gitlab_project(fx.gitlab, 0);
    ASSERT_STR_EQ(util_jstr(proj, "visibility"), "private");
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(proj, "namespace"), "id")->valueint, 42);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);
    const cJSON *issue = fake_gitlab_issue(fx.gitlab, 0);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(issue, "confidential")));
    char *labels = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(issue, "labels"));
    ASSERT_CONTAINS(labels, "severity::1");
    ASSERT_CONTAINS(labels, "priority::2");
    cJSON_free(labels);
    ASSERT_CONTAINS(util_jstr(issue, "description"), "reproduction steps");
    ASSERT_CONTAINS(util_jstr(issue, "description"), "PRIVATE-TOKEN: glpat-[MASKED]");
    /* people by name, not by Slack id (users.info at send time) */
    ASSERT_CONTAINS(util_jstr(issue, "description"), "reported in Slack by reporter via sirtbot");
    ASSERT_NOT_CONTAINS(util_jstr(issue, "description"), "U0REPORT1");
    /* Members (the harness's GitLab users: alice 201, em-gitaly 202, pm-gitaly
     * 203): the reporter is no appsec engineer and the S1 responders have
     * no GitLab names, so the EM and PM are added as Developers, not alice. */
    int pid = cJSON_GetObjectItemCaseSensitive(proj, "id")->valueint;
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, 202), 30);
    ASSERT_EQ(fake_gitlab_member_access(fx.gitlab, pid, 203), 30);
    ASSERT(fake_gitlab_member_access(fx.gitlab, pid, 201) <= 0);
    /* The EM/PM note mentions both GitLab usernames. */
    const cJSON *note = fake_gitlab_note(fx.gitlab, 0);
    ASSERT_CONTAINS(util_jstr(note, "body"), "@em-gitaly");
    ASSERT_CONTAINS(util_jstr(note, "body"), "@pm-gitaly");

    /* PagerDuty: one trigger, dedup_key = incident id, critical, links. */
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    const cJSON *ev = fake_pagerduty_event_json(fx.pd, 0);
    ASSERT_STR_EQ(util_jstr(ev, "event_action"), "trigger");
    ASSERT_STR_EQ(util_jstr(ev, "dedup_key"), "SIRT-1");
    ASSERT_STR_EQ(util_jstr(ev, "routing_key"), FAKE_PD_ROUTING_KEY);
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(ev, "payload");
    ASSERT_STR_EQ(util_jstr(pl, "severity"), "critical");
    ASSERT_CONTAINS(util_jstr(pl, "summary"), "SIRT-1");
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(pl, "custom_details");
    ASSERT_STR_EQ(util_jstr(cd, "component"), "gitaly");
    ASSERT_STR_EQ(util_jstr(cd, "reporter"), "U0REPORT1");
    ASSERT_STR_EQ(util_jstr(cd, "priority"), "P2");
    char *links = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ev, "links"));
    ASSERT_CONTAINS(links, ch->id);
    ASSERT_CONTAINS(links, "/-/issues/1");
    cJSON_free(links);

    /* EM and PM: the component channel gets no details; each gets a DM. */
    const struct fake_call *comp = post_to(&fx, "C0GITALY1");
    ASSERT_NOT_NULL(comp);
    const char *ct = util_jstr(comp->json, "text");
    ASSERT_CONTAINS(ct, "<@U0EM00001>");
    ASSERT_CONTAINS(ct, "<@U0PM00001>");
    ASSERT_CONTAINS(ct, "SIRT-1");
    ASSERT_NOT_CONTAINS(ct, "Token");
    ASSERT_NOT_CONTAINS(ct, "CI logs");
    ASSERT_NOT_CONTAINS(ct, ch->name);

    for (int i = 0; i < 250 && fake_slack_call_count(fx.slack, "conversations.open") < 4; i++)
        fx_run_for(&fx, 20);
    /* the owner's DM waits for the issue (its link), as the summary does */
    ASSERT(fx_wait_post_text(&fx, "You own security incident SIRT-1 (", 20000));
    bool owner_told = false;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx.slack, "chat.postMessage", i);
        if (strcmp(util_jstr(c->json, "channel"), "D0APPSEC2") == 0 && strstr(util_jstr(c->json, "text"), "You own security incident SIRT-1")) {
            owner_told = true;
            ASSERT_NOT_CONTAINS(util_jstr(c->json, "text"), "no GitLab issue");
        }
    }
    ASSERT(owner_told);

    assert_no_secret_left_the_bot(&fx);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_report_s1_full_path, 60)
{
    s1_full_path(NULL, "sqlite");
}

TEST_PG_T(e2e_report_s1_full_path_pg, 90)
{
    char *uri = pg_test_fresh_db("e2e_report_s1");
    char *db = xasprintf("SIRT_DB=%s", uri);
    const char *env[] = { db, NULL };
    s1_full_path(env, "postgresql");
    /* The state is in PostgreSQL: one incident, SIRT-1, its jobs done (none
     * failed), the inbox empty, the page round recorded. */
    PGconn *c = PQconnectdb(uri);
    ASSERT_EQ(PQstatus(c), CONNECTION_OK);
    const char *checks[][2] = {
        { "SELECT count(*) FROM incidents", "1" },
        { "SELECT min(id) FROM incidents", "1" },
        { "SELECT count(*) FROM outbox WHERE state = 3", "0" },
        { "SELECT count(*) FROM outbox WHERE state = 2", NULL },
        { "SELECT count(*) FROM inbox", "0" },
        { "SELECT dedup_key FROM pages", "SIRT-1" },
    };
    for (size_t i = 0; i < ARRAY_LEN(checks); i++) {
        PGresult *r = PQexec(c, checks[i][0]);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            TEST_FAIL("%s: %s", checks[i][0], PQresultErrorMessage(r));
        if (checks[i][1])
            ASSERT_STR_EQ(PQgetvalue(r, 0, 0), checks[i][1]);
        else
            ASSERT(atoi(PQgetvalue(r, 0, 0)) >= 10);
        PQclear(r);
    }
    PQfinish(c);
    free(db);
    free(uri);
}

TEST_T(e2e_report_s3_no_page_no_responders, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fx_start(&fx, NULL);
    struct report_fields f = s1_fields;
    f.severity = "3";
    f.priority = "3";
    const char *eid = submit(&fx, "V0S3000001", &f);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(fx_wait(&fx, fx_pred_pinned, NULL, 15000));
    fx_run_for(&fx, 800);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    for (int i = 0; i < 200 && !fake_slack_channel_has_member(ch, "U0REPORT1"); i++)
        fx_run_for(&fx, 50);
    ASSERT(fake_slack_channel_has_member(ch, "U0REPORT1"));
    ASSERT(!fake_slack_channel_has_member(ch, "U0SIRT001"));
    ASSERT(!fake_slack_channel_has_member(ch, "U0SIRT002"));
    const cJSON *issue = fake_gitlab_issue(fx.gitlab, 0);
    char *labels = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(issue, "labels"));
    ASSERT_CONTAINS(labels, "severity::3");
    cJSON_free(labels);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_report_without_routing_key_warns_in_channel, 60)
{
    struct fx fx;
    fx_init(&fx);   /* no PagerDuty, no GitLab */
    start_and_submit_s1(&fx, "V0NOPD0001");
    ASSERT(fx_wait_calls(&fx, "chat.postMessage", 5, 15000));
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    /* The warning follows the summary: wait for it rather than a fixed time. */
    struct fx_q warning = { .method = "chat.postMessage", .channel = ch->id, .text = "nobody was paged" };
    ASSERT(fx_wait_q(&fx, &warning, 1, 15000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

static bool pred_suffixed_channel_ready(struct fx *fx, void *ud)
{
    (void)ud;
    return fx_pred_pinned(fx, NULL) && fake_slack_channel_count(fx->slack) >= 2
           && fake_slack_channel_has_member(fake_slack_channel(fx->slack, 1), "U0REPORT1");
}

TEST_T(e2e_report_name_taken_gets_a_suffix, 60)
{
    struct fx fx;
    fx_init(&fx);
    fake_slack_add_channel(fx.slack, "C0TAKEN001", "sirt-1-token-leaked-in-ci-logs", true);
    start_and_submit_s1(&fx, "V0TAKEN001");
    /* The pin and the reporter's invite are separate jobs: either may land
     * first, so wait for both. */
    ASSERT(fx_wait(&fx, pred_suffixed_channel_ready, NULL, 15000));
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 2);
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 1);
    ASSERT_STR_EQ(ch->name, "sirt-1-token-leaked-in-ci-logs-2");
    ASSERT(fake_slack_channel_has_member(ch, "U0REPORT1"));
    /* The taken channel got nobody. */
    ASSERT(!fake_slack_channel_has_member(fake_slack_channel(fx.slack, 0), "U0REPORT1"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_report_same_submission_twice_one_incident, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    pin_clock(&fx);
    fx_start(&fx, NULL);
    const char *e1 = submit(&fx, "V0TWICE001", &s1_fields);
    const char *e2 = submit(&fx, "V0TWICE001", &s1_fields);
    ASSERT(fx_wait_ack(&fx, e1, 5000));
    ASSERT(fx_wait_ack(&fx, e2, 5000));
    ASSERT(fx_wait(&fx, pred_s1_settled, NULL, 20000));
    fx_run_for(&fx, 1000);
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 1);
    ASSERT_EQ(fake_gitlab_project_count(fx.gitlab), 1);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 1);
    ASSERT(fx_stderr_has(&fx, "submitted again"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_report_retries_429_and_500_from_each_service, 90)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fake_slack_fail(fx.slack, "conversations.create", 1, 429, NULL, 1);
    fake_slack_fail(fx.slack, "conversations.invite", 1, 500, NULL, 0);
    fake_gitlab_fail(fx.gitlab, "POST /projects", 1, 429, NULL, 1);
    fake_gitlab_fail(fx.gitlab, "POST /projects/*/issues", 1, 500, NULL, 0);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 429, 1);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ENQUEUE, 1, 500, 0);
    start_and_submit_s1(&fx, "V0RETRY001");
    ASSERT(fx_wait(&fx, pred_s1_settled, NULL, 45000));
    ASSERT_EQ(fake_slack_channel_count(fx.slack), 1);
    ASSERT_EQ(fake_gitlab_project_count(fx.gitlab), 1);
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 1);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_last_event(fx.pd), "dedup_key"), "SIRT-1");
    ASSERT(fx_stderr_has(&fx, "outbox: will retry"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* The channel has been told that GitLab refused the project (403). */
static bool pred_told_gitlab_403(struct fx *fx, void *ud)
{
    (void)ud;
    if (fake_slack_channel_count(fx->slack) < 1)
        return false;
    const struct fake_channel *ch = fake_slack_channel(fx->slack, 0);
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        const char *t = util_jstr(c->json, "text");
        const char *to = util_jstr(c->json, "channel");
        if (to && strcmp(to, ch->id) == 0 && t && strstr(t, "GitLab project") && strstr(t, "403"))
            return true;
    }
    return false;
}

TEST_T(e2e_report_permanent_error_is_reported_in_channel, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fake_gitlab_fail(fx.gitlab, "POST /projects", 1, 403, "{\"message\":\"403 Forbidden\"}", 0);
    start_and_submit_s1(&fx, "V0FORBID01");
    struct pd_count want = { 1 };
    ASSERT(fx_wait(&fx, pred_pd_events, &want, 30000));   /* the page does not wait forever for GitLab */
    ASSERT(fx_wait(&fx, fx_pred_pinned, NULL, 30000));
    /* The failure notice is its own job, written when the refusal is
     * recorded: it may land after the pin. */
    ASSERT(fx_wait(&fx, pred_told_gitlab_403, NULL, 15000));
    ASSERT_EQ(fake_gitlab_issue_count(fx.gitlab), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* Kill the real binary after the fakes have seen `after` requests in all,
 * restart it on the same database, and check the plan completes with
 * exactly one channel, project, issue and PagerDuty incident. */
static void crash_and_recover(size_t after, int delay_ms)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    if (delay_ms) {
        /* Slow answers widen the window in which a request has been
         * applied by the service but its answer never reached the bot. */
        fake_slack_delay(fx.slack, "conversations.create", 1, delay_ms);
        fake_gitlab_delay(fx.gitlab, "POST /projects", 1, delay_ms);
        fake_gitlab_delay(fx.gitlab, "POST /projects/*/issues", 1, delay_ms);
        fake_pagerduty_delay(fx.pd, FAKE_PD_ENQUEUE, 1, delay_ms);
    }
    pin_clock(&fx);
    fx_start(&fx, NULL);
    size_t base = fake_slack_call_count(fx.slack, NULL) + fake_gitlab_call_count(fx.gitlab, NULL)
                  + fake_pagerduty_event_count(fx.pd);
    const char *eid = submit(&fx, "V0CRASH001", &s1_fields);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    for (int i = 0; i < 2000; i++) {
        size_t seen = fake_slack_call_count(fx.slack, NULL) + fake_gitlab_call_count(fx.gitlab, NULL)
                      + fake_pagerduty_event_count(fx.pd);
        if (seen >= base + after)
            break;
        fx_run_for(&fx, 2);
    }
    fx_kill(&fx);
    fx_start(&fx, NULL);
    if (!fx_wait(&fx, pred_s1_settled, NULL, 30000))
        TEST_FAIL("after=%zu delay=%d: the plan did not complete after restart", after, delay_ms);
    fx_run_for(&fx, 500);
    if (fake_slack_channel_count(fx.slack) != 1 || fake_gitlab_project_count(fx.gitlab) != 1
        || fake_gitlab_issue_count(fx.gitlab) != 1 || fake_pagerduty_incident_count(fx.pd) != 1)
        TEST_FAIL("after=%zu delay=%d: channels %zu projects %zu issues %zu pages %zu", after, delay_ms,
                  fake_slack_channel_count(fx.slack), fake_gitlab_project_count(fx.gitlab),
                  fake_gitlab_issue_count(fx.gitlab), fake_pagerduty_incident_count(fx.pd));
    ASSERT_EQ(fake_gitlab_note_count(fx.gitlab), 1);
    ASSERT(fake_slack_channel_has_member(fake_slack_channel(fx.slack, 0), "U0REPORT1"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* Kill points spread over the whole plan, with and without slow answers;
 * three tests so that the runner runs them side by side. */
TEST_T(e2e_report_sigkill_mid_flight_nothing_lost_nothing_twice, 300)
{
    for (size_t after = 0; after <= 6; after += 2)
        crash_and_recover(after, 0);
}

TEST_T(e2e_report_sigkill_late_in_the_plan_nothing_lost_nothing_twice, 300)
{
    for (size_t after = 8; after <= 14; after += 2)
        crash_and_recover(after, 0);
}

TEST_T(e2e_report_sigkill_slow_answers_nothing_lost_nothing_twice, 300)
{
    for (size_t after = 1; after <= 7; after += 2)
        crash_and_recover(after, 300);
}

static bool pred_secops_invited(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_channel_count(fx->slack) >= 1
           && fake_slack_channel_has_member(fake_slack_channel(fx->slack, 0), "U0SECOPS1");
}

TEST_T(e2e_report_nobody_in_hours_secops_owns_it, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    /* Wednesday 04:00 UTC: 20:00 in Los Angeles, 05:00 in Amsterdam. */
    fx_set_clock(&fx, 1795600800000LL - 6 * 3600 * 1000LL);
    fx_start(&fx, NULL);
    struct report_fields f = s1_fields;
    f.severity = "3";
    f.priority = "3";
    const char *eid = submit(&fx, "V0NIGHT001", &f);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    /* PagerDuty schedule PSCHED1 -> secops@example.com -> Slack U0SECOPS1. */
    ASSERT(fx_wait(&fx, pred_secops_invited, NULL, 15000));
    ASSERT_GE(fake_slack_call_count(fx.slack, "users.lookupByEmail"), 1);
    ASSERT(!fake_slack_channel_has_member(fake_slack_channel(fx.slack, 0), "U0APPSEC1"));
    ASSERT(!fake_slack_channel_has_member(fake_slack_channel(fx.slack, 0), "U0APPSEC2"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
