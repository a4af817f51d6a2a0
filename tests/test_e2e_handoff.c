/* End-to-end tests of follow-the-sun handoffs with the bot's clock set by
 * the test (SIRT_CLOCK_FILE): the end-of-day prompt and a handoff across
 * zones, the handoff that happens by itself, the handoff to the secops
 * on-call when nobody is in working hours, "Keep it 1 h", and /sirt handoff.
 * An engineer who receives a handoff gets it as an offer to Accept
 * (test_e2e_handoff_accept.c follows what happens next).
 * The fake Slack answers conversations.open for U0XXXX with channel D0XXXX. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

/* Wednesday 2026-11-25 (CET = UTC+1, PST = UTC-8). */
#define WED_10_UTC 1795600800000LL   /* 2026-11-25T10:00:00Z */
#define MIN_MS 60000LL

/* LA works 08:00-16:00 here so that at Amsterdam's end of day (17:00 CET =
 * 16:00 UTC = 08:00 PST) the LA engineer is in hours: the next zone along
 * the sun. */
static const char cfg_along_the_sun[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\"],"
    "\"severity1_responders\":[\"U0SIRT001\"],\"directors\":[\"U0DIRSEC1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/Los_Angeles\",\"hours\":\"08:00-16:00\",\"gitlab\":\"alice\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\",\"channel\":\"C0GITALY1\"}],"
    "\"handoff\":{\"lead_minutes\":30},\"gitlab\":{\"namespace_id\":42}}";

/* The first message posted to channel that contains needle (its JSON), or NULL. */
static const struct fake_call *post_with(struct fx *fx, const char *channel, const char *needle)
{
    return fx_nth(fx, &(struct fx_q){ .channel = channel, .json = needle }, 0);
}

static bool wait_post(struct fx *fx, const char *channel, const char *needle, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .json = needle }, 1, ms);
}

static void report_by(struct fx *fx, const char *user)
{
    fx_submit_report(fx, "V0HANDOFF1", user, &report_session_s2);
    ASSERT(wait_post(fx, "D0APPSEC2", "SIRT-1", 10000) || fake_slack_channel_count(fx->slack) == 1);
    ASSERT(fx_wait_calls(fx, "pins.add", 1, 15000));
}

static void click(struct fx *fx, const char *user, const char *action_id, const char *value)
{
    const char *eid = fx_press(fx, &(struct fx_button){ .user = user, .channel = "D0APPSEC2", .action_id = action_id,
                                                        .block_id = "handoff_prompt", .value = value,
                                                        .action_ts = "1795619000.000100",
                                                        .trigger_id = "777.888.handoff" });
    ASSERT(fx_wait_ack(fx, eid, 5000));
}

static void start_at(struct fx *fx, int flags, const char *config, int64_t t)
{
    fx_init_opts(fx, flags);
    if (config)
        fx_write_config(fx, config);
    fx_set_clock(fx, t);
    fx_start(fx, NULL);
}

TEST_T(e2e_handoff_prompt_and_handoff_across_zones, 60)
{
    struct fx fx;
    start_at(&fx, FX_PAGERDUTY | FX_GITLAB, cfg_along_the_sun, WED_10_UTC);
    /* The Amsterdam engineer reports: they own it (appsec reporter). */
    report_by(&fx, "U0APPSEC2");
    ASSERT(fx_stderr_has(&fx, "handoff planned"));

    /* 15:30 UTC = 16:30 CET: 30 minutes before the end of their day. */
    fx_set_clock(&fx, WED_10_UTC + 5 * 60 * MIN_MS + 30 * MIN_MS + 5000);
    ASSERT(wait_post(&fx, "D0APPSEC2", "handoff_accept", 10000));
    const struct fake_call *prompt = post_with(&fx, "D0APPSEC2", "handoff_accept");
    char *s = cJSON_PrintUnformatted(prompt->json);
    ASSERT_CONTAINS(s, "1|U0APPSEC1");          /* next along the sun: LA */
    ASSERT_CONTAINS(s, "handoff_keep");
    ASSERT_CONTAINS(s, "users_select");
    ASSERT_CONTAINS(s, "17:00 (Europe/Amsterdam)");
    cJSON_free(s);

    /* The owner accepts. */
    click(&fx, "U0APPSEC2", "handoff_accept", "1|U0APPSEC1");
    ASSERT(wait_post(&fx, "D0APPSEC1", "SIRT-1 is handed to you", 10000));
    const struct fake_call *brief = post_with(&fx, "D0APPSEC1", "SIRT-1 is handed to you");
    const char *bt = util_jstr(brief->json, "text");
    ASSERT_CONTAINS(bt, "Reproduction steps");
    ASSERT_CONTAINS(bt, "Decisions so far");
    ASSERT_CONTAINS(bt, "Open next steps");
    ASSERT_CONTAINS(bt, "<#C");                   /* the channel link, filled at send time */
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    ASSERT(fx_wait(&fx, fx_pred_called, (void *)"conversations.invite", 5000));
    ASSERT(fx_wait_member(&fx, ch->id, "U0APPSEC1", 4000));
    ASSERT(wait_post(&fx, ch->id, "handed off from <@U0APPSEC2> to <@U0APPSEC1>", 10000));
    /* The GitLab issue hears of it once the receiver accepts
     * (test_e2e_handoff_accept.c). */
    /* No page: it stayed with appsec. */
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_handoff_happens_by_itself_without_an_answer, 60)
{
    struct fx fx;
    start_at(&fx, FX_GITLAB, cfg_along_the_sun, WED_10_UTC);
    report_by(&fx, "U0APPSEC2");
    fx_set_clock(&fx, WED_10_UTC + 5 * 60 * MIN_MS + 30 * MIN_MS + 5000);
    ASSERT(wait_post(&fx, "D0APPSEC2", "handoff_accept", 10000));
    /* Nobody answers; the day ends (16:00 UTC). */
    fx_set_clock(&fx, WED_10_UTC + 6 * 60 * MIN_MS + 5000);
    ASSERT(wait_post(&fx, "D0APPSEC1", "SIRT-1 is handed to you", 10000));
    ASSERT_CONTAINS(util_jstr(post_with(&fx, "D0APPSEC1", "SIRT-1 is handed to you")->json, "text"), "automatic");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_handoff_to_secops_oncall_when_nobody_in_hours, 60)
{
    struct fx fx;
    /* The harness's default config: LA works 09:00-17:00, so at 16:00 UTC
     * (08:00 PST) nobody is in hours: the secops on-call takes it, paged. */
    start_at(&fx, FX_PAGERDUTY | FX_GITLAB, NULL, WED_10_UTC);
    report_by(&fx, "U0APPSEC2");
    size_t pages_before = fake_pagerduty_event_count(fx.pd);
    fx_set_clock(&fx, WED_10_UTC + 5 * 60 * MIN_MS + 30 * MIN_MS + 5000);
    ASSERT(wait_post(&fx, "D0APPSEC2", "1|secops", 10000));
    fx_set_clock(&fx, WED_10_UTC + 6 * 60 * MIN_MS + 5000);
    /* PagerDuty schedule PSCHED1 -> secops@example.com -> Slack U0SECOPS1. */
    ASSERT(wait_post(&fx, "D0SECOPS1", "You now own SIRT-1", 15000));
    ASSERT(fx_wait_calls(&fx, "users.lookupByEmail", 1, 5000));
    ASSERT(fx_wait_n(&fx, fx_pd_events, pages_before + 1, 5000));
    const cJSON *ev = fake_pagerduty_last_event(fx.pd);
    ASSERT_STR_EQ(util_jstr(ev, "dedup_key"), "SIRT-1");
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    ASSERT(wait_post(&fx, ch->id, "secops on-call <@U0SECOPS1>", 10000));
    ASSERT(fx_wait_member(&fx, ch->id, "U0SECOPS1", 4000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_handoff_keep_it_one_hour_then_slash_handoff, 60)
{
    struct fx fx;
    start_at(&fx, FX_GITLAB, cfg_along_the_sun, WED_10_UTC);
    report_by(&fx, "U0APPSEC2");
    fx_set_clock(&fx, WED_10_UTC + 5 * 60 * MIN_MS + 30 * MIN_MS + 5000);
    ASSERT(wait_post(&fx, "D0APPSEC2", "handoff_accept", 10000));
    /* Someone not on the incident presses the prompt's button: refused, told why. */
    click(&fx, "U0OUTSIDE", "handoff_accept", "1|U0OUTSIDE");
    ASSERT(fx_wait_calls(&fx, "chat.postEphemeral", 1, 5000));
    const struct fake_call *e = fake_slack_last_call(fx.slack, "chat.postEphemeral");
    ASSERT_STR_EQ(util_jstr(e->json, "user"), "U0OUTSIDE");
    ASSERT_CONTAINS(util_jstr(e->json, "text"), "Only the SIRT team");
    click(&fx, "U0APPSEC2", "handoff_keep", "1");
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    ASSERT(wait_post(&fx, ch->id, "keeps SIRT-1 one more hour", 10000));
    /* The end of the day passes: kept, so no handoff yet. */
    fx_set_clock(&fx, WED_10_UTC + 6 * 60 * MIN_MS + 5000);
    fx_run_for(&fx, 1500);
    ASSERT(post_with(&fx, "D0APPSEC1", "SIRT-1 is handed to you") == NULL);
    /* /sirt handoff inside the incident channel: now, to the next engineer. */
    fx_slash(&fx, "U0APPSEC2", ch->id, "handoff", 5000);
    ASSERT(wait_post(&fx, "D0APPSEC1", "SIRT-1 is handed to you", 10000));
    /* And /sirt handoff SIRT-1 @user from anywhere, by someone on the incident. */
    fx_slash(&fx, "U0APPSEC1", "C0PUBLIC1", "handoff SIRT-1 <@U0SIRT001|sirt1>", 5000);
    ASSERT(wait_post(&fx, "D0SIRT001", "SIRT-1 is handed to you", 10000));
    /* An outsider cannot. */
    ASSERT_CONTAINS(fx_slash_text(&fx, "U0OUTSIDE", "C0PUBLIC1", "handoff SIRT-1 <@U0OUTSIDE>"), "Only the SIRT team");
    fx_run_for(&fx, 500);
    ASSERT(post_with(&fx, "D0OUTSIDE", "is handed to you") == NULL);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
