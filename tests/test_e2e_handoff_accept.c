/* End-to-end tests of handoffs that wait for Accept, on the settable clock:
 * an accepted handoff (owner set, "handoff pending" gone; someone else's
 * Accept refused), one nobody accepts (next candidate along the sun, then
 * the secops on-call, paged; a stale Accept refused), the hand-back from
 * the secops on-call at the start of the next appsec day across the end of
 * DST in Europe/Amsterdam, and a Slack profile zone read again after a day.
 * The fake Slack answers conversations.open for U0XXXX with D0XXXX. */
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

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
/* Wednesday 2026-11-25 10:00 UTC (CET = UTC+1, PST = UTC-8, EST = UTC-5). */
#define WED_10_UTC 1795600800000LL
/* Friday 2026-10-23 22:00 UTC; DST ends in Europe on Sunday 2026-10-25. */
#define FRI_22_UTC 1792792800000LL
/* Monday 2026-10-26 08:00 UTC = 09:00 CET (it would be 07:00 UTC in CEST). */
#define MON_08_UTC 1793001600000LL
/* Tuesday 2026-11-24 00:30 UTC. */
#define TUE_0030_UTC 1795480200000LL

/* Amsterdam owns; LA (08:00-16:00) and New York (09:00-17:00) are the next
 * zones along the sun at the end of Amsterdam's day (16:00 UTC): LA's day
 * ends later (00:00 UTC) than New York's (22:00 UTC), so LA comes first. */
static const char cfg_three[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\"],"
    "\"severity1_responders\":[\"U0SIRT001\"],\"directors\":[\"U0DIRSEC1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/Los_Angeles\",\"hours\":\"08:00-16:00\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"},"
    "{\"user\":\"U0APPSEC3\",\"tz\":\"America/New_York\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\",\"channel\":\"C0GITALY1\"}],"
    "\"handoff\":{\"lead_minutes\":30,\"accept_minutes\":30},\"gitlab\":{\"namespace_id\":42}}";

/* Amsterdam and New York (no DST change in the US until 2026-11-01). */
static const char cfg_dst[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/New_York\",\"hours\":\"09:00-17:00\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"handoff\":{\"accept_minutes\":20}}";

/* U0APPSEC1 has no "tz": the zone comes from their Slack profile. */
static const char cfg_profile[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"hours\":\"09:00-17:00\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"}}";

/* The last message posted to channel that contains needle (its JSON), or NULL. */
static const struct fake_call *post_with(struct fx *fx, const char *channel, const char *needle)
{
    return fx_last(fx, &(struct fx_q){ .channel = channel, .json = needle });
}

static bool wait_post(struct fx *fx, const char *channel, const char *needle, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .json = needle }, 1, ms);
}

/* The value of the newest Accept button sent to dm (copied into out). */
static bool accept_value(struct fx *fx, const char *dm, char *out, size_t size)
{
    const struct fake_call *c = post_with(fx, dm, "handoff_take");
    if (!c)
        return false;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(c->json, "blocks")) {
        const cJSON *el;
        cJSON_ArrayForEach(el, cJSON_GetObjectItemCaseSensitive(b, "elements")) {
            const char *id = util_jstr(el, "action_id");
            if (id && strcmp(id, "handoff_take") == 0 && util_jstr(el, "value")) {
                str_lcpy(out, util_jstr(el, "value"), size);
                return true;
            }
        }
    }
    return false;
}

static void click(struct fx *fx, const char *user, const char *dm, const char *value)
{
    char ts[40];
    snprintf(ts, sizeof(ts), "1795619000.%06u", (unsigned)(fake_slack_call_count(fx->slack, NULL) % 1000000));
    const char *eid = fx_press(fx, &(struct fx_button){ .user = user, .channel = dm, .action_id = "handoff_take",
                                                        .block_id = "handoff_offer", .value = value, .action_ts = ts,
                                                        .trigger_id = "777.888.accept" });
    ASSERT(fx_wait_ack(fx, eid, 5000));
}

/* An ephemeral to user containing needle, waited for. */
static bool wait_ephemeral(struct fx *fx, const char *user, const char *needle)
{
    return fx_wait_q(fx, &(struct fx_q){ .method = "chat.postEphemeral", .user = user, .text = needle }, 1, 10000);
}

/* /sirt status SIRT-1 by user: the ack's text (borrowed from the fake). */
static const char *status_text(struct fx *fx, const char *user)
{
    return fx_slash_text(fx, user, "C0PUBLIC1", "status SIRT-1");
}

static void start_at(struct fx *fx, const char *config, int64_t t)
{
    fx_init_opts(fx, FX_PAGERDUTY | FX_GITLAB);
    fx_write_config(fx, config);
    fx_set_clock(fx, t);
    fx_start(fx, NULL);
}

static const struct fake_channel *report_by(struct fx *fx, const char *user)
{
    fx_submit_report(fx, "V0ACCEPT01", user, &report_session_s2);
    ASSERT(fx_wait_calls(fx, "pins.add", 1, 15000));
    return fake_slack_channel(fx->slack, 0);
}

/* cfg_three: Amsterdam reports; at 16:00 UTC Amsterdam's day ends without
 * an answer to the prompt and LA is offered SIRT-1.  Its channel. */
static const struct fake_channel *handed_to_la(struct fx *fx)
{
    start_at(fx, cfg_three, WED_10_UTC);
    fake_slack_add_user(fx->slack, "U0APPSEC3", "carol", "carol@example.com", "America/New_York");
    const struct fake_channel *ch = report_by(fx, "U0APPSEC2");
    fx_set_clock(fx, WED_10_UTC + 6 * HOUR_MS + 5000);
    ASSERT(wait_post(fx, "D0APPSEC1", "SIRT-1 is handed to you", 15000));
    return ch;
}

TEST_T(e2e_handoff_accepted_sets_the_owner, 60)
{
    struct fx fx;
    const struct fake_channel *ch = handed_to_la(&fx);
    ASSERT(wait_post(&fx, ch->id, "Handoff pending until they accept", 10000));
    char val[96];
    ASSERT(accept_value(&fx, "D0APPSEC1", val, sizeof(val)));
    const char *st = status_text(&fx, "U0SIRT001");
    ASSERT_CONTAINS(st, "*Owner* <@U0APPSEC2>");
    ASSERT_CONTAINS(st, "*Handoff pending* to <@U0APPSEC1>");
    ASSERT_CONTAINS(st, "Accept by 16:30 UTC");
    /* Someone else on the incident presses it: refused, nothing changes. */
    click(&fx, "U0APPSEC2", "D0APPSEC1", val);
    ASSERT(wait_ephemeral(&fx, "U0APPSEC2", "Only the engineer this handoff was offered to"));
    ASSERT_CONTAINS(status_text(&fx, "U0SIRT001"), "*Handoff pending* to <@U0APPSEC1>");
    /* The receiver accepts. */
    click(&fx, "U0APPSEC1", "D0APPSEC1", val);
    ASSERT(wait_post(&fx, ch->id, "<@U0APPSEC1> accepted the handoff of SIRT-1", 10000));
    st = status_text(&fx, "U0SIRT001");
    ASSERT_CONTAINS(st, "*Owner* <@U0APPSEC1>");
    ASSERT(strstr(st, "Handoff pending") == NULL);
    ASSERT_CONTAINS(st, "handoff_accepted");
    ASSERT(fx_wait_gitlab_note(&fx, "Handed off to the next appsec owner", 5000));
    /* A second press of the same button: the offer is gone. */
    click(&fx, "U0APPSEC1", "D0APPSEC1", val);
    ASSERT(wait_ephemeral(&fx, "U0APPSEC1", "no longer waiting"));
    /* Past the deadline nothing moves: the offer was accepted. */
    fx_set_clock(&fx, WED_10_UTC + 7 * HOUR_MS);
    fx_run_for(&fx, 1500);
    ASSERT(post_with(&fx, "D0APPSEC3", "is handed to you") == NULL);
    ASSERT(post_with(&fx, ch->id, "did not accept") == NULL);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), 0);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_handoff_unaccepted_goes_along_the_sun_then_to_secops, 90)
{
    struct fx fx;
    const struct fake_channel *ch = handed_to_la(&fx);
    char la[96];
    ASSERT(accept_value(&fx, "D0APPSEC1", la, sizeof(la)));
    /* 29 minutes later: still pending with LA. */
    fx_set_clock(&fx, WED_10_UTC + 6 * HOUR_MS + 29 * MIN_MS);
    fx_run_for(&fx, 1000);
    ASSERT(post_with(&fx, "D0APPSEC3", "is handed to you") == NULL);
    /* 30 minutes: New York, the next along the sun. */
    fx_set_clock(&fx, WED_10_UTC + 6 * HOUR_MS + 30 * MIN_MS + 10000);
    ASSERT(wait_post(&fx, ch->id, "<@U0APPSEC1> did not accept SIRT-1 within 30 minutes", 15000));
    ASSERT(wait_post(&fx, "D0APPSEC3", "SIRT-1 is handed to you", 10000));
    ASSERT_CONTAINS(status_text(&fx, "U0SIRT001"), "*Handoff pending* to <@U0APPSEC3>");
    /* LA's Accept, now stale, is refused. */
    click(&fx, "U0APPSEC1", "D0APPSEC1", la);
    ASSERT(wait_ephemeral(&fx, "U0APPSEC1", "no longer waiting"));
    ASSERT_CONTAINS(status_text(&fx, "U0SIRT001"), "*Owner* <@U0APPSEC2>");
    /* Nobody else in hours: the secops on-call, paged. */
    size_t pages = fake_pagerduty_event_count(fx.pd);
    fx_set_clock(&fx, WED_10_UTC + 7 * HOUR_MS + 20000);
    ASSERT(wait_post(&fx, ch->id, "<@U0APPSEC3> did not accept SIRT-1", 15000));
    ASSERT(wait_post(&fx, "D0SECOPS1", "You now own SIRT-1", 15000));
    fx_wait_n(&fx, fx_pd_events, pages + 1, 5000);
    ASSERT_EQ(fake_pagerduty_event_count(fx.pd), pages + 1);
    ASSERT_STR_EQ(util_jstr(fake_pagerduty_last_event(fx.pd), "event_action"), "trigger");
    ASSERT(wait_post(&fx, ch->id, "secops on-call <@U0SECOPS1>", 10000));
    const char *st = status_text(&fx, "U0SIRT001");
    ASSERT_CONTAINS(st, "*Owner* <@U0SECOPS1>");
    ASSERT(strstr(st, "Handoff pending") == NULL);
    /* The hand-back waits for Amsterdam's Thursday, 08:00 UTC. */
    ASSERT(fx_wait_stderr(&fx, "\"due\":\"2026-11-26T08:00:00.000Z\"", 5000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_handoff_secops_hands_back_across_dst_change, 90)
{
    struct fx fx;
    start_at(&fx, cfg_dst, FRI_22_UTC);
    /* Friday night: nobody in hours, the secops on-call owns it. */
    const struct fake_channel *ch = report_by(&fx, "U0SIRT001");
    ASSERT(fx_wait_stderr(&fx, "\"due\":\"2026-10-26T08:00:00.000Z\"", 10000));
    for (int i = 0; i < 250 && !strstr(status_text(&fx, "U0SIRT001"), "*Owner* <@U0SECOPS1>"); i++)
        fx_run_for(&fx, 40);
    ASSERT_CONTAINS(status_text(&fx, "U0SIRT001"), "*Owner* <@U0SECOPS1>");
    /* 07:59 UTC Monday (08:59 CET; in summer time it would be 09:59). */
    fx_set_clock(&fx, MON_08_UTC - MIN_MS);
    fx_run_for(&fx, 1500);
    ASSERT(post_with(&fx, "D0APPSEC2", "handoff_take") == NULL);
    /* 08:00 UTC = 09:00 CET: Amsterdam's day starts (New York's at 13:00 UTC). */
    fx_set_clock(&fx, MON_08_UTC + 2000);
    ASSERT(wait_post(&fx, "D0APPSEC2", "handoff_take", 15000));
    ASSERT(post_with(&fx, "D0APPSEC1", "handoff_take") == NULL);
    ASSERT(wait_post(&fx, ch->id, "offered back to appsec", 10000));
    ASSERT_CONTAINS(status_text(&fx, "U0SIRT001"), "*Handoff pending* to <@U0APPSEC2> (Accept by 08:20 UTC)");
    char val[96];
    ASSERT(accept_value(&fx, "D0APPSEC2", val, sizeof(val)));
    click(&fx, "U0APPSEC2", "D0APPSEC2", val);
    ASSERT(wait_post(&fx, ch->id, "handed back from <@U0SECOPS1> to appsec", 10000));
    const char *st = status_text(&fx, "U0SIRT001");
    ASSERT_CONTAINS(st, "*Owner* <@U0APPSEC2>");
    ASSERT_CONTAINS(st, "handed_back");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_handoff_profile_zone_read_again_after_a_day, 60)
{
    struct fx fx;
    start_at(&fx, cfg_profile, TUE_0030_UTC);
    ASSERT(fx_wait_stderr(&fx, "\"tz\":\"America/Los_Angeles\"", 10000));
    size_t lookups = fake_slack_call_count(fx.slack, "users.info");
    /* Alice flies to Tokyo; Slack follows her device. */
    fake_slack_add_user(fx.slack, "U0APPSEC1", "alice", "alice@example.com", "Asia/Tokyo");
    fx_set_clock(&fx, TUE_0030_UTC + HOUR_MS);
    fx_run_for(&fx, 1500);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "users.info"), lookups);
    /* A day later (Wednesday 01:00 UTC = 10:00 in Tokyo, 17:00 in LA). */
    fx_set_clock(&fx, TUE_0030_UTC + 24 * HOUR_MS + 30 * MIN_MS);
    ASSERT(fx_wait_stderr(&fx, "\"tz\":\"Asia/Tokyo\"", 10000));
    ASSERT_GE(fake_slack_call_count(fx.slack, "users.info"), lookups + 1);
    /* A report now finds her in working hours, in her new zone. */
    report_by(&fx, "U0SIRT001");
    ASSERT(wait_post(&fx, "D0APPSEC1", "You own security incident SIRT-1", 10000));
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
