/* End-to-end tests of status, review and timeline: the real bot against the
 * fake Slack.  SIRT-1 is created by submitting the report form; then
 * outsiders and the SIRT team ask about it by mention and slash command in
 * public channels, DMs and the incident channel, and the test checks what
 * each reply holds (limited access) and where the review digest and the
 * timeline land.  The Monday timer runs on a pinned clock. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_files.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define MON_0900 1795424400000LL   /* 2026-11-23T09:00:00Z, a Monday; the harness config is UTC */
#define OUTSIDER "U0OUTSID1"
#define PUBLIC "C0PUBLIC1"

static size_t posts_to(struct fx *fx, const char *channel)
{
    return fx_count(fx, &(struct fx_q){ .channel = channel });
}

/* The text of the idx-th message posted to channel, NULL if none. */
static const char *post_text(struct fx *fx, const char *channel, size_t idx)
{
    const struct fake_call *c = fx_nth(fx, &(struct fx_q){ .channel = channel }, idx);
    return c ? util_jstr(c->json, "text") : NULL;
}

/* Reports SIRT-1 and waits until its channel holds the summary and the
 * "nobody was paged" warning (no PagerDuty here); returns the channel id. */
static const char *create_sirt1(struct fx *fx)
{
    ASSERT(fx_wait_calls(fx, "auth.test", 1, 5000));
    fx_submit_report(fx, "V0STATUS01", "U0REPORT1", &report_secret_s1);
    ASSERT(fx_wait_calls(fx, "pins.add", 1, 15000));
    const struct fake_channel *ch = fake_slack_channel(fx->slack, 0);
    ASSERT_NOT_NULL(ch);
    ASSERT(fx_wait_q(fx, &(struct fx_q){ .channel = ch->id }, 2, 10000));
    fx_run_for(fx, 300);
    return ch->id;
}

/* Mentions the bot and returns the text of its reply in that channel. */
static const char *mention(struct fx *fx, const char *user, const char *channel, const char *text, const char *event_id)
{
    size_t before = posts_to(fx, channel);
    fx_mention(fx, &(struct fx_mention_opts){ .user = user, .channel = channel, .text = text, .event_id = event_id,
                                              .ts = "1795424000.000100" });
    if (!fx_wait_q(fx, &(struct fx_q){ .channel = channel }, before + 1, 5000))
        TEST_FAIL("no reply to \"%s\" in %s", text, channel);
    return post_text(fx, channel, before);
}

/* Sends a slash command and returns the ack's ephemeral text ("" if none). */
static const char *slash(struct fx *fx, const char *user, const char *channel, const char *text)
{
    const cJSON *p = fx_slash(fx, user, channel, text, 5000);
    if (!p)
        return "";
    ASSERT_STR_EQ(util_jstr(p, "response_type"), "ephemeral");
    const char *t = util_jstr(p, "text");
    return t ? t : "";
}

static void assert_limited(const char *t, const char *chan_id)
{
    ASSERT_CONTAINS(t, "SIRT-1");
    ASSERT_CONTAINS(t, "exists (open)");
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT_NOT_CONTAINS(t, report_secret_words[i]);
    ASSERT_NOT_CONTAINS(t, "S1");
    ASSERT_NOT_CONTAINS(t, "gitaly");
    ASSERT_NOT_CONTAINS(t, "U0REPORT1");
    ASSERT_NOT_CONTAINS(t, chan_id);
}

static void assert_full(const char *t, const char *chan_id)
{
    ASSERT_CONTAINS(t, "SIRT-1: Cache poisoning in repository mirror");
    ASSERT_CONTAINS(t, "S1");
    ASSERT_CONTAINS(t, "P2");
    ASSERT_CONTAINS(t, "gitaly");
    ASSERT_CONTAINS(t, "<@U0REPORT1>");
    ASSERT_CONTAINS(t, chan_id);
    ASSERT_CONTAINS(t, "*Reported*");
    ASSERT_CONTAINS(t, "*Latest updates*");
}

TEST_T(e2e_status_limited_access, 60)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    const char *ch = create_sirt1(&fx);

    /* An outsider in a public channel: that it exists, nothing else. */
    const char *t = mention(&fx, OUTSIDER, PUBLIC, "status SIRT-1", "Ev0STATUS01");
    assert_limited(t, ch);
    ASSERT_CONTAINS(t, "<#C0SIRT0001>");

    /* The SIRT team, privately (slash: ephemeral ack): everything. */
    t = slash(&fx, "U0SIRT001", PUBLIC, "status SIRT-1");
    assert_full(t, ch);

    /* The SIRT team in a public channel: still the one line. */
    t = mention(&fx, "U0SIRT001", PUBLIC, "status SIRT-1", "Ev0STATUS02");
    assert_limited(t, ch);

    /* Inside the incident channel, the incident is implied: everything. */
    t = mention(&fx, "U0REPORT1", ch, "status", "Ev0STATUS03");
    assert_full(t, ch);

    /* An outsider's slash command is private but not allowed. */
    t = slash(&fx, OUTSIDER, PUBLIC, "status SIRT-1");
    assert_limited(t, ch);

    /* No id, outside an incident channel: the open incidents. */
    t = slash(&fx, "U0SIRT001", PUBLIC, "status");
    ASSERT_CONTAINS(t, "Open incidents");
    ASSERT_CONTAINS(t, "SIRT-1");
    ASSERT_CONTAINS(t, "Cache poisoning");
    t = mention(&fx, OUTSIDER, PUBLIC, "status", "Ev0STATUS04");
    ASSERT_CONTAINS(t, "SIRT-1 — open");
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT_NOT_CONTAINS(t, report_secret_words[i]);
    ASSERT_NOT_CONTAINS(t, "gitaly");

    /* Nothing about the incident in the log but its id. */
    for (size_t i = 0; i < ARRAY_LEN(report_secret_words); i++)
        ASSERT(!fx_stderr_has(&fx, report_secret_words[i]));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_status_review_and_timeline, 60)
{
    struct fx fx;
    fx_init(&fx);
    fx_start(&fx, NULL);
    const char *ch = create_sirt1(&fx);
    fake_slack_add_channel(fx.slack, "C0SIRT0001", "sirt", true);   /* private: details allowed */

    /* /sirt review: the digest in the SIRT channel. */
    const char *t = slash(&fx, "U0SIRT001", PUBLIC, "review");
    ASSERT_STR_EQ(t, "Posting the weekly review in <#C0SIRT0001>.");
    ASSERT(fx_wait_q(&fx, &(struct fx_q){ .channel = "C0SIRT0001" }, 1, 5000));
    const char *d = post_text(&fx, "C0SIRT0001", 0);
    ASSERT_CONTAINS(d, "Weekly SIRT review");
    ASSERT_CONTAINS(d, "SIRT-1");
    ASSERT_CONTAINS(d, "gitaly");
    ASSERT_CONTAINS(d, "*Blockers*");
    ASSERT_CONTAINS(d, "nobody was paged");

    /* An outsider's /sirt timeline is refused, and nothing is posted. */
    size_t before = posts_to(&fx, ch);
    t = slash(&fx, OUTSIDER, PUBLIC, "timeline SIRT-1");
    ASSERT_STR_EQ(t, "Only people on the incident or in the SIRT team can get its timeline.");

    /* The SIRT team's: a Markdown file uploaded to the incident channel. */
    t = slash(&fx, "U0SIRT001", PUBLIC, "timeline SIRT-1");
    ASSERT_CONTAINS(t, "Uploading the timeline of SIRT-1 to <#");
    ASSERT(fx_wait_calls(&fx, "files.completeUploadExternal", 1, 10000));
    fx_run_for(&fx, 500);
    ASSERT_EQ(posts_to(&fx, ch), before);
    ASSERT_EQ(fake_slack_file_count(fx.slack), 1);
    const struct fake_file *file = fake_slack_file(fx.slack, 0);
    ASSERT(file->completed);
    ASSERT_STR_EQ(file->channel, ch);
    const char *md = file->content;
    ASSERT(strncmp(md, "# SIRT-1: Cache poisoning in repository mirror\n", 47) == 0);
    ASSERT_CONTAINS(md, "## Timeline (UTC)");
    ASSERT_CONTAINS(md, "— reported: incident reported");
    ASSERT_CONTAINS(md, "slack.create_channel");
    ASSERT_CONTAINS(md, "- Slack channel: #sirt-1-cache-poisoning");
    ASSERT_CONTAINS(md, ch);
    ASSERT_CONTAINS(md, "Reporter: reporter");      /* a name, not U0REPORT1 */
    ASSERT_NOT_CONTAINS(md, "U0REPORT1");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_status_monday_review_timer, 60)
{
    struct fx fx;
    fx_init(&fx);
    /* Monday 08:50Z: ten minutes of room, so a slow run (valgrind) does not
     * reach the review before the test moves the clock. */
    fx_set_clock(&fx, MON_0900 - 600000);
    fx_start(&fx, NULL);
    create_sirt1(&fx);
    fake_slack_add_channel(fx.slack, "C0SIRT0001", "sirt", true);   /* private: details allowed */
    ASSERT_EQ(posts_to(&fx, "C0SIRT0001"), 0);

    fx_set_clock(&fx, MON_0900 + 5000);    /* 09:00:05: the review is due */
    ASSERT(fx_wait_q(&fx, &(struct fx_q){ .channel = "C0SIRT0001" }, 1, 10000));
    const char *d = post_text(&fx, "C0SIRT0001", 0);
    ASSERT_CONTAINS(d, "Weekly SIRT review");
    ASSERT_CONTAINS(d, "2026-11-23");
    ASSERT_CONTAINS(d, "SIRT-1");
    ASSERT_CONTAINS(d, "gitaly");
    fx_run_for(&fx, 500);
    ASSERT_EQ(posts_to(&fx, "C0SIRT0001"), 1);

    /* A restart at the same moment: the next review is next Monday, not now. */
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_set_clock(&fx, MON_0900 + 6000);
    fx_start(&fx, NULL);
    fx_run_for(&fx, 1500);
    ASSERT_EQ(posts_to(&fx, "C0SIRT0001"), 1);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
