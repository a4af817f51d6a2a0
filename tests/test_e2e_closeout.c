/* End-to-end tests of the close-out and the long-term fix (issue 9, items
 * 5 and 6): the real bot against the fake Slack and GitLab, on a pinned
 * clock.  Resolve closes the GitLab issue (label incident::resolved) with
 * the timeline as a note in people's names and stops the timers; reopen
 * undoes it; /sirt timeline uploads a file, or posts messages when Slack
 * refuses uploads; /sirt release is stored and noted; an S1 without one
 * gets a daily reminder and a confirmation before it is resolved. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_files.h"
#include "fakes/fake_gitlab.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define WED_1000 1795600800000LL        /* 2026-11-25T10:00:00Z, a Wednesday */
#define DAY_MS (24LL * 3600 * 1000)
#define RELEASE_URL "https://gitlab.example/security/release/-/issues/42"

static const struct report_fields s1_fields = {
    .title = "Token leak in job logs",
    .what = "CI job logs print the deploy token.",
    .severity = "1",
    .priority = "2",
    .component = "gitaly",
    .repro = "curl https://ci.example/job/1/log",
};

static const struct report_fields s2_fields = {
    .title = "Open redirect on sign-in",
    .what = "The return_to parameter is not checked.",
    .severity = "2",
    .priority = "3",
    .component = "gitaly",
    .repro = "GET /users/sign_in?return_to=https://evil.example",
};

/* Ok chat.postMessage calls (channel NULL = any) whose text holds part. */
static size_t posts(struct fx *fx, const char *channel, const char *part)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel, .text = part, .ok = FX_NO_ERROR });
}

static bool wait_posts(struct fx *fx, const char *channel, const char *part, size_t n, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .text = part, .ok = FX_NO_ERROR }, n, ms);
}

/* Response-URL posts whose text holds part. */
static size_t responses(struct fx *fx, const char *part)
{
    return fx_count(fx, &(struct fx_q){ .method = "response_url", .text = part });
}

/* A press of a button of an ephemeral message (which has a response_url). */
static void press(struct fx *fx, const char *user, const char *channel, const char *action_id, const char *value,
                  const char *ts)
{
    char path[64];
    snprintf(path, sizeof(path), "77/press%s", ts);
    struct fx_button b = { .user = user, .channel = channel, .action_id = action_id, .block_id = "resolve_confirm",
                           .value = value, .action_ts = ts, .response_path = path };
    ASSERT(fx_wait_ack(fx, fx_press(fx, &b), 5000));
}

static bool pred_response(struct fx *fx, void *ud)
{
    return responses(fx, ud) >= 1;
}

/* Reports an incident and waits for its channel, summary and GitLab issue;
 * returns the channel id. */
static const char *report(struct fx *fx, const struct report_fields *f)
{
    ASSERT(fx_wait_calls(fx, "auth.test", 1, 5000));
    fx_submit_report(fx, "V0CLOSE001", "U0REPORT1", f);
    ASSERT(fx_wait_calls(fx, "pins.add", 1, 15000));
    ASSERT(fx_wait_db_int(fx, "SELECT gitlab_issue_iid > 0 FROM incidents WHERE id = 1", 1, 15000));
    fx_run_for(fx, 300);
    const struct fake_channel *ch = fake_slack_channel(fx->slack, 0);
    ASSERT_NOT_NULL(ch);
    return ch->id;
}

static const cJSON *issue(struct fx *fx)
{
    const cJSON *i = fake_gitlab_issue(fx->gitlab, 0);
    ASSERT_NOT_NULL(i);
    return i;
}

static bool has_label(const cJSON *issue_json, const char *label)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(issue_json, "labels"))
        if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0)
            return true;
    return false;
}

static bool pred_issue_state(struct fx *fx, void *state)
{
    const char *s = util_jstr(fake_gitlab_issue(fx->gitlab, 0), "state");
    return s && strcmp(s, state) == 0;
}

#define PENDING_TIMERS "SELECT COUNT(*) FROM timers WHERE incident_id = 1 AND state = 0"
#define PENDING_REMINDER \
    "SELECT COUNT(*) FROM timers WHERE incident_id = 1 AND state = 0 AND kind = 'release_reminder'"

TEST_T(e2e_closeout_confirm_resolve_and_reopen, 90)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    fx_start(&fx, NULL);
    const char *ch = report(&fx, &s1_fields);
    /* An S1 without a long-term fix: its daily reminder is planned. */
    ASSERT_EQ(fx_db_int(&fx, PENDING_REMINDER), 1);

    /* Resolve asks first, with both buttons. */
    const cJSON *ack = fx_slash(&fx, "U0SIRT001", "C0PUBLIC1", "resolve SIRT-1", 5000);
    ASSERT_STR_EQ(util_jstr(ack, "text"), "Resolve SIRT-1 without a long-term fix recorded?");
    char *blocks = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ack, "blocks"));
    ASSERT_CONTAINS(blocks, "\"action_id\":\"resolve_anyway\"");
    ASSERT_CONTAINS(blocks, "\"action_id\":\"resolve_cancel\"");
    ASSERT_CONTAINS(blocks, "Resolve anyway");
    free(blocks);
    fx_run_for(&fx, 500);
    ASSERT_EQ(fx_db_int(&fx, "SELECT state = 'open' FROM incidents WHERE id = 1"), 1);

    /* Cancel: nothing resolved, the question replaced. */
    press(&fx, "U0SIRT001", "C0PUBLIC1", "resolve_cancel", "SIRT-1", "1795600900.000001");
    ASSERT(fx_wait(&fx, pred_response, (void *)"Cancelled: SIRT-1 stays open", 5000));
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(fake_slack_last_call(fx.slack, "response_url")->json,
                                                         "replace_original")));
    fx_run_for(&fx, 300);
    ASSERT_EQ(fx_db_int(&fx, "SELECT state = 'open' FROM incidents WHERE id = 1"), 1);

    /* Resolve anyway by someone not on the incident: re-checked, refused. */
    press(&fx, "U0OUTSID1", "C0PUBLIC1", "resolve_anyway", "SIRT-1", "1795600901.000001");
    ASSERT(fx_wait(&fx, pred_response, (void *)"only the SIRT team", 5000));
    ASSERT_EQ(fx_db_int(&fx, "SELECT state = 'open' FROM incidents WHERE id = 1"), 1);

    /* Resolve anyway: resolved, recorded, the issue closed with the timeline. */
    press(&fx, "U0SIRT001", "C0PUBLIC1", "resolve_anyway", "SIRT-1", "1795600902.000001");
    ASSERT(fx_wait_db_int(&fx, "SELECT state = 'resolved' FROM incidents WHERE id = 1", 1, 5000));
    ASSERT(fx_wait(&fx, pred_response, (void *)"without a long-term fix recorded.", 5000));
    ASSERT_EQ(fx_db_int(&fx, "SELECT COUNT(*) FROM timeline WHERE incident_id = 1 AND kind = 'resolved_without_release'"
                           " AND actor = 'U0SIRT001'"), 1);
    ASSERT(fx_wait(&fx, pred_issue_state, (void *)"closed", 10000));
    ASSERT(has_label(issue(&fx), "incident::resolved"));
    ASSERT(has_label(issue(&fx), "severity::1"));   /* the others stay */
    const struct fake_http_request *put = fake_gitlab_call(fx.gitlab, "PUT /projects/*/issues/1", 0);
    ASSERT_NOT_NULL(put);
    ASSERT_CONTAINS(put->body, "\"state_event\":\"close\"");
    ASSERT(fx_wait_gitlab_note(&fx, "SIRT-1 resolved", 10000));
    const char *note = fx_gitlab_note_with(&fx, "SIRT-1 resolved");
    ASSERT_CONTAINS(note, "by sirt1");                     /* names, not ids */
    ASSERT_CONTAINS(note, "## Timeline (UTC)");
    ASSERT_CONTAINS(note, "resolved_without_release");
    ASSERT_CONTAINS(note, "Reporter: reporter");
    ASSERT_NOT_CONTAINS(note, "Resolved: not yet");          /* the note shows the state it closes */
    /* What GitLab shows: everything before the hidden marker comment. */
    char *shown = xstrndup(note, strstr(note, "<!--") ? (size_t)(strstr(note, "<!--") - note) : strlen(note));
    ASSERT_NOT_CONTAINS(shown, "U0SIRT001");
    ASSERT_NOT_CONTAINS(shown, "{{user.");
    free(shown);
    ASSERT(wait_posts(&fx, ch, "<@U0SIRT001> resolved SIRT-1.", 1, 5000));
    ASSERT_EQ(posts(&fx, ch, "Its GitLab issue is being closed"), 1);
    /* Every reminder and follow-up timer stopped. */
    ASSERT_EQ(fx_db_int(&fx, PENDING_TIMERS), 0);

    /* Reopen: SIRT team only. */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0REPORT1", "C0PUBLIC1", "reopen SIRT-1"), "only the SIRT team can reopen");
    fx_run_for(&fx, 300);
    ASSERT_EQ(fx_db_int(&fx, "SELECT state = 'resolved' FROM incidents WHERE id = 1"), 1);
    ASSERT_STR_EQ(fx_slash_text(&fx, "U0SIRT002", "C0PUBLIC1", "reopen SIRT-1"), "Reopening SIRT-1…");
    ASSERT(fx_wait_db_int(&fx, "SELECT state = 'open' AND resolved_ms = 0 FROM incidents WHERE id = 1", 1, 5000));
    ASSERT(fx_wait(&fx, pred_issue_state, (void *)"opened", 10000));
    ASSERT(!has_label(issue(&fx), "incident::resolved"));
    ASSERT(has_label(issue(&fx), "severity::1"));
    ASSERT_EQ(fx_db_int(&fx, "SELECT COUNT(*) FROM timeline WHERE incident_id = 1 AND kind = 'reopened'"), 1);
    ASSERT(wait_posts(&fx, ch, "<@U0SIRT002> reopened SIRT-1.", 1, 5000));
    /* The timers are planned again (the daily reminder among them). */
    ASSERT_EQ(fx_db_int(&fx, PENDING_REMINDER), 1);
    ASSERT(fx_db_int(&fx, PENDING_TIMERS) >= 1);
    /* Reopening an open incident is refused. */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT002", "C0PUBLIC1", "reopen SIRT-1"), "is not resolved");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_closeout_release_and_daily_reminder, 90)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    fx_start(&fx, NULL);
    const char *ch = report(&fx, &s1_fields);
    const char *reminder = "has no long-term fix recorded yet";
    ASSERT_EQ(posts(&fx, NULL, reminder), 0);

    /* A day later: one reminder DM to the owner (or the reporter). */
    fx_set_clock(&fx, WED_1000 + DAY_MS + 60000);
    ASSERT(wait_posts(&fx, NULL, reminder, 1, 10000));
    fx_run_for(&fx, 500);
    ASSERT_EQ(posts(&fx, NULL, reminder), 1);
    const struct fake_call *dm = NULL;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx.slack, "chat.postMessage", i);
        if (strstr(util_jstr(c->json, "text") ? util_jstr(c->json, "text") : "", reminder))
            dm = c;
    }
    ASSERT_NOT_NULL(dm);
    ASSERT(util_jstr(dm->json, "channel")[0] == 'D');   /* a DM */
    ASSERT_CONTAINS(util_jstr(dm->json, "text"), "/sirt release SIRT-1 <URL>");
    ASSERT_EQ(fx_db_int(&fx, PENDING_REMINDER), 1);          /* and the next one planned */

    /* Bad arguments are refused. */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", ch, "release"), "Usage: `/sirt release SIRT-1 <URL>`");
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT001", ch, "release SIRT-1 not-a-url"), "Usage:");
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0OUTSID1", "C0PUBLIC1", "release SIRT-1 " RELEASE_URL), "Sorry, only");

    /* /sirt release: stored, on the timeline, posted, noted on the issue. */
    ASSERT_STR_EQ(fx_slash_text(&fx, "U0SIRT001", "C0PUBLIC1", "release SIRT-1 <" RELEASE_URL ">"),
                  "Recording the long-term fix of SIRT-1…");
    ASSERT(wait_posts(&fx, ch, "recorded the long-term fix of SIRT-1", 1, 5000));
    ASSERT_EQ(posts(&fx, ch, RELEASE_URL), 1);
    ASSERT_EQ(fx_db_int(&fx, "SELECT COUNT(*) FROM releases WHERE incident_id = 1 AND actor = 'U0SIRT001' AND url = '"
                           RELEASE_URL "'"), 1);
    ASSERT_EQ(fx_db_int(&fx, "SELECT COUNT(*) FROM timeline WHERE incident_id = 1 AND kind = 'release_recorded' AND "
                           "text = '" RELEASE_URL "'"), 1);
    ASSERT(fx_wait_gitlab_note(&fx, RELEASE_URL, 10000));
    ASSERT_CONTAINS(fx_gitlab_note_with(&fx, RELEASE_URL), "Recorded by sirt1.");
    ASSERT_EQ(fx_db_int(&fx, PENDING_REMINDER), 0);

    /* No reminder after it, days later. */
    fx_set_clock(&fx, WED_1000 + 3 * DAY_MS + 120000);
    fx_run_for(&fx, 1500);
    ASSERT_EQ(posts(&fx, NULL, reminder), 1);

    /* Resolving needs no confirmation now. */
    ASSERT_STR_EQ(fx_slash_text(&fx, "U0SIRT001", "C0PUBLIC1", "resolve SIRT-1"), "Resolving SIRT-1…");
    ASSERT(fx_wait_db_int(&fx, "SELECT state = 'resolved' FROM incidents WHERE id = 1", 1, 5000));
    ASSERT_EQ(fx_db_int(&fx, "SELECT COUNT(*) FROM timeline WHERE incident_id = 1 AND kind = 'resolved_without_release'"),
              0);
    ASSERT(fx_wait(&fx, pred_issue_state, (void *)"closed", 10000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_closeout_s2_resolves_at_once_and_timeline_file, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    fx_start(&fx, NULL);
    const char *ch = report(&fx, &s2_fields);
    ASSERT_EQ(fx_db_int(&fx, PENDING_REMINDER), 0);   /* not S1/P1: no reminder */
    ASSERT_STR_EQ(fx_slash_text(&fx, "U0SIRT001", "C0PUBLIC1", "resolve SIRT-1"), "Resolving SIRT-1…");
    ASSERT(fx_wait(&fx, pred_issue_state, (void *)"closed", 10000));
    ASSERT_EQ(fx_db_int(&fx, PENDING_TIMERS), 0);

    /* The timeline: a file in the channel, the bytes as announced, names. */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0SIRT002", "C0PUBLIC1", "timeline SIRT-1"), "Uploading the timeline of SIRT-1");
    ASSERT(fx_wait_calls(&fx, "files.completeUploadExternal", 1, 10000));
    const struct fake_call *u = fake_slack_call(fx.slack, "files.getUploadURLExternal", 0);
    ASSERT_STR_EQ(u->content_type, "application/x-www-form-urlencoded");
    ASSERT_STR_EQ(util_jstr(u->json, "filename"), "SIRT-1-timeline.md");
    const struct fake_file *f = fake_slack_file(fx.slack, 0);
    ASSERT_NOT_NULL(f);
    ASSERT(f->completed);
    ASSERT_EQ(f->content_len, f->length);
    ASSERT_STR_EQ(f->channel, ch);
    ASSERT_STR_EQ(f->title, "SIRT-1 timeline");
    ASSERT_CONTAINS(f->content, "# SIRT-1: Open redirect on sign-in");
    ASSERT_CONTAINS(f->content, "incident resolved by sirt1");
    ASSERT_CONTAINS(f->content, "Reporter: reporter");
    ASSERT_CONTAINS(f->content, "State: resolved");
    ASSERT_NOT_CONTAINS(f->content, "U0SIRT001");
    ASSERT_NOT_CONTAINS(f->content, "<@");
    ASSERT_EQ(fake_slack_call_count(fx.slack, "upload"), 1);
    ASSERT_EQ(posts(&fx, ch, "could not upload"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_closeout_timeline_falls_back_to_messages, 60)
{
    struct fx fx;
    fx_init_opts(&fx, FX_GITLAB);
    fx_set_clock(&fx, WED_1000);
    fx_start(&fx, NULL);
    const char *ch = report(&fx, &s2_fields);

    /* A token that may not upload: the timeline comes as messages, and says so. */
    fake_slack_fail(fx.slack, "files.getUploadURLExternal", 1, 200, "not_allowed_token_type", 0);
    fx_slash(&fx, "U0SIRT001", "C0PUBLIC1", "timeline SIRT-1", 5000);
    ASSERT(wait_posts(&fx, ch, "```\n# SIRT-1: Open redirect on sign-in", 1, 10000));
    ASSERT_EQ(posts(&fx, ch, "I could not upload the timeline of SIRT-1 as a file (Slack said "
                             "`not_allowed_token_type`)"), 1);
    const char *md = NULL;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, "chat.postMessage"); i++) {
        const char *t = util_jstr(fake_slack_call(fx.slack, "chat.postMessage", i)->json, "text");
        if (t && strstr(t, "```\n# SIRT-1"))
            md = t;
    }
    ASSERT_NOT_NULL(md);
    ASSERT_CONTAINS(md, "Reporter: reporter");
    ASSERT_NOT_CONTAINS(md, "U0REPORT1");
    ASSERT(strlen(md) <= 3000);
    ASSERT_EQ(fake_slack_file_count(fx.slack), 0);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "files.completeUploadExternal"), 0);

    /* The upload URL refusing the bytes (a failure, not a 5xx): messages too. */
    fake_slack_fail(fx.slack, "upload", 1, 403, NULL, 0);
    fx_slash(&fx, "U0SIRT001", "C0PUBLIC1", "timeline SIRT-1", 5000);
    ASSERT(wait_posts(&fx, ch, "```\n# SIRT-1: Open redirect on sign-in", 2, 10000));
    ASSERT_EQ(posts(&fx, ch, "as a file (Slack said `slack upload http_403"), 1);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "files.completeUploadExternal"), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
