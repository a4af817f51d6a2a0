/* End-to-end tests of the responders' verbs: /sirt page (and the Page
 * button), /sirt resolve, @sirt oncall, the short-term decision form with
 * its Fix delivered -> validation prompt -> Yes flow, and /sirt assign.
 * The real bot runs against fake Slack, PagerDuty and GitLab; each test
 * first reports SIRT-1 through the report modal.  Timelines and incident
 * state are read from the bot's SQLite file through the store API. */
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

#define SECRET_GL "glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"
#define T0_MS 1795453200000LL   /* 2026-11-23T17:00:00Z, a Monday: 09:00 for the LA owner */

static const struct report_fields s1_fields = {
    .title = "Token " SECRET_GL " leaked in CI logs",
    .what = "A CI job printed the deploy token.",
    .severity = "1",
    .priority = "2",
    .component = "gitaly",
    .repro = "GET /api/v4/projects",
    .link = "",
};

/* Reports SIRT-1 (by reporter, S1/P2) and waits for its channel and pinned
 * summary (and, with the fakes, the issue and first page).  Returns the
 * channel id. */
static const char *start_incident(struct fx *fx, const char *reporter, const char *severity)
{
    struct report_fields f = s1_fields;
    f.severity = severity;
    fx_submit_report(fx, "V0REPORT01", reporter, &f);
    ASSERT(fx_wait(fx, fx_pred_pinned, NULL, 20000));
    ASSERT_EQ(fake_slack_channel_count(fx->slack), 1);
    return fake_slack_channel(fx->slack, 0)->id;
}

/* Ok calls of method to channel (NULL: any) whose body holds needle. */
static size_t count_calls(struct fx *fx, const char *method, const char *channel, const char *needle)
{
    return fx_count(fx, &(struct fx_q){ .method = method, .channel = channel, .body = needle, .ok = FX_HTTP_OK });
}

static bool wait_posts(struct fx *fx, const char *method, const char *channel, const char *needle, size_t n)
{
    struct fx_q q = { .method = method, .channel = channel, .body = needle, .ok = FX_HTTP_OK };
    return fx_wait_q(fx, &q, n, 10000);
}

/* The first call of method to channel (NULL: any) whose body holds needle, answered or not. */
static const struct fake_call *find_call(struct fx *fx, const char *method, const char *channel, const char *needle)
{
    return fx_nth(fx, &(struct fx_q){ .method = method, .channel = channel, .body = needle }, 0);
}

/* A block_actions payload as Slack sends it for a button in a message. */
static const char *press(struct fx *fx, const char *user, const char *channel, const char *action_id,
                         const char *value, const char *action_ts, const char *trigger_id)
{
    return fx_press(fx, &(struct fx_button){ .user = user, .channel = channel, .action_id = action_id,
                                             .block_id = "b1", .value = value, .action_ts = action_ts,
                                             .trigger_id = trigger_id, .message_ts = "1700000000.000100",
                                             .response_path = action_ts, .app = true });
}

/* ---- reading the bot's store ---- */

struct kinds {
    char buf[4096];
};

/* "kind:actor|kind:actor|..." for incident 1, and its state, read with a
 * plain SQLite connection: the bot may be running, and a second store on its
 * file would be refused (one process per SQLite database). */
static void read_store(struct fx *fx, struct kinds *k, char *state, size_t len)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sirt.db", fx->dir);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT kind, actor FROM timeline WHERE incident_id = 1 ORDER BY ts_ms, id",
                                 -1, &st, NULL), SQLITE_OK);
    k->buf[0] = '\0';
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *actor = (const char *)sqlite3_column_text(st, 1);
        size_t n = strlen(k->buf);
        snprintf(k->buf + n, sizeof(k->buf) - n, "%s:%s|", (const char *)sqlite3_column_text(st, 0),
                 actor ? actor : "");
    }
    ASSERT_EQ(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT state, owner, resolved_ms FROM incidents WHERE id = 1", -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    const char *owner = (const char *)sqlite3_column_text(st, 1);
    snprintf(state, len, "%s|owner=%s|resolved_ms=%s", (const char *)sqlite3_column_text(st, 0),
             owner ? owner : "", sqlite3_column_int64(st, 2) ? "set" : "0");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- page and resolve ---- */

TEST_T(e2e_responders_page_and_resolve, 90)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fx_start(&fx, NULL);
    const char *ch = start_incident(&fx, "U0REPORT1", "1");
    ASSERT(fx_wait_n(&fx, fx_pd_events, 1, 10000));   /* the S1 page of the report */
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);

    /* /sirt page SIRT-1 from elsewhere: a second trigger, same dedup key. */
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "page SIRT-1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Paging the security on-call for SIRT-1");
    ASSERT_NOT_CONTAINS(fx_ack_text(&fx, eid), "Token");
    ASSERT(fx_wait_n(&fx, fx_pd_events, 2, 10000));
    const cJSON *ev = fake_pagerduty_event_json(fx.pd, 1);
    ASSERT_STR_EQ(util_jstr(ev, "event_action"), "trigger");
    ASSERT_STR_EQ(util_jstr(ev, "dedup_key"), "SIRT-1");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(ev, "payload");
    ASSERT_STR_EQ(util_jstr(pl, "severity"), "critical");
    ASSERT_CONTAINS(util_jstr(pl, "summary"), "SIRT-1 [S1/P2] Token glpat-[MASKED]");
    ASSERT_NOT_CONTAINS(util_jstr(pl, "summary"), SECRET_GL);
    ASSERT_STR_EQ(util_jstr(cJSON_GetObjectItemCaseSensitive(pl, "custom_details"), "paged_by"), "U0REPORT1");
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_EQ(fake_pagerduty_incident_by_key(fx.pd, "SIRT-1")->alerts, 2);
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "<@U0REPORT1> paged the security on-call again (PagerDuty page `SIRT-1`, still open).", 1));

    /* The Page button, pressed twice: two triggers, still one incident. */
    press(&fx, "U0SIRT001", ch, "sirt_page", "SIRT-1", "1700000400.000001", "100.200.page1");
    press(&fx, "U0SIRT001", ch, "sirt_page", "SIRT-1", "1700000401.000001", "100.200.page2");
    ASSERT(fx_wait_n(&fx, fx_pd_events, 4, 10000));
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_event_json(fx.pd, 3), "dedup_key"), "SIRT-1");
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "<@U0SIRT001> paged the security on-call again (PagerDuty page `SIRT-1`", 2));

    /* Somebody outside may not resolve it. */
    eid = fake_slack_send_slash(fx.slack, "U0OUTSIDE", "C0PUBLIC1", "resolve SIRT-1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "only the SIRT team");
    ASSERT_NOT_CONTAINS(fx_ack_text(&fx, eid), "Token");

    /* The SIRT team may (the long-term fix recorded first: no confirmation). */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT002", "C0PUBLIC1",
                                "release SIRT-1 https://gitlab.example/security/release/-/issues/7");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(fx_wait_post_text(&fx, "the long-term fix of SIRT-1", 10000));   /* recorded before the resolve asks */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT002", "C0PUBLIC1", "resolve SIRT-1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Resolving SIRT-1");
    ASSERT(fx_wait_n(&fx, fx_pd_events, 5, 10000));
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_event_json(fx.pd, 4), "event_action"), "resolve");
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_event_json(fx.pd, 4), "dedup_key"), "SIRT-1");
    ASSERT_STR_EQ(fake_pagerduty_incident_state(fx.pd, "SIRT-1"), "resolved");
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "<@U0SIRT002> resolved SIRT-1", 1));

    /* Resolved: a second resolve and a page are refused. */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT002", ch, "resolve");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "already resolved");
    eid = fake_slack_send_slash(fx.slack, "U0SIRT002", ch, "page");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "is resolved");
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 5);

    struct kinds k;
    char state[128];
    read_store(&fx, &k, state, sizeof(state));
    ASSERT_CONTAINS(state, "resolved|");
    ASSERT_CONTAINS(state, "resolved_ms=set");
    ASSERT_CONTAINS(k.buf, "paged:U0REPORT1|");
    ASSERT_CONTAINS(k.buf, "paged:U0SIRT001|");
    ASSERT_CONTAINS(k.buf, "resolved:U0SIRT002|");
    ASSERT(!fx_stderr_has(&fx, SECRET_GL));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_responders_page_without_routing_key, 60)
{
    struct fx fx;
    fx_init(&fx);   /* no PagerDuty: PAGERDUTY_ROUTING_KEY unset */
    fx_start(&fx, NULL);
    const char *ch = start_incident(&fx, "U0REPORT1", "3");
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", ch, "page");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "PAGERDUTY_ROUTING_KEY is not set");
    eid = press(&fx, "U0REPORT1", ch, "sirt_page", "SIRT-1", "1700000500.000001", "100.200.nokey");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    /* The presser hears it through the message's response_url, ephemeral. */
    ASSERT(wait_posts(&fx, "response_url", NULL, "PAGERDUTY_ROUTING_KEY is not set", 1));
    ASSERT_CONTAINS(find_call(&fx, "response_url", NULL, "PAGERDUTY_ROUTING_KEY is not set")->body, "\"ephemeral\"");
    fx_run_for(&fx, 300);
    ASSERT_EQ(count_calls(&fx, "chat.postMessage", ch, "paged the security on-call"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* ---- on call ---- */

TEST_T(e2e_responders_oncall, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY);
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 3000));

    /* @sirt oncall: PagerDuty's PSECOPS01 is secops@example.com = U0SECOPS1. */
    fx_mention_text(&fx, "U0REPORT1", "C0PUBLIC1", "oncall", "Ev0ONCALL01");
    ASSERT(wait_posts(&fx, "chat.postMessage", "C0PUBLIC1", "On call now: <@U0SECOPS1>", 1));
    ASSERT_CONTAINS(find_call(&fx, "chat.postMessage", "C0PUBLIC1", "On call now")->body, "PagerDuty schedule");
    struct fake_http *h = fake_pagerduty_http(fx.pd);
    ASSERT_EQ(fake_http_count(h, "GET /oncalls"), 1);
    const struct fake_http_request *rq = fake_http_last(h, "GET /oncalls");
    ASSERT_STR_EQ(fake_http_arg(rq, "schedule_ids[]", 0), "PSCHED1");
    ASSERT_STR_EQ(fake_http_arg(rq, "include[]", 0), "users");
    const struct fake_call *lk = fake_slack_last_call(fx.slack, "users.lookupByEmail");
    ASSERT_NOT_NULL(lk);
    ASSERT_STR_EQ(lk->http_method, "GET");
    ASSERT_STR_EQ(util_jstr(lk->json, "email"), "secops@example.com");

    /* Someone else on call: the answer follows PagerDuty. */
    fake_pagerduty_set_oncall(fx.pd, "PSCHED1", "PALICE001", "alice", "alice@example.com");
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "oncall");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(wait_posts(&fx, "response_url", NULL, "On call now: <@U0APPSEC1>", 1));

    /* PagerDuty failing: the fallback user, at once (someone is waiting). */
    fake_pagerduty_fail(fx.pd, FAKE_PD_ONCALLS, 1, 500, 0);
    eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "oncall");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(wait_posts(&fx, "response_url", NULL, "On call now: <@U0SECOPS1> (fallback", 1));

    /* PagerDuty answers but nobody matches in Slack: the fallback too. */
    fake_pagerduty_set_oncall(fx.pd, "PSCHED1", "PGHOST001", "ghost", "ghost@example.com");
    fx_mention_text(&fx, "U0REPORT1", "C0PUBLIC1", "oncall", "Ev0ONCALL02");
    ASSERT(wait_posts(&fx, "chat.postMessage", "C0PUBLIC1", "On call now: <@U0SECOPS1> (fallback", 1));
    ASSERT(!fx_stderr_has(&fx, "pd-test-token"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* No REST token: the fallback user without asking PagerDuty.  No fallback
 * and PagerDuty down: the asker hears that nobody was found. */
TEST_T(e2e_responders_oncall_without_token_or_fallback, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY);
    const char *env[] = { "PAGERDUTY_API_TOKEN=", NULL };
    fx_start(&fx, env);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 3000));
    fx_mention_text(&fx, "U0REPORT1", "C0PUBLIC1", "oncall", "Ev0ONCALL11");
    ASSERT(wait_posts(&fx, "chat.postMessage", "C0PUBLIC1", "On call now: <@U0SECOPS1> (fallback", 1));
    ASSERT_EQ(fake_http_count(fake_pagerduty_http(fx.pd), "GET /oncalls"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);

    char *cfg = xstrdup(fx_default_config);
    char *fb = strstr(cfg, ", \"fallback_user\": \"U0SECOPS1\"");
    ASSERT_NOT_NULL(fb);
    memmove(fb, fb + strlen(", \"fallback_user\": \"U0SECOPS1\""), strlen(fb + strlen(", \"fallback_user\": \"U0SECOPS1\"")) + 1);
    fx_write_config(&fx, cfg);
    free(cfg);
    fx_start(&fx, NULL);
    fake_pagerduty_fail(fx.pd, FAKE_PD_ONCALLS, 1, 503, 0);
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "oncall");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(wait_posts(&fx, "response_url", NULL, "could not find who is on call", 1));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* ---- decisions ---- */

static const struct decision_answers good_decision = {
    .solution = "Disable the CI job log view; token " SECRET_GL " revoked",
    .options = "Rotate all tokens; disable the runner",
    .effectiveness = "Stops new leaks at once",
    .customers = "All self-managed customers using CI",
    .how = "Job logs are unavailable for 2 days",
    .magnitude = "Medium: logs only",
    .consequences = "Support tickets expected",
};

static const char *submit_decision(struct fx *fx, const char *view_id, const char *meta, const struct decision_answers *f)
{
    struct view_submission v = { .user = "U0APPSEC1", .view_id = view_id, .metadata = meta,
                                 .trigger_id = "1337.43.view", .app = true };
    cJSON *p = decision_submission_payload(&v, f);
    const char *eid = fake_slack_send_interactive(fx->slack, p);
    cJSON_Delete(p);
    return eid;
}

TEST_T(e2e_responders_decision_flow, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fx_set_clock(&fx, T0_MS);
    fx_start(&fx, NULL);
    /* Reported by an appsec engineer: they own it. */
    const char *ch = start_incident(&fx, "U0APPSEC1", "1");
    ASSERT(fx_wait_n(&fx, fx_gitlab_notes, 1, 10000));

    /* The Record decision button opens the form. */
    press(&fx, "U0APPSEC1", ch, "sirt_decision", "SIRT-1", "1700000600.000001", "777.888.dec");
    ASSERT(fx_wait_calls(&fx, "views.open", 1, 5000));
    const struct fake_call *vo = fake_slack_last_call(fx.slack, "views.open");
    ASSERT_STR_EQ(util_jstr(vo->json, "trigger_id"), "777.888.dec");
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(vo->json, "view");
    ASSERT_STR_EQ(util_jstr(view, "callback_id"), "sirt_decision");
    /* The incident, and the channel it was opened from (re-checked on submit). */
    ASSERT_CONTAINS(util_jstr(view, "private_metadata"), "{\"incident\":1,\"channel\":\"C");
    char *vs = cJSON_PrintUnformatted(view);
    const char *ids[] = { "solution", "options", "effectiveness", "customers", "how", "magnitude", "consequences" };
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        char b[64];
        snprintf(b, sizeof(b), "\"block_id\":\"%s\"", ids[i]);
        ASSERT_CONTAINS(vs, b);
    }
    ASSERT_CONTAINS(vs, "Customers affected (how many?)");
    cJSON_free(vs);

    /* Missing fields: errors on their blocks, nothing recorded. */
    struct decision_answers bad = good_decision;
    bad.solution = "";
    bad.magnitude = NULL;
    bad.options = NULL;
    const char *eid = submit_decision(&fx, "V0DECBAD1", "{\"incident\":1}", &bad);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    const cJSON *ap = fx_ack_payload(&fx, eid);
    ASSERT_STR_EQ(util_jstr(ap, "response_action"), "errors");
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(ap, "errors");
    ASSERT_NOT_NULL(util_jstr(errs, "solution"));
    ASSERT_NOT_NULL(util_jstr(errs, "magnitude"));
    ASSERT_NULL(util_jstr(errs, "options"));
    /* Unknown incident: the error sits on "solution". */
    eid = submit_decision(&fx, "V0DECBAD2", "{\"incident\":99}", &good_decision);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_NOT_NULL(util_jstr(cJSON_GetObjectItemCaseSensitive(fx_ack_payload(&fx, eid), "errors"), "solution"));

    /* A valid decision: channel message with Fix delivered, GitLab note,
     * the directors told. */
    eid = submit_decision(&fx, "V0DECOK01", "{\"incident\":1}", &good_decision);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_NULL(fx_ack_payload(&fx, eid));
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "decision_fix_delivered", 1));
    const struct fake_call *post = find_call(&fx, "chat.postMessage", ch, "decision_fix_delivered");
    ASSERT_CONTAINS(post->body, "Disable the CI job log view");
    ASSERT_CONTAINS(post->body, "glpat-[MASKED]");
    ASSERT_CONTAINS(post->body, "All self-managed customers using CI");
    ASSERT(fx_wait_n(&fx, fx_gitlab_notes, 2, 10000)   /* the EM/PM note, then ours */);
    const cJSON *note = fake_gitlab_note(fx.gitlab, 1);
    ASSERT_CONTAINS(util_jstr(note, "body"), "Short-term decision");
    ASSERT_CONTAINS(util_jstr(note, "body"), "Magnitude");
    ASSERT_NOT_CONTAINS(util_jstr(note, "body"), SECRET_GL);
    ASSERT(wait_posts(&fx, "chat.postMessage", "D0DIRSEC1", "approval is not required", 1));
    ASSERT(wait_posts(&fx, "chat.postMessage", "D0DIRINF1", "approval is not required", 1));
    const struct fake_call *dm = find_call(&fx, "chat.postMessage", "D0DIRSEC1", "approval is not required");
    ASSERT_CONTAINS(dm->body, "SIRT-1");
    ASSERT_CONTAINS(dm->body, "<@U0APPSEC1>");
    ASSERT_CONTAINS(dm->body, "Disable the CI job log view");
    ASSERT_NOT_CONTAINS(dm->body, "{{incident.");

    /* The same form again: nothing doubles. */
    eid = submit_decision(&fx, "V0DECOK01", "{\"incident\":1}", &good_decision);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    fx_run_for(&fx, 800);
    ASSERT_EQ(count_calls(&fx, "chat.postMessage", ch, "decision_fix_delivered"), 1);
    ASSERT_EQ(count_calls(&fx, "chat.postMessage", "D0DIRSEC1", "approval is not required"), 1);
    ASSERT_EQ(fake_gitlab_note_count(fx.gitlab), 2);

    /* Fix delivered: a message now, the owner asked after validate_after_minutes (240). */
    press(&fx, "U0APPSEC1", ch, "decision_fix_delivered", "1", "1700000700.000001", "777.888.fix");
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "as delivered", 1));
    fx_run_for(&fx, 500);
    ASSERT_EQ(count_calls(&fx, "chat.postMessage", "D0APPSEC1", "validated as effective"), 0);
    fx_set_clock(&fx, T0_MS + 241LL * 60 * 1000);
    ASSERT(wait_posts(&fx, "chat.postMessage", "D0APPSEC1", "Is the short-term fix for SIRT-1 validated as effective?", 1));
    const struct fake_call *prompt = find_call(&fx, "chat.postMessage", "D0APPSEC1", "decision_validated_yes");
    ASSERT_NOT_NULL(prompt);
    ASSERT_CONTAINS(prompt->body, "decision_validated_no");
    ASSERT_CONTAINS(prompt->body, "Disable the CI job log view");

    /* Yes: the channel hears it, the prompt is answered in place. */
    press(&fx, "U0APPSEC1", "D0APPSEC1", "decision_validated_yes", "1", "1700000800.000001", "777.888.yes");
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "validated the short-term fix (decision #1) as effective", 1));
    ASSERT(wait_posts(&fx, "response_url", NULL, "Thanks", 1));
    /* A second answer changes nothing. */
    press(&fx, "U0APPSEC1", "D0APPSEC1", "decision_validated_no", "1", "1700000801.000001", "777.888.no");
    ASSERT(wait_posts(&fx, "response_url", NULL, "already validated", 1));
    ASSERT_EQ(count_calls(&fx, "chat.postMessage", ch, "NOT effective"), 0);

    struct kinds k;
    char state[128];
    read_store(&fx, &k, state, sizeof(state));
    ASSERT_CONTAINS(k.buf, "decision:U0APPSEC1|");
    ASSERT_CONTAINS(k.buf, "fix_delivered:U0APPSEC1|");
    ASSERT_CONTAINS(k.buf, "fix_validated:U0APPSEC1|");
    ASSERT(!fx_stderr_has(&fx, SECRET_GL));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* ---- assign ---- */

TEST_T(e2e_responders_assign, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    fx_start(&fx, NULL);
    const char *ch = start_incident(&fx, "U0REPORT1", "2");

    /* Outsiders may not assign. */
    const char *eid = fake_slack_send_slash(fx.slack, "U0OUTSIDE", "C0PUBLIC1", "assign SIRT-1 <@U0APPSEC2>");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "only the SIRT team");
    /* No user: usage. */
    eid = fake_slack_send_slash(fx.slack, "U0SIRT001", "C0PUBLIC1", "assign SIRT-1 bob");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Usage");

    eid = fake_slack_send_slash(fx.slack, "U0SIRT001", "C0PUBLIC1", "assign SIRT-1 <@U0APPSEC2|bob>");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "Assigning SIRT-1 to <@U0APPSEC2>");
    ASSERT(wait_posts(&fx, "chat.postMessage", ch, "assigned SIRT-1 to <@U0APPSEC2>", 1));
    ASSERT(wait_posts(&fx, "chat.postMessage", "D0APPSEC2", "appsec owner of security incident *SIRT-1*", 1));
    const struct fake_call *dm = find_call(&fx, "chat.postMessage", "D0APPSEC2", "appsec owner");
    ASSERT_CONTAINS(dm->body, "glpat-[MASKED]");
    ASSERT_CONTAINS(dm->body, "<#");
    /* The invite is a job of its own, not behind the posts: waited for. */
    ASSERT(fx_wait_member(&fx, ch, "U0APPSEC2", 10000));

    struct kinds k;
    char state[128];
    read_store(&fx, &k, state, sizeof(state));
    ASSERT_CONTAINS(state, "owner=U0APPSEC2");
    ASSERT_CONTAINS(k.buf, "assigned:U0SIRT001|");

    /* Again: already the owner. */
    eid = fake_slack_send_slash(fx.slack, "U0APPSEC2", ch, "assign <@U0APPSEC2>");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(fx_ack_text(&fx, eid), "already owns SIRT-1");
    ASSERT(!fx_stderr_has(&fx, SECRET_GL));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
