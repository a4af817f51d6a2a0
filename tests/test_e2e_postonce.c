/* test_e2e_postonce: posts survive a SIGKILL exactly once.  The fake Slack
 * holds every chat.postMessage answer (the message is posted at once, only
 * the answer waits), the bot is killed while the pinned summary and the
 * reporter's DM are posted but unanswered, and restarted on the same
 * database: its maybe_sent retries must find their own messages by their
 * metadata and adopt them, so each message is there once and the summary
 * is pinned once. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"

static const struct report_fields s1 = {
    .title = "Deploy token printed in CI logs",
    .what = "The deploy token of gitaly is in a public job log.",
    .severity = "1",
    .priority = "1",
    .component = "gitaly",
    .repro = "open the job log",
    .link = "",
};

#define SUMMARY_PREFIX "SIRT-1: "
#define REPORTER_DM "D0REPORT1"

/* Messages (any channel, or channel) whose text starts with prefix. */
static size_t messages_with(struct fx *fx, const char *channel, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_message_count(fx->slack, channel); i++) {
        const struct fake_message *m = fake_slack_message(fx->slack, channel, i);
        n += !prefix || strncmp(m->text, prefix, strlen(prefix)) == 0;
    }
    return n;
}

static bool pred_summary_and_dm_posted(struct fx *fx, void *ud)
{
    (void)ud;
    return messages_with(fx, NULL, SUMMARY_PREFIX) >= 1 && messages_with(fx, REPORTER_DM, NULL) >= 1;
}

static size_t ok_pins(struct fx *fx)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "pins.add"); i++)
        n += fake_slack_call(fx->slack, "pins.add", i)->status == 200
             && !fake_slack_call(fx->slack, "pins.add", i)->error;
    return n;
}

static bool pred_settled(struct fx *fx, void *ud)
{
    (void)ud;
    return ok_pins(fx) >= 1 && fake_gitlab_note_count(fx->gitlab) >= 1
           && fake_pagerduty_incident_count(fx->pd) >= 1
           && messages_with(fx, "C0GITALY1", NULL) >= 1;
}

/* No two messages with the same channel, thread and text. */
static void assert_each_message_once(struct fx *fx)
{
    size_t n = fake_slack_message_count(fx->slack, NULL);
    for (size_t i = 0; i < n; i++) {
        const struct fake_message *a = fake_slack_message(fx->slack, NULL, i);
        for (size_t k = i + 1; k < n; k++) {
            const struct fake_message *b = fake_slack_message(fx->slack, NULL, k);
            if (strcmp(a->channel, b->channel) == 0 && strcmp(a->text, b->text) == 0
                && !!a->thread_ts == !!b->thread_ts && (!a->thread_ts || strcmp(a->thread_ts, b->thread_ts) == 0))
                TEST_FAIL("posted twice to %s: %.60s", a->channel, a->text);
        }
    }
}

TEST_T(e2e_post_once_summary_and_dm_killed_while_answers_held, 90)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    /* Every post is applied at once and answered 30 s later: longer than
     * the bot waits for the kill below. */
    fake_slack_delay(fx.slack, "chat.postMessage", 1000, 30000);
    fx_start(&fx, NULL);
    cJSON *p = report_submission_payload("V0ONCE0001", "U0REPORT1", &s1);
    const char *eid = fake_slack_send_interactive(fx.slack, p);
    cJSON_Delete(p);
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    ASSERT(fx_wait(&fx, pred_summary_and_dm_posted, NULL, 20000));
    ASSERT_EQ(ok_pins(&fx), 0);              /* the answer never reached the bot */
    fx_kill(&fx);
    fake_slack_delay_clear(fx.slack);

    fx_start(&fx, NULL);
    ASSERT(fx_wait(&fx, pred_settled, NULL, 30000));
    fx_run_for(&fx, 500);                     /* a second post would show up now */
    ASSERT_EQ(messages_with(&fx, NULL, SUMMARY_PREFIX), 1);
    ASSERT_EQ(messages_with(&fx, REPORTER_DM, NULL), 1);
    ASSERT_EQ(ok_pins(&fx), 1);
    ASSERT_EQ(fake_slack_pin_count(fx.slack), 1);
    const struct fake_message *sum = NULL;
    for (size_t i = 0; !sum && i < fake_slack_message_count(fx.slack, NULL); i++)
        if (str_starts(fake_slack_message(fx.slack, NULL, i)->text, SUMMARY_PREFIX))
            sum = fake_slack_message(fx.slack, NULL, i);
    ASSERT(fake_slack_is_pinned(fx.slack, sum->channel, sum->ts));
    assert_each_message_once(&fx);

    /* The metadata is opaque: no incident detail, the same shape on each post. */
    for (size_t i = 0; i < fake_slack_message_count(fx.slack, NULL); i++) {
        const struct fake_message *m = fake_slack_message(fx.slack, NULL, i);
        ASSERT_NOT_NULL(m->metadata);
        char *md = cJSON_PrintUnformatted(m->metadata);
        ASSERT(str_starts(md, "{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\""));
        ASSERT_EQ(strlen(md), strlen("{\"event_type\":\"sirt_outbox\",\"event_payload\":{\"job\":\"\"}}") + 32);
        ASSERT_NOT_CONTAINS(md, "SIRT");
        cJSON_free(md);
    }
    /* The retries read history narrowly: with metadata, a small page. */
    ASSERT(fake_slack_call_count(fx.slack, "conversations.history") >= 2);
    const struct fake_call *h = fake_slack_call(fx.slack, "conversations.history", 0);
    ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(h->json, "include_all_metadata")->valuestring, "true");
    ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(h->json, "limit")->valuestring, "15");
    ASSERT_NOT_NULL(cJSON_GetObjectItemCaseSensitive(h->json, "oldest"));
    ASSERT(fx_stderr_has(&fx, "found the message an earlier attempt posted"));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
