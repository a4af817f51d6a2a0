/* End-to-end tests of "nothing dropped, every action re-checked": the real
 * bot against the fakes with the store write-fault knob
 * (SIRT_TEST_STORE_FAULT) standing in for a full disk, forged interactive
 * payloads sent through the fake Slack's websocket, and envelope ids that
 * must not be echoed.  Each test checks what reached the fakes and, where
 * it matters, the store itself after the bot stopped. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bot/store.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define OUTSIDER "U0OUTSID1"

static const struct report_fields s1_fields = {
    .title = "Session fixation in login",
    .what = "Sessions survive a login.",
    .severity = "1",
    .priority = "1",
    .component = "gitaly",
    .repro = "GET /login",
    .link = "",
};

static const char *submit_report(struct fx *fx, const char *view_id, const char *user)
{
    cJSON *p = report_submission_payload(view_id, user, &s1_fields);
    const char *eid = fake_slack_send_interactive(fx->slack, p);
    cJSON_Delete(p);
    return eid;
}

struct calls {
    const char *method, *channel, *needle;
};

static size_t count_calls(struct fx *fx, const char *method, const char *channel, const char *needle)
{
    size_t k = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, method); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, method, i);
        if (channel && (!util_jstr(c->json, "channel") || strcmp(util_jstr(c->json, "channel"), channel) != 0))
            continue;
        if (needle && (!c->body || !strstr(c->body, needle)))
            continue;
        k++;
    }
    return k;
}

static bool pred_call(struct fx *fx, void *ud)
{
    struct calls *c = ud;
    return count_calls(fx, c->method, c->channel, c->needle) >= 1;
}

static bool wait_call(struct fx *fx, const char *method, const char *channel, const char *needle)
{
    struct calls c = { method, channel, needle };
    return fx_wait(fx, pred_call, &c, 8000);
}

static void fault_path(struct fx *fx, char *out, size_t n)
{
    snprintf(out, n, "%s/store-fault", fx->dir);
}

static void fault_on(struct fx *fx, const char *content)
{
    char path[400];
    fault_path(fx, path, sizeof(path));
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(content, f);
    fclose(f);
}

static void fault_off(struct fx *fx)
{
    char path[400];
    fault_path(fx, path, sizeof(path));
    ASSERT_EQ(unlink(path), 0);
}

/* Starts the bot with the knob armed (file absent) and waits until its
 * start-up writes are done (auth.test answered, workers started). */
static void start_with_knob(struct fx *fx)
{
    char path[400], env[440];
    fault_path(fx, path, sizeof(path));
    snprintf(env, sizeof(env), "SIRT_TEST_STORE_FAULT=%s", path);
    const char *e[] = { env, NULL };
    fx_start(fx, e);
    ASSERT(fx_wait_calls(fx, "auth.test", 1, 5000));
    fx_run_for(fx, 400);
}

static bool pred_pd_events(struct fx *fx, void *ud)
{
    return fake_pagerduty_event_count(fx->pd) >= *(size_t *)ud;
}

TEST_T(e2e_nodrop_disk_full_report_form_stays_open, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY);
    start_with_knob(&fx);
    fault_on(&fx, "");

    /* The report: refused in the form, with the error on its first field. */
    const char *eid = submit_report(&fx, "V0FULL0001", "U0REPORT1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    const cJSON *p = fx_ack_payload(&fx, eid);
    ASSERT_STR_EQ(util_jstr(p, "response_action"), "errors");
    const char *err = util_jstr(cJSON_GetObjectItemCaseSensitive(p, "errors"), "title");
    ASSERT_NOT_NULL(err);
    ASSERT_CONTAINS(err, "sirt cannot save this right now");
    ASSERT_CONTAINS(err, "page security by hand: trigger the security on-call service in PagerDuty");

    /* A slash command that needs the store: the ack itself says so. */
    const char *s = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "report XSS in search");
    ASSERT(fx_wait_ack(&fx, s, 5000));
    ASSERT_CONTAINS(util_jstr(fx_ack_payload(&fx, s), "text"), "sirt cannot save this right now");
    ASSERT_STR_EQ(util_jstr(fx_ack_payload(&fx, s), "response_type"), "ephemeral");
    /* One that does not need it still works. */
    s = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, s, 5000));
    ASSERT_CONTAINS(util_jstr(fx_ack_payload(&fx, s), "text"), "/sirt report");

    /* A mention: an ephemeral reply, sent directly (the outbox is in the store). */
    cJSON *ev = cJSON_Parse("{\"type\":\"app_mention\",\"user\":\"U0REPORT1\",\"text\":\"<@U0BOT0001> report XSS\","
                            "\"channel\":\"C0PUBLIC1\",\"ts\":\"1700000100.000200\"}");
    fake_slack_send_event(fx.slack, ev, "Ev0FULL001", 0);
    cJSON_Delete(ev);
    ASSERT(wait_call(&fx, "chat.postEphemeral", "C0PUBLIC1", "sirt cannot save this right now"));
    const struct fake_call *c = fake_slack_last_call(fx.slack, "chat.postEphemeral");
    ASSERT_STR_EQ(util_jstr(c->json, "user"), "U0REPORT1");

    /* Nothing half done. */
    fx_run_for(&fx, 1500);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 0);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "views.open"), 0);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), 0);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);

    /* The disk has room again: the same form, submitted again, works. */
    fault_off(&fx);
    eid = submit_report(&fx, "V0FULL0001", "U0REPORT1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_NULL(util_jstr(fx_ack_payload(&fx, eid), "response_action"));
    ASSERT(fx_wait(&fx, fx_pred_pinned, NULL, 20000));
    size_t one = 1;
    ASSERT(fx_wait(&fx, pred_pd_events, &one, 20000));
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 1);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_nodrop_work_failure_kept_and_replayed, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY);
    start_with_knob(&fx);
    /* One write goes through (the inbox row of the report), then the disk
     * is full: the work fails after the ack. */
    fault_on(&fx, "1");
    const char *eid = submit_report(&fx, "V0KEPT0001", "U0REPORT1");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_NULL(util_jstr(fx_ack_payload(&fx, eid), "response_action"));   /* the form closed: it was kept */
    /* The reporter hears it is queued, by DM, directly. */
    ASSERT(wait_call(&fx, "chat.postMessage", "U0REPORT1", "saved and will be done by itself"));
    ASSERT(fx_stderr_has(&fx, "envelope kept in the inbox"));
    fx_run_for(&fx, 2500);   /* a few replays fail meanwhile */
    ASSERT(fx_stderr_has(&fx, "replay failed again"));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 0);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);

    fault_off(&fx);
    ASSERT(fx_wait(&fx, fx_pred_pinned, NULL, 90000));
    size_t one = 1;
    ASSERT(fx_wait(&fx, pred_pd_events, &one, 20000));
    fx_run_for(&fx, 1500);
    ASSERT(fx_stderr_has(&fx, "kept envelope handled on replay"));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 1);
    ASSERT_EQ(fake_pagerduty_incident_count(fx.pd), 1);
    ASSERT_EQ(count_calls(&fx, "chat.postMessage", "U0REPORT1", "saved and will be done by itself"), 1);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);

    /* Exactly one incident, and the inbox is empty. */
    char db[400], err[200];
    snprintf(db, sizeof(db), "%s/sirt.db", fx.dir);
    struct store *st = NULL;
    ASSERT_EQ(store_open(&st, db, err, sizeof(err)), 0);
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    ASSERT_EQ(store_incident_get(st, 1, &inc), 0);
    incident_finish(&inc);
    ASSERT_EQ(store_incident_get(st, 2, &inc), STORE_ENOTFOUND);
    store_close(st);
    fx_finish(&fx);
}

/* The inbox row that keeps an acked envelope until its work is done holds
 * no secret either: masked as it is stored, and the replay works from the
 * masked text. */
#define INBOX_SECRET "ghp_" "Zq8rT2vN6xK4pL9mW3cY7bH1dF5gJ0sA2eU4"

static char *inbox_text(struct fx *fx)
{
    char db[400];
    snprintf(db, sizeof(db), "%s/sirt.db", fx->dir);
    sqlite3 *h = NULL;
    ASSERT_EQ(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 2000);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT group_concat(envelope, '|') FROM inbox", -1, &st, NULL), SQLITE_OK);
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out ? out : xstrdup("");
}

TEST_T(e2e_nodrop_kept_envelope_masked, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY);
    start_with_knob(&fx);
    fault_on(&fx, "1");
    struct report_fields f = s1_fields;
    f.repro = "curl -H 'Authorization: token " INBOX_SECRET "' https://example.test/api";
    cJSON *p = report_submission_payload("V0MASKED01", "U0REPORT1", &f);
    const char *eid = fake_slack_send_interactive(fx.slack, p);
    cJSON_Delete(p);
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT(wait_call(&fx, "chat.postMessage", "U0REPORT1", "saved and will be done by itself"));
    ASSERT(fx_stderr_has(&fx, "envelope kept in the inbox"));
    char *kept = inbox_text(&fx);
    ASSERT_CONTAINS(kept, "V0MASKED01");             /* the row is there */
    ASSERT_CONTAINS(kept, "[MASKED]");
    ASSERT(strstr(kept, "Zq8rT2vN6xK4pL9mW3cY7bH1dF5gJ0sA2eU4") == NULL);
    free(kept);

    fault_off(&fx);
    ASSERT(fx_wait(&fx, fx_pred_pinned, NULL, 90000));
    ASSERT(fx_stderr_has(&fx, "kept envelope handled on replay"));
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.create"), 1);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    char *left = inbox_text(&fx);
    ASSERT_STR_EQ(left, "");
    free(left);
    fx_finish(&fx);
}

/* ---- forged and stale interactions ---- */

static cJSON *decision_form(const char *user, const char *view_id, const char *metadata)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"type\":\"view_submission\",\"user\":{\"id\":\"%s\"},\"trigger_id\":\"9.9.forged\","
             "\"view\":{\"id\":\"%s\",\"type\":\"modal\",\"callback_id\":\"sirt_decision\",\"private_metadata\":\"\","
             "\"state\":{\"values\":{"
             "\"solution\":{\"value\":{\"type\":\"plain_text_input\",\"value\":\"Disable the login endpoint\"}},"
             "\"effectiveness\":{\"value\":{\"type\":\"plain_text_input\",\"value\":\"Full\"}},"
             "\"customers\":{\"value\":{\"type\":\"plain_text_input\",\"value\":\"All\"}},"
             "\"how\":{\"value\":{\"type\":\"plain_text_input\",\"value\":\"Cannot log in\"}},"
             "\"magnitude\":{\"value\":{\"type\":\"plain_text_input\",\"value\":\"High\"}}}}}}",
             user, view_id);
    cJSON *p = cJSON_Parse(buf);
    cJSON *view = cJSON_GetObjectItemCaseSensitive(p, "view");
    cJSON_ReplaceItemInObjectCaseSensitive(view, "private_metadata", cJSON_CreateString(metadata));
    return p;
}

static const char *send_and_ack(struct fx *fx, cJSON *payload)
{
    const char *eid = fake_slack_send_interactive(fx->slack, payload);
    cJSON_Delete(payload);
    ASSERT(fx_wait_ack(fx, eid, 5000));
    return eid;
}

static cJSON *button(const char *user, const char *action_id, const char *value, const char *ts)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "block_actions");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "user"), "id", user);
    cJSON_AddStringToObject(p, "trigger_id", "7.7.press");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "channel"), "id", "C0PUBLIC1");
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "action_id", action_id);
    cJSON_AddStringToObject(a, "block_id", "b");
    cJSON_AddStringToObject(a, "type", "button");
    cJSON_AddStringToObject(a, "value", value);
    cJSON_AddStringToObject(a, "action_ts", ts);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "actions"), a);
    return p;
}

static bool count_cb(void *ud, const struct decision *d)
{
    (void)d;
    (*(int *)ud)++;
    return true;
}

/* Decisions and the owner of an incident, read from the store after the bot stopped. */
static void store_facts(struct fx *fx, int64_t incident, int *decisions, char *owner, size_t n)
{
    char db[400], err[200];
    snprintf(db, sizeof(db), "%s/sirt.db", fx->dir);
    struct store *st = NULL;
    ASSERT_EQ(store_open(&st, db, err, sizeof(err)), 0);
    *decisions = 0;
    ASSERT_EQ(store_decisions_list(st, incident, count_cb, decisions), 0);
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    ASSERT_EQ(store_incident_get(st, incident, &inc), 0);
    snprintf(owner, n, "%s", inc.owner ? inc.owner : "");
    incident_finish(&inc);
    store_close(st);
}

TEST_T(e2e_nodrop_forged_interactions_refused, 90)
{
    struct fx fx;
    fx_init(&fx);
    fake_slack_add_user(fx.slack, OUTSIDER, "outsider", "outsider@example.com", NULL);
    fx_set_clock(&fx, 1795600800000LL);   /* a Wednesday, 10:00 UTC: U0APPSEC2 is in hours */
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    /* SIRT-1 by the reporter; SIRT-2 by the outsider (who is on SIRT-2 only). */
    ASSERT(fx_wait_ack(&fx, submit_report(&fx, "V0INC00001", "U0REPORT1"), 5000));
    ASSERT(fx_wait(&fx, fx_pred_pinned, NULL, 20000));
    ASSERT(fx_wait_ack(&fx, submit_report(&fx, "V0INC00002", OUTSIDER), 5000));
    ASSERT(fx_wait_q(&fx, &(struct fx_q){ .method = "pins.add", .ok = FX_HTTP_OK }, 2, 20000));
    fx_run_for(&fx, 500);

    /* 1. A decision form for SIRT-1, submitted by the outsider: refused in the form. */
    const char *eid = send_and_ack(&fx, decision_form(OUTSIDER, "V0FORGED01", "{\"incident\":1}"));
    const cJSON *p = fx_ack_payload(&fx, eid);
    ASSERT_STR_EQ(util_jstr(p, "response_action"), "errors");
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(p, "errors"), "solution"),
                    "Only the SIRT team and the people on SIRT-1");
    /* 2. The same with a channel that is not SIRT-1's in the metadata. */
    eid = send_and_ack(&fx, decision_form(OUTSIDER, "V0FORGED02", "{\"incident\":1,\"channel\":\"C0PUBLIC1\"}"));
    ASSERT_STR_EQ(util_jstr(fx_ack_payload(&fx, eid), "response_action"), "errors");
    /* 3. Malformed metadata, from someone who is on SIRT-1. */
    const char *bad_meta[] = { "not json", "{\"incident\":\"1\"}", "{\"incident\":1.5}", "{\"incident\":1,\"channel\":\"<#x>\"}",
                               "[1]", "" };
    for (size_t i = 0; i < ARRAY_LEN(bad_meta); i++) {
        char vid[32];
        snprintf(vid, sizeof(vid), "V0BADMETA%zu", i);
        eid = send_and_ack(&fx, decision_form("U0REPORT1", vid, bad_meta[i]));
        p = fx_ack_payload(&fx, eid);
        ASSERT_STR_EQ(util_jstr(p, "response_action"), "errors");
        ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(p, "errors"), "solution"), "does not say which incident");
    }
    /* 4. The handoff button of SIRT-1 pressed by the outsider. */
    eid = send_and_ack(&fx, button(OUTSIDER, "sirt_handoff", "SIRT-1", "100.1"));
    ASSERT(wait_call(&fx, "chat.postEphemeral", "C0PUBLIC1", "Only the SIRT team and the people on this incident"));
    /* 5. The end-of-day accept button with a value naming no user, by the reporter. */
    eid = send_and_ack(&fx, button("U0REPORT1", "handoff_accept", "1|<!channel>", "100.2"));
    ASSERT(wait_call(&fx, "chat.postEphemeral", "C0PUBLIC1", "does not name a handoff I made"));
    /* 6. Page and resolve buttons with malformed values, and for SIRT-1 by the outsider. */
    eid = send_and_ack(&fx, button("U0REPORT1", "sirt_page", "SIRT-1'; --", "100.3"));
    ASSERT(wait_call(&fx, "chat.postEphemeral", "C0PUBLIC1", "I cannot find that incident any more"));
    eid = send_and_ack(&fx, button(OUTSIDER, "sirt_resolve", "SIRT-1", "100.4"));
    ASSERT(wait_call(&fx, "chat.postEphemeral", "C0PUBLIC1", "only the SIRT team, the owner of SIRT-1"));
    eid = send_and_ack(&fx, button(OUTSIDER, "sirt_decision", "SIRT-1", "100.5"));
    ASSERT(wait_call(&fx, "chat.postEphemeral", "C0PUBLIC1", "can record its decisions"));
    fx_run_for(&fx, 1000);
    /* Nothing changed anywhere: no decision posted, nobody told, no
     * handoff, no page, nothing resolved, no modal opened. */
    ASSERT_EQ(count_calls(&fx, NULL, NULL, "Short-term decision"), 0);
    ASSERT_EQ(count_calls(&fx, NULL, NULL, "short-term decision"), 0);
    ASSERT_EQ(count_calls(&fx, NULL, NULL, "handed off"), 0);
    ASSERT_EQ(count_calls(&fx, NULL, NULL, "paged the security on-call"), 0);
    ASSERT_EQ(count_calls(&fx, NULL, NULL, "resolved SIRT-1"), 0);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "views.open"), 0);

    /* The control: the reporter's own decision form for SIRT-1 is recorded. */
    eid = send_and_ack(&fx, decision_form("U0REPORT1", "V0GOOD0001", "{\"incident\":1}"));
    ASSERT_NULL(util_jstr(fx_ack_payload(&fx, eid), "response_action"));
    ASSERT(wait_call(&fx, "chat.postMessage", NULL, "Short-term decision #1 for SIRT-1"));
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);

    int decisions = -1;
    char owner1[32], owner2[32];
    store_facts(&fx, 1, &decisions, owner1, sizeof(owner1));
    ASSERT_EQ(decisions, 1);
    ASSERT_STR_EQ(owner1, "U0APPSEC2");   /* not handed off */
    store_facts(&fx, 2, &decisions, owner2, sizeof(owner2));
    ASSERT_EQ(decisions, 0);
    fx_finish(&fx);
}

TEST_T(e2e_nodrop_bad_envelope_ids_not_echoed, 30)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    const char *frames[] = {
        "{\"envelope_id\":\"\xff\xfe-bad\",\"type\":\"slash_commands\",\"payload\":{\"user_id\":\"U0REPORT1\","
        "\"channel_id\":\"C0PUBLIC1\",\"text\":\"help\"}}",
        "{\"envelope_id\":\"has space\",\"type\":\"slash_commands\",\"payload\":{\"user_id\":\"U0REPORT1\","
        "\"channel_id\":\"C0PUBLIC1\",\"text\":\"help\"}}",
        "{\"envelope_id\":\"ctl\\u0001x\",\"type\":\"slash_commands\",\"payload\":{\"user_id\":\"U0REPORT1\","
        "\"channel_id\":\"C0PUBLIC1\",\"text\":\"help\"}}",
        "{\"envelope_id\":\"caf\\u00e9\",\"type\":\"slash_commands\",\"payload\":{\"user_id\":\"U0REPORT1\","
        "\"channel_id\":\"C0PUBLIC1\",\"text\":\"help\"}}",
    };
    for (size_t i = 0; i < ARRAY_LEN(frames); i++)
        ASSERT_EQ(fake_slack_send_raw(fx.slack, frames[i], strlen(frames[i]), false), 0);
    char big[400];
    int n = snprintf(big, sizeof(big), "{\"envelope_id\":\"%0129d\",\"type\":\"events_api\",\"payload\":{}}", 7);
    ASSERT_EQ(fake_slack_send_raw(fx.slack, big, (size_t)n, false), 0);
    /* The bot keeps working: the next envelope is acked and answered. */
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait_ack(&fx, eid, 5000));
    ASSERT_CONTAINS(util_jstr(fx_ack_payload(&fx, eid), "text"), "/sirt report");
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_ack_count(fx.slack), 1);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 0);
    ASSERT(fx_stderr_has(&fx, "envelope_id is not short printable ASCII"));
    /* A 128-byte id is fine: it is acked (the fake, which did not send it
     * through its own API, counts that ack as a stray frame). */
    char ok[200];
    n = snprintf(ok, sizeof(ok), "{\"envelope_id\":\"%0128d\",\"type\":\"events_api\",\"payload\":{}}", 8);
    ASSERT_EQ(fake_slack_send_raw(fx.slack, ok, (size_t)n, false), 0);
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_bad_frames(fx.slack), 1);
    ASSERT_CONTAINS(fake_slack_bad_frame(fx.slack, 0), "00000008\"");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
