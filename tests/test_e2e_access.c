/* End-to-end tests of limited access and Slack's limits (issue 7, points 6
 * and 7): the real bot against the fake Slack, which refuses blocks and
 * views as Slack does (and the harness fails any test it refused in).
 * - status asked in a public channel: the one-liner for all, the details
 *   privately (chat.postEphemeral) to SIRT and incident members only;
 * - the weekly digest in a public, a private and an unknown sirt_channel;
 * - a long report (texts full of & < >, multibyte) whose summary is
 *   accepted, pinned, keeps its buttons and says where the rest is. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/blockkit.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define OUTSIDER "U0OUTSID1"
#define PUBLIC "C0PUBLIC1"
#define SIRT_CH "C0SIRT0001"

static size_t count_to(struct fx *fx, const char *method, const char *channel, const char *user)
{
    return fx_count(fx, &(struct fx_q){ .method = method, .channel = channel, .user = user });
}

/* The idx-th call of method to channel (and user when given). */
static const cJSON *call_to(struct fx *fx, const char *method, const char *channel, const char *user, size_t idx)
{
    const struct fake_call *c = fx_nth(fx, &(struct fx_q){ .method = method, .channel = channel, .user = user }, idx);
    return c ? c->json : NULL;
}

static bool wait_count(struct fx *fx, const char *method, const char *channel, const char *user, size_t n, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .method = method, .channel = channel, .user = user }, n, ms);
}

/* Submits a report and waits for its pinned summary; returns the channel id. */
static const char *report(struct fx *fx, const struct report_fields *f, int n)
{
    size_t pins = fake_slack_pin_count(fx->slack);
    char view_id[32];
    snprintf(view_id, sizeof(view_id), "V0ACCESS%02d", n);
    const char *eid = fx_submit_report(fx, view_id, "U0REPORT1", f);
    const cJSON *ack = fake_slack_ack(fx->slack, eid)->json;
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(ack, "payload");
    if (pl && util_jstr(pl, "response_action"))
        TEST_FAIL("the report form was refused: %s", cJSON_PrintUnformatted(pl));
    ASSERT(fx_wait_calls(fx, "pins.add", pins + 1, 15000));
    const struct fake_channel *ch = fx_incident_channel(fx, n);
    ASSERT_NOT_NULL(ch);
    fx_run_for(fx, 300);
    return ch->id;
}

static void mention(struct fx *fx, const char *user, const char *channel, const char *text, const char *event_id)
{
    fx_mention(fx, &(struct fx_mention_opts){ .user = user, .channel = channel, .text = text, .event_id = event_id,
                                              .ts = "1795424000.000100" });
}

static void assert_limited(const char *t)
{
    ASSERT_CONTAINS(t, "SIRT-1 exists (open)");
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT_NOT_CONTAINS(t, report_secret_words[i]);
    ASSERT_NOT_CONTAINS(t, "gitaly");
    ASSERT_NOT_CONTAINS(t, "U0REPORT1");
}

TEST_T(e2e_access_status_details_privately_in_public, 60)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    const char *ch = report(&fx, &report_secret_s1, 1);

    /* A SIRT member in a public channel: the one-liner there ... */
    mention(&fx, "U0SIRT001", PUBLIC, "status SIRT-1", "Ev0ACCESS01");
    ASSERT(wait_count(&fx, "chat.postMessage", PUBLIC, NULL, 1, 5000));
    assert_limited(util_jstr(call_to(&fx, "chat.postMessage", PUBLIC, NULL, 0), "text"));
    /* ... and everything to them alone */
    ASSERT(wait_count(&fx, "chat.postEphemeral", PUBLIC, "U0SIRT001", 1, 5000));
    const char *e = util_jstr(call_to(&fx, "chat.postEphemeral", PUBLIC, "U0SIRT001", 0), "text");
    ASSERT_CONTAINS(e, "SIRT-1: Cache poisoning in repository mirror");
    ASSERT_CONTAINS(e, "gitaly");
    ASSERT_CONTAINS(e, "<@U0REPORT1>");
    ASSERT_CONTAINS(e, ch);
    ASSERT_CONTAINS(e, "*Latest updates*");

    /* The reporter (on the incident, not in the SIRT team): the same. */
    mention(&fx, "U0REPORT1", PUBLIC, "status SIRT-1", "Ev0ACCESS02");
    ASSERT(wait_count(&fx, "chat.postMessage", PUBLIC, NULL, 2, 5000));
    assert_limited(util_jstr(call_to(&fx, "chat.postMessage", PUBLIC, NULL, 1), "text"));
    ASSERT(wait_count(&fx, "chat.postEphemeral", PUBLIC, "U0REPORT1", 1, 5000));
    ASSERT_CONTAINS(util_jstr(call_to(&fx, "chat.postEphemeral", PUBLIC, "U0REPORT1", 0), "text"), "Cache poisoning");

    /* An outsider: the one-liner only, nothing private. */
    mention(&fx, OUTSIDER, PUBLIC, "status SIRT-1", "Ev0ACCESS03");
    ASSERT(wait_count(&fx, "chat.postMessage", PUBLIC, NULL, 3, 5000));
    assert_limited(util_jstr(call_to(&fx, "chat.postMessage", PUBLIC, NULL, 2), "text"));
    /* the list of open incidents: the SIRT member gets titles privately */
    mention(&fx, "U0SIRT001", PUBLIC, "status", "Ev0ACCESS04");
    ASSERT(wait_count(&fx, "chat.postEphemeral", PUBLIC, "U0SIRT001", 2, 5000));
    ASSERT_CONTAINS(util_jstr(call_to(&fx, "chat.postEphemeral", PUBLIC, "U0SIRT001", 1), "text"), "Cache poisoning");
    ASSERT(wait_count(&fx, "chat.postMessage", PUBLIC, NULL, 4, 5000));
    ASSERT_NOT_CONTAINS(util_jstr(call_to(&fx, "chat.postMessage", PUBLIC, NULL, 3), "text"), "Cache");
    fx_run_for(&fx, 800);
    ASSERT_EQ(count_to(&fx, "chat.postEphemeral", PUBLIC, OUTSIDER), 0);
    ASSERT_EQ(count_to(&fx, "chat.postEphemeral", PUBLIC, NULL), 3);
    /* Redelivery of the same event: no second private copy. */
    mention(&fx, "U0SIRT001", PUBLIC, "status SIRT-1", "Ev0ACCESS01");
    fx_run_for(&fx, 800);
    ASSERT_EQ(count_to(&fx, "chat.postEphemeral", PUBLIC, NULL), 3);

    /* In the incident's own channel the reply is already private: no copy. */
    mention(&fx, "U0REPORT1", ch, "status", "Ev0ACCESS05");
    fx_run_for(&fx, 800);
    ASSERT_EQ(count_to(&fx, "chat.postEphemeral", ch, NULL), 0);
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT(!fx_stderr_has(&fx, report_secret_words[i]));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* /sirt review by the SIRT team; returns the first digest text posted in
 * the SIRT channel. */
static const char *review(struct fx *fx, size_t nth)
{
    const char *eid = fake_slack_send_slash(fx->slack, "U0SIRT001", PUBLIC, "review");
    ASSERT(fx_wait(fx, fx_pred_acked, (void *)eid, 5000));
    ASSERT(wait_count(fx, "chat.postMessage", SIRT_CH, NULL, nth + 1, 10000));
    return util_jstr(call_to(fx, "chat.postMessage", SIRT_CH, NULL, nth), "text");
}

static void second_report(struct fx *fx)
{
    struct report_fields f2 = report_secret_s1;
    f2.title = "Token leak in build logs";
    f2.what = "CI prints the deploy token of another tenant.";
    f2.severity = "3";
    f2.priority = "3";
    report(fx, &f2, 2);
}

TEST_T(e2e_access_digest_public_channel, 60)
{
    struct fx fx;
    fx_init(&fx);
    fake_slack_add_channel(fx.slack, SIRT_CH, "sirt", false);   /* public */
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    report(&fx, &report_secret_s1, 1);
    second_report(&fx);
    /* Said at start. */
    ASSERT(fx_stderr_has(&fx, "sirt_channel is public: the weekly digest lists only ids, severities and states"));

    const char *d = review(&fx, 0);
    ASSERT_CONTAINS(d, "Weekly SIRT review");
    ASSERT_CONTAINS(d, "this channel is not private");
    ASSERT_CONTAINS(d, "SIRT-1 — S1 — open");
    ASSERT_CONTAINS(d, "SIRT-2 — S3 — open");
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT_NOT_CONTAINS(d, report_secret_words[i]);
    ASSERT_NOT_CONTAINS(d, "Token leak");
    ASSERT_NOT_CONTAINS(d, "gitaly");
    ASSERT_NOT_CONTAINS(d, "*Impact*");
    ASSERT_NOT_CONTAINS(d, "deploy token");
    /* asked right before posting, and the answer was public */
    const struct fake_call *ci = fake_slack_last_call(fx.slack, "conversations.info");
    ASSERT_NOT_NULL(ci);
    ASSERT_CONTAINS(ci->body, SIRT_CH);
    ASSERT(fake_slack_call_count(fx.slack, "conversations.info") >= 2);   /* at start and before the digest */
    fx_run_for(&fx, 800);
    ASSERT_EQ(count_to(&fx, "chat.postMessage", SIRT_CH, NULL), 1);
    ASSERT(fx_stderr_has(&fx, "posting the reduced text (no incident details)"));
    ASSERT(fx_stderr_has(&fx, "conversations.info: is_private false"));

    /* The channel is made private: the next digest carries the details. */
    fake_slack_add_channel(fx.slack, SIRT_CH, "sirt", true);
    d = review(&fx, 1);
    ASSERT_CONTAINS(d, "Cache poisoning in repository mirror");
    ASSERT_CONTAINS(d, "gitaly");
    ASSERT_CONTAINS(d, "*Impact*");
    ASSERT_CONTAINS(d, "Token leak in build logs");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_access_digest_private_and_unknown_channel, 60)
{
    struct fx fx;
    fx_init(&fx);
    fake_slack_add_channel(fx.slack, SIRT_CH, "sirt", true);    /* private */
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    report(&fx, &report_secret_s1, 1);
    ASSERT(fx_stderr_has(&fx, "sirt_channel is private: the weekly digest carries incident details"));
    const char *d = review(&fx, 0);
    ASSERT_CONTAINS(d, "SIRT-1 — Cache poisoning in repository mirror");
    ASSERT_CONTAINS(d, "*Impact*: Mirrored repositories serve another tenant's refs.");
    ASSERT_CONTAINS(d, "*Scope*: component gitaly, severity S1, priority P2");

    /* Privacy that cannot be established (a lasting error) is not private. */
    fake_slack_fail(fx.slack, "conversations.info", 1, 200, "missing_scope", 0);
    d = review(&fx, 1);
    ASSERT_CONTAINS(d, "SIRT-1 — S1 — open");
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT_NOT_CONTAINS(d, report_secret_words[i]);
    ASSERT(fx_stderr_has(&fx, "conversations.info failed: missing_scope"));

    /* Transient errors are retried; privacy established, the details go. */
    fake_slack_fail(fx.slack, "conversations.info", 2, 500, NULL, 0);
    d = review(&fx, 2);
    ASSERT_CONTAINS(d, "Cache poisoning in repository mirror");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* n characters: unit repeated (then cut to exactly n characters). */
static char *text_of(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    struct buf b;
    buf_init(&b, 0);
    while (blockkit_len(b.data ? b.data : "") < n)
        buf_append(&b, unit, u);
    char *s = buf_take(&b);
    while (blockkit_len(s) > n)
        s[strlen(s) - 1] = '\0';
    return s;
}

TEST_T(e2e_access_long_report_summary_accepted, 90)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    ASSERT(fx_wait_calls(&fx, "auth.test", 1, 5000));
    /* Each field at the form's limit, in characters Slack lets through, full
     * of what grows when escaped: 3,000 + 3,000 + 150 characters, about
     * 15,000 once escaped. */
    char *what = text_of("<b>&é ", 3000);
    char *repro = text_of("curl -H 'X: <&>' ", 3000);
    char *title = text_of("Title & <tags> é ", 150);
    struct report_fields f = report_secret_s1;
    f.what = what;
    f.repro = repro;
    f.title = title;
    const char *ch = report(&fx, &f, 1);

    /* The summary (the pinned message with the buttons) was accepted as is. */
    ASSERT_EQ(fake_slack_block_refusals(fx.slack), 0);
    const cJSON *summary = NULL;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx.slack, "chat.postMessage", i);
        const char *cch = util_jstr(c->json, "channel");
        if (cch && strcmp(cch, ch) == 0 && cJSON_GetObjectItemCaseSensitive(c->json, "blocks"))
            summary = c->json;
    }
    ASSERT_NOT_NULL(summary);
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(summary, "blocks");
    ASSERT_LE(cJSON_GetArraySize(blocks), BK_MSG_BLOCKS);
    bool marker = false, buttons = false;
    const cJSON *b;
    cJSON_ArrayForEach(b, blocks) {
        const char *type = util_jstr(b, "type");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
        const char *text = t ? util_jstr(t, "text") : NULL;
        if (strcmp(type, "section") == 0) {
            ASSERT_LE(blockkit_len(text), BK_SECTION_TEXT);
            marker = marker || strstr(text, BK_TRUNCATED_MARKER) != NULL;
            /* never half an entity */
            for (const char *p = strchr(text, '&'); p; p = strchr(p + 1, '&'))
                ASSERT(strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&lt;", 4) == 0 || strncmp(p, "&gt;", 4) == 0);
        } else if (strcmp(type, "header") == 0) {
            ASSERT_LE(blockkit_len(text), BK_HEADER_TEXT);
        } else if (strcmp(type, "actions") == 0) {
            buttons = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "elements")) == 6;   /* Page, Decision, Hand off, Add people, Change severity, Resolve */
        }
    }
    ASSERT(marker);
    ASSERT(buttons);
    ASSERT_EQ(fake_slack_pin_count(fx.slack), 1);

    /* A 3,000-character title cannot come from Slack's form (max_length
     * 150); forged, it is answered on the form, not stored or posted. */
    char *long_title = text_of("T&<> ", 3000);
    struct report_fields f3 = report_secret_s1;
    f3.title = long_title;
    cJSON *p = report_submission_payload("V0ACCESS03", "U0REPORT1", &f3);
    const char *eid3 = fake_slack_send_interactive(fx.slack, p);
    cJSON_Delete(p);
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid3, 5000));
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(fake_slack_ack(fx.slack, eid3)->json, "payload");
    ASSERT_STR_EQ(util_jstr(pl, "response_action"), "errors");
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(pl, "errors"), "title"), "under 150 characters");
    free(long_title);
    fx_run_for(&fx, 500);
    ASSERT_NULL(fx_incident_channel(&fx, 2));

    /* status of that incident, privately: one message within the limits */
    const char *eid = fake_slack_send_slash(fx.slack, "U0SIRT001", PUBLIC, "status SIRT-1");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    free(what);
    free(repro);
    free(title);
    fx_finish(&fx);   /* fails the test if the fake refused anything */
}
