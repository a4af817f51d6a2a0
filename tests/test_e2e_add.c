/* End-to-end tests of people added as needed (issue 9, item 7): `/sirt add`
 * (channel invite, GitLab project member when the GitLab username is known,
 * DM with the context brief, member and timeline records), several at once
 * by `@sirt add` inside the incident channel, the summary's "Add people"
 * button and its modal, an outsider refused with nothing sent, someone
 * already on the incident, and bad input answered with the usage.  The real
 * bot against the fakes on a pinned clock; the fake Slack answers
 * conversations.open for U0XXXX with D0XXXX. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"
#include "../bot/util.h"

#define WED_10_UTC 1795600800000LL   /* Wednesday 2026-11-25T10:00:00Z: Amsterdam in hours */
#define OUTSIDER "U0OUTSIDE"

/* The default team config plus gitlab_users for a SIRT member who is not
 * in appsec. */
static const char cfg_add[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\",\"sirt_team\":[\"U0SIRT001\",\"U0SIRT002\"],"
    "\"severity1_responders\":[\"U0SIRT001\",\"U0SIRT002\"],\"directors\":[\"U0DIRSEC1\",\"U0DIRINF1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/Los_Angeles\",\"hours\":\"09:00-17:00\",\"gitlab\":\"alice\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"09:00-17:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\",\"channel\":\"C0GITALY1\"}],"
    "\"handoff\":{\"lead_minutes\":30},\"gitlab\":{\"namespace_id\":42},"
    "\"gitlab_users\":{\"U0SIRT002\":\"sirt-two\"}}";

#define GL_ALICE 201
#define GL_SIRT_TWO 210

static const struct report_fields fields = {
    .title = "Stored XSS in wiki",
    .what = "Script runs in the wiki page preview",
    .severity = "3",
    .priority = "3",
    .component = "gitaly",
    .repro = "POST /wikis/preview body=<script>",
};

static void start(struct fx *fx)
{
    fx_init_opts(fx, FX_GITLAB);
    fx_write_config(fx, cfg_add);
    fake_gitlab_add_user(fx->gitlab, GL_SIRT_TWO, "sirt-two");
    fx_set_clock(fx, WED_10_UTC);
    fx_start(fx, NULL);
    fx_send_acked(fx, report_submission_payload("V0ADD00001", "U0REPORT1", &fields), 15000);
    ASSERT(fx_wait_calls(fx, "pins.add", 1, 30000));
    for (int i = 0; i < 500 && fake_gitlab_project_count(fx->gitlab) < 1; i++)
        fx_run_for(fx, 20);
    ASSERT_EQ(fake_gitlab_project_count(fx->gitlab), 1);
}

static const struct fake_channel *incident_channel(struct fx *fx)
{
    const struct fake_channel *ch = fake_slack_channel(fx->slack, 0);
    ASSERT_NOT_NULL(ch);
    return ch;
}

/* A slash command; returns the ack's ephemeral text ("" if none). */
static const char *slash(struct fx *fx, const char *user, const char *channel, const char *text)
{
    const char *t = util_jstr(fx_slash(fx, user, channel, text, 15000), "text");
    return t ? t : "";
}

/* The first chat.postMessage to channel (NULL: any) containing needle (whole call JSON), or NULL. */
static const struct fake_call *post_with(struct fx *fx, const char *channel, const char *needle)
{
    return fx_nth(fx, &(struct fx_q){ .channel = channel, .json = needle }, 0);
}

static bool wait_post(struct fx *fx, const char *channel, const char *needle, int ms)
{
    return fx_wait_q(fx, &(struct fx_q){ .channel = channel, .json = needle }, 1, ms);
}

static bool wait_member(struct fx *fx, const char *user, int ms)
{
    return fx_wait_member(fx, incident_channel(fx)->id, user, ms);
}

/* user_id joins the incident's GitLab project as a Developer (30). */
static bool wait_gitlab_developer(struct fx *fx, int user_id, int ms)
{
    return fx_wait_gitlab_member(fx, user_id, ms) && fx_gitlab_access(fx, user_id) == 30;
}

static char *timeline_added(struct fx *fx)
{
    return fx_db_rows(fx, "SELECT actor, text FROM timeline WHERE incident_id = 1 AND kind = 'added' ORDER BY id", "-");
}

/* conversations.invite calls naming user (ok or not). */
static size_t invites_of(struct fx *fx, const char *user)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "conversations.invite"); i++) {
        const char *users = util_jstr(fake_slack_call(fx->slack, "conversations.invite", i)->json, "users");
        n += users && strstr(users, user) != NULL;
    }
    return n;
}

static void check_brief(struct fx *fx, const char *dm, const char *by)
{
    const struct fake_call *c = post_with(fx, dm, "You have been added to SIRT-1");
    ASSERT_NOT_NULL(c);
    const char *t = util_jstr(c->json, "text");
    ASSERT_CONTAINS(t, "Stored XSS in wiki");
    ASSERT_CONTAINS(t, by);
    ASSERT_CONTAINS(t, "Reproduction steps");
    ASSERT_CONTAINS(t, "POST /wikis/preview");
    ASSERT_CONTAINS(t, "Decisions so far");
    ASSERT_CONTAINS(t, "Open next steps");
    ASSERT_CONTAINS(t, "<#C");                 /* the channel link, filled at send time */
    ASSERT_NOT_CONTAINS(t, "hand off again");  /* that is for owners */
}

TEST_T(e2e_add_person_with_slash_add, 180)
{
    struct fx fx;
    start(&fx);
    const struct fake_channel *ch = incident_channel(&fx);
    ASSERT(!fake_slack_channel_has_member(ch, "U0APPSEC1"));

    /* The reporter (on the incident) adds alice from a public channel. */
    const char *t = slash(&fx, "U0REPORT1", "C0PUBLIC1", "add SIRT-1 <@U0APPSEC1|alice>");
    ASSERT_CONTAINS(t, "Adding <@U0APPSEC1> to SIRT-1");
    ASSERT(wait_member(&fx, "U0APPSEC1", 20000));
    ASSERT(wait_gitlab_developer(&fx, GL_ALICE, 20000));
    ASSERT(wait_post(&fx, "D0APPSEC1", "You have been added to SIRT-1", 20000));
    check_brief(&fx, "D0APPSEC1", "added by <@U0REPORT1>");
    ASSERT(wait_post(&fx, ch->id, "<@U0REPORT1> added <@U0APPSEC1> to SIRT-1", 20000));
    ASSERT_CONTAINS(util_jstr(post_with(&fx, ch->id, "added <@U0APPSEC1>")->json, "text"), "`alice`");

    char *tl = timeline_added(&fx);
    ASSERT_STR_EQ(tl, "U0REPORT1:U0APPSEC1|");
    free(tl);
    char *m = fx_db_rows(&fx, "SELECT user_id FROM incident_members WHERE incident_id = 1 AND role = 'added'", "-");
    ASSERT_STR_EQ(m, "U0APPSEC1|");
    free(m);
    /* Now a member: alice may see the incident's status. */
    t = slash(&fx, "U0APPSEC1", "C0PUBLIC1", "status SIRT-1");
    ASSERT_CONTAINS(t, "Stored XSS in wiki");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_add_several_at_once_in_the_incident_channel, 180)
{
    struct fx fx;
    start(&fx);
    const struct fake_channel *ch = incident_channel(&fx);
    fx_run_for(&fx, 500);   /* the report's own jobs settle */
    size_t members = fake_gitlab_member_count(fx.gitlab);
    /* A SIRT member, by mention inside the incident channel (incident
     * implied): a SIRT colleague with a gitlab_users name, a director
     * without one, and a repeat of the colleague. */
    fx_mention(&fx, &(struct fx_mention_opts){ .user = "U0SIRT001", .channel = ch->id,
                                              .text = "add <@U0SIRT002>, <@U0DIRSEC1> <@U0SIRT002>",
                                              .ts = "1795600900.000100" });

    ASSERT(wait_post(&fx, ch->id, "<@U0SIRT001> added <@U0SIRT002> and <@U0DIRSEC1> to SIRT-1", 20000));
    ASSERT(wait_member(&fx, "U0SIRT002", 20000));
    ASSERT(wait_member(&fx, "U0DIRSEC1", 20000));
    ASSERT(wait_post(&fx, "D0SIRT002", "You have been added to SIRT-1", 20000));
    ASSERT(wait_post(&fx, "D0DIRSEC1", "You have been added to SIRT-1", 20000));
    check_brief(&fx, "D0DIRSEC1", "added by <@U0SIRT001>");
    ASSERT(wait_gitlab_developer(&fx, GL_SIRT_TWO, 20000));
    /* The director has no GitLab username: only the colleague joined the project. */
    fx_run_for(&fx, 500);
    ASSERT_EQ(fake_gitlab_member_count(fx.gitlab), members + 1);
    const char *post = util_jstr(post_with(&fx, ch->id, "added <@U0SIRT002>")->json, "text");
    ASSERT_CONTAINS(post, "`sirt-two`");
    ASSERT_NOT_CONTAINS(post, "Already on it");
    /* Each briefed once, one timeline entry each. */
    ASSERT_EQ(fx_dm_count(&fx, "U0SIRT002", "You have been added"), 1);
    ASSERT_EQ(fx_dm_count(&fx, "U0DIRSEC1", "You have been added"), 1);
    char *tl = timeline_added(&fx);
    ASSERT_STR_EQ(tl, "U0SIRT001:U0SIRT002|U0SIRT001:U0DIRSEC1|");
    free(tl);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

/* A block_actions press of the summary's Add people button. */
static const char *press_add(struct fx *fx, const char *user, const char *channel, const char *value)
{
    const char *eid = fx_press(fx, &(struct fx_button){ .user = user, .channel = channel, .action_id = "sirt_add",
                                                        .block_id = "sirt_next_steps", .value = value,
                                                        .action_ts = "1795601000.000200",
                                                        .trigger_id = "4242.add.trigger" });
    ASSERT(fx_wait_ack(fx, eid, 15000));
    return eid;
}

/* The modal's submission with the chosen users; returns the ack payload. */
static const cJSON *submit_add(struct fx *fx, const char *user, const char *view_id, const char *meta,
                               const char *const *chosen)
{
    struct view_submission vs = { .user = user, .view_id = view_id, .callback_id = "sirt_add", .metadata = meta,
                                  .trigger_id = "4243.add.view" };
    cJSON *values;
    cJSON *p = view_submission_payload(&vs, &values);
    cJSON *sel = cJSON_AddObjectToObject(cJSON_AddObjectToObject(values, "people"), "users");
    cJSON_AddStringToObject(sel, "type", "multi_users_select");
    cJSON *arr = cJSON_AddArrayToObject(sel, "selected_users");
    for (size_t i = 0; chosen && chosen[i]; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(chosen[i]));
    return fx_ack_payload(fx, fx_send_acked(fx, p, 15000));
}

TEST_T(e2e_add_people_button_and_modal, 180)
{
    struct fx fx;
    start(&fx);
    const struct fake_channel *ch = incident_channel(&fx);
    /* The pinned summary carries the button. */
    const struct fake_call *summary = post_with(&fx, ch->id, "\"sirt_add\"");
    ASSERT_NOT_NULL(summary);
    char *ss = cJSON_PrintUnformatted(summary->json);
    ASSERT_CONTAINS(ss, "Add people");
    cJSON_free(ss);

    /* An outsider's press: refused, no form. */
    press_add(&fx, OUTSIDER, ch->id, "SIRT-1");
    ASSERT(fx_wait_calls(&fx, "chat.postEphemeral", 1, 5000));
    const struct fake_call *e = fake_slack_last_call(fx.slack, "chat.postEphemeral");
    ASSERT_STR_EQ(util_jstr(e->json, "user"), OUTSIDER);
    ASSERT_CONTAINS(util_jstr(e->json, "text"), "only the SIRT team and the people on SIRT-1 can add people");
    fx_run_for(&fx, 300);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "views.open"), 0);

    /* A SIRT member's press opens the form with a multi_users_select. */
    press_add(&fx, "U0SIRT001", ch->id, "SIRT-1");
    ASSERT(fx_wait_calls(&fx, "views.open", 1, 5000));
    const struct fake_call *vo = fake_slack_call(fx.slack, "views.open", 0);
    ASSERT_STR_EQ(util_jstr(vo->json, "trigger_id"), "4242.add.trigger");
    char *vs = cJSON_PrintUnformatted(vo->json);
    ASSERT_CONTAINS(vs, "multi_users_select");
    ASSERT_CONTAINS(vs, "sirt_add");
    cJSON_free(vs);
    ASSERT_EQ(fake_slack_block_refusals(fx.slack), 0);

    /* The form submitted by someone not on the incident (a forged or
     * passed-on form): refused on the form, nothing happens. */
    const char *const two[] = { "U0APPSEC1", "U0SECOPS1", NULL };
    const cJSON *ack = submit_add(&fx, OUTSIDER, "V0ADDOUT01", "{\"incident\":1}", two);
    ASSERT_STR_EQ(util_jstr(ack, "response_action"), "errors");
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(ack, "errors"), "people"), "only the SIRT team");
    /* Nobody chosen, and a form naming no incident: errors too. */
    ack = submit_add(&fx, "U0SIRT001", "V0ADDNONE1", "{\"incident\":1}", NULL);
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(ack, "errors"), "people"), "at least one person");
    ack = submit_add(&fx, "U0SIRT001", "V0ADDMETA1", "{\"incident\":\"1\"}", two);
    ASSERT_CONTAINS(util_jstr(cJSON_GetObjectItemCaseSensitive(ack, "errors"), "people"), "does not say which");
    fx_run_for(&fx, 500);
    ASSERT(post_with(&fx, NULL, "You have been added") == NULL);
    ASSERT_EQ(invites_of(&fx, "U0SECOPS1"), 0);

    /* The SIRT member's submission: both added. */
    ack = submit_add(&fx, "U0SIRT001", "V0ADDOK001", "{\"incident\":1}", two);
    ASSERT_NULL(util_jstr(ack, "response_action"));
    ASSERT(wait_post(&fx, ch->id, "<@U0SIRT001> added <@U0APPSEC1> and <@U0SECOPS1> to SIRT-1", 20000));
    ASSERT(wait_member(&fx, "U0APPSEC1", 20000));
    ASSERT(wait_member(&fx, "U0SECOPS1", 20000));
    ASSERT(wait_post(&fx, "D0APPSEC1", "You have been added to SIRT-1", 20000));
    ASSERT(wait_post(&fx, "D0SECOPS1", "You have been added to SIRT-1", 20000));
    check_brief(&fx, "D0SECOPS1", "added by <@U0SIRT001>");
    ASSERT(wait_gitlab_developer(&fx, GL_ALICE, 20000));
    char *tl = timeline_added(&fx);
    ASSERT_STR_EQ(tl, "U0SIRT001:U0APPSEC1|U0SIRT001:U0SECOPS1|");
    free(tl);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_add_outsider_refused_nothing_sent, 180)
{
    struct fx fx;
    start(&fx);
    fx_run_for(&fx, 1000);   /* the report's own jobs settle */
    size_t posts = fake_slack_call_count(fx.slack, "chat.postMessage");
    size_t invites = fake_slack_call_count(fx.slack, "conversations.invite");
    size_t members = fake_gitlab_member_count(fx.gitlab);

    const char *t = slash(&fx, OUTSIDER, "C0PUBLIC1", "add SIRT-1 <@U0OUTSIDE> <@U0APPSEC1|alice>");
    ASSERT_CONTAINS(t, "only the SIRT team and the people on SIRT-1 can add people");
    ASSERT_CONTAINS(t, "Nothing was changed");
    fx_run_for(&fx, 1500);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "chat.postMessage"), posts);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "conversations.invite"), invites);
    ASSERT_EQ(fake_gitlab_member_count(fx.gitlab), members);
    ASSERT(!fake_slack_channel_has_member(incident_channel(&fx), OUTSIDER));
    char *tl = timeline_added(&fx);
    ASSERT_STR_EQ(tl, "");
    free(tl);
    char *m = fx_db_rows(&fx, "SELECT user_id FROM incident_members WHERE incident_id = 1 AND user_id = 'U0OUTSIDE'", "-");
    ASSERT_STR_EQ(m, "");
    free(m);
    /* Still an outsider: not allowed to see it either. */
    t = slash(&fx, OUTSIDER, "C0PUBLIC1", "add SIRT-1 <@U0OUTSIDE>");
    ASSERT_CONTAINS(t, "only the SIRT team");
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}

TEST_T(e2e_add_someone_already_present_and_bad_input, 180)
{
    struct fx fx;
    start(&fx);
    const struct fake_channel *ch = incident_channel(&fx);
    const char *t = slash(&fx, "U0SIRT001", "C0PUBLIC1", "add SIRT-1 <@U0APPSEC1|alice>");
    ASSERT_CONTAINS(t, "Adding <@U0APPSEC1>");
    ASSERT(wait_post(&fx, "D0APPSEC1", "You have been added to SIRT-1", 20000));
    ASSERT(wait_post(&fx, ch->id, "added <@U0APPSEC1>", 20000));
    ASSERT(wait_member(&fx, "U0APPSEC1", 20000));
    size_t inv = invites_of(&fx, "U0APPSEC1");

    /* Again, with someone new (the EM is on it from the report; the
     * reporter too): only the new one is added. */
    t = slash(&fx, "U0SIRT001", "C0PUBLIC1", "add SIRT-1 <@U0APPSEC1|alice> <@U0REPORT1> <@U0SIRT002>");
    ASSERT_CONTAINS(t, "Adding <@U0SIRT002> to SIRT-1");
    ASSERT_CONTAINS(t, "<@U0APPSEC1> and <@U0REPORT1> are already on SIRT-1");
    ASSERT(wait_post(&fx, ch->id, "Already on it: <@U0APPSEC1> and <@U0REPORT1>", 20000));
    ASSERT(wait_post(&fx, "D0SIRT002", "You have been added to SIRT-1", 20000));
    /* Only those already there, inside the channel by slash: said so, invited
     * again (in case they left), not briefed twice, no new timeline entry. */
    t = slash(&fx, "U0SIRT001", ch->id, "add <@U0APPSEC1>");
    ASSERT_CONTAINS(t, "<@U0APPSEC1> is already on SIRT-1: nothing new to do");
    for (int i = 0; i < 250 && invites_of(&fx, "U0APPSEC1") < inv + 2; i++)
        fx_run_for(&fx, 20);
    ASSERT_EQ(invites_of(&fx, "U0APPSEC1"), inv + 2);
    fx_run_for(&fx, 500);
    ASSERT_EQ(fx_dm_count(&fx, "U0APPSEC1", "You have been added"), 1);
    ASSERT_EQ(fx_dm_count(&fx, "U0SIRT002", "You have been added"), 1);
    char *tl = timeline_added(&fx);
    ASSERT_STR_EQ(tl, "U0SIRT001:U0APPSEC1|U0SIRT001:U0SIRT002|");
    free(tl);
    /* The modal path for someone already there: the submitter hears it by DM. */
    const char *const one[] = { "U0APPSEC1", NULL };
    const cJSON *ack = submit_add(&fx, "U0SIRT001", "V0ADDAGAIN", "{\"incident\":1}", one);
    ASSERT_NULL(util_jstr(ack, "response_action"));
    ASSERT(wait_post(&fx, "D0SIRT001", "<@U0APPSEC1> is already on SIRT-1", 20000));
    ASSERT_EQ(fx_dm_count(&fx, "U0APPSEC1", "You have been added"), 1);

    /* Bad input: the usage. */
    t = slash(&fx, "U0SIRT001", "C0PUBLIC1", "add SIRT-1");
    ASSERT_CONTAINS(t, "Whom should I add to SIRT-1?");
    ASSERT_CONTAINS(t, "Usage: `add [SIRT-n] @user");
    t = slash(&fx, "U0SIRT001", "C0PUBLIC1", "add SIRT-99 <@U0APPSEC2>");
    ASSERT_CONTAINS(t, "There is no incident SIRT-99");
    ASSERT_CONTAINS(t, "Usage:");
    t = slash(&fx, "U0SIRT001", "C0PUBLIC1", "add <@U0APPSEC2>");
    ASSERT_CONTAINS(t, "Which incident?");
    ASSERT_CONTAINS(t, "Usage:");
    t = slash(&fx, "U0SIRT001", "C0PUBLIC1", "add SIRT-1 bob");
    ASSERT_CONTAINS(t, "I cannot tell who that is");
    fx_run_for(&fx, 500);
    ASSERT(post_with(&fx, "D0APPSEC2", "You have been added") == NULL);
    ASSERT(post_with(&fx, NULL, "added <@U0APPSEC2>") == NULL);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
