/* drill: see drill.h.  Owns the fixture (fx: the loop, the fakes, the bot
 * process and its temp dir) for the length of drill_run and releases it on
 * every path.  Each step does what a person would (a slash command, a
 * button, a form, or nothing but time passing), waits until the bot's
 * effects have reached the fakes and gone quiet, and hands the new records
 * to the transcript. */
#include "drill.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/util.h"
#include "../bot/workhours.h"
#include "../tests/harness.h"
#include "../tests/report_payloads.h"
#include "transcript.h"

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
/* Wednesday 2026-11-25 10:05 UTC (11:05 in Amsterdam, 02:05 in Los Angeles). */
#define WED_1005_UTC 1795601100000LL
#define AT(h, m) (WED_1005_UTC - 10 * HOUR_MS - 5 * MIN_MS + (h) * HOUR_MS + (m) * MIN_MS)
/* Monday 2026-11-30 09:00 UTC: the weekly review. */
#define MON_0900_UTC 1796029200000LL

enum {
    REPORTER, BRAM, ALICE, SASHA, TOM, SID, ERIN, PRIYA, DANA, OMAR
};

static const struct tr_person cast[] = {
    [REPORTER] = { "U0REPORT1", "Rachel Reyes", "support engineer, reporter", "Europe/London", 0, NULL },
    [BRAM] = { "U0APPSEC2", "Bram de Vries", "appsec engineer", "Europe/Amsterdam", 204, "bdevries" },
    [ALICE] = { "U0APPSEC1", "Alice Chen", "appsec engineer", "America/Los_Angeles", 201, "achen" },
    [SASHA] = { "U0SIRT001", "Sasha Ivanova", "SIRT, S1 responder", "America/New_York", 205, "sivanova" },
    [TOM] = { "U0SIRT002", "Tom Okafor", "SIRT, S1 responder", "Europe/London", 0, NULL },
    [SID] = { "U0SECOPS1", "Sid Patel", "security on-call", "America/New_York", 206, "spatel" },
    [ERIN] = { "U0EM00001", "Erin Walsh", "EM of gitaly", "Europe/Dublin", 202, "ewalsh" },
    [PRIYA] = { "U0PM00001", "Priya Nair", "PM of gitaly", "Asia/Kolkata", 203, "pnair" },
    [DANA] = { "U0DIRSEC1", "Dana Kim", "Director of Security", "America/New_York", 0, NULL },
    [OMAR] = { "U0DIRINF1", "Omar Haddad", "Director of Infrastructure", "Europe/Berlin", 0, NULL },
};

static const struct tr_channel places[] = {
    { "C0SIRT0001", "sirt", "the SIRT channel, private" },
    { "C0GITALY1", "gitaly", "gitaly's component channel" },
    { "C0SUPPORT1", "support", "public" },
};

/* The team config: Bram (Amsterdam) and Alice (Los Angeles) own incidents
 * along the sun; the end of Bram's day hands over to Alice. */
static const char config[] =
    FX_CONFIG_HEAD
    "    {\"user\": \"U0APPSEC2\", \"tz\": \"Europe/Amsterdam\", \"hours\": \"09:00-17:00\", \"gitlab\": \"bdevries\"},\n"
    "    {\"user\": \"U0APPSEC1\", \"tz\": \"America/Los_Angeles\", \"hours\": \"08:00-16:00\", \"gitlab\": \"achen\"}\n"
    "  ],\n"
    "  \"secops_oncall\": {\"pagerduty_schedule\": \"PSCHED1\", \"fallback_user\": \"U0SECOPS1\"},\n"
    "  \"components\": [\n"
    "    {\"name\": \"gitaly\", \"em\": \"U0EM00001\", \"pm\": \"U0PM00001\", \"channel\": \"C0GITALY1\",\n"
    "     \"gitlab_em\": \"ewalsh\", \"gitlab_pm\": \"pnair\"}\n"
    "  ],\n"
    "  \"gitlab_users\": {\"U0SIRT001\": \"sivanova\", \"U0SECOPS1\": \"spatel\"},\n"
    "  \"handoff\": {\"lead_minutes\": 30, \"accept_minutes\": 60},\n"
    "  \"decisions\": {\"validate_after_minutes\": 120},\n"
    "  \"gitlab\": {\"namespace_id\": 42}\n"
    "}\n";

static const struct report_fields report = {
    .title = "Deploy token printed in public CI job logs",
    .what = "A customer (ticket 48213) found that when a clone fails on a Gitaly-backed runner, the job log of a "
            "public project prints the project's deploy token. Anyone who can read the log can pull the "
            "repository, and push where the token has write scope.",
    .severity = "1",
    .priority = "1",
    .component = "gitaly",
    .repro = "1. Open any failed clone job of a public project, e.g. https://gitlab.example.com/acme/web/-/jobs/88412\n"
             "2. The log ends with:\n"
             "   fatal: unable to access 'https://gitlab.example.com/acme/web.git/'\n"
             "   Authorization: PRIVATE-TOKEN " DRILL_SECRET "\n"
             "3. curl -H 'PRIVATE-TOKEN: " DRILL_SECRET "' https://gitlab.example.com/api/v4/projects/acme%2Fweb",
    .link = "",
};

struct drill {
    struct fx fx;
    struct transcript tr;
    FILE *err;
    int timeout_ms;
    char channel[32];      /* the incident channel's id */
    int presses;
};

/* ---- waiting on the fakes ---- */

static size_t records(struct drill *d)
{
    return fake_slack_call_count(d->fx.slack, NULL) + fake_pagerduty_event_count(d->fx.pd) +
           fake_http_count(fake_gitlab_http(d->fx.gitlab), NULL);
}

/* Runs the loop until nothing new reached any fake for 600 ms (at most 8 s):
 * the tail of a step's effects lands in that step. */
static void quiesce(struct drill *d)
{
    size_t last = records(d);
    int quiet = 0;
    for (int i = 0; i < 40 && quiet < 3; i++) {
        fx_run_for(&d->fx, 200);
        size_t now = records(d);
        quiet = now == last ? quiet + 1 : 0;
        last = now;
    }
}

/* The newest ok call of method (to channel when not NULL) whose body has needle. */
static const struct fake_call *find_call(struct drill *d, const char *method, const char *channel, const char *needle)
{
    for (size_t i = fake_slack_call_count(d->fx.slack, method); i-- > 0;) {
        const struct fake_call *c = fake_slack_call(d->fx.slack, method, i);
        if (c->status != 200 || c->error)
            continue;
        const char *ch = util_jstr(c->json, "channel");
        if (channel && (!ch || strcmp(ch, channel) != 0))
            continue;
        if (needle && (!c->body || !strstr(c->body, needle)))
            continue;
        return c;
    }
    return NULL;
}

struct want {
    const char *method, *channel, *needle;
};

static bool pred_call(struct fx *fx, void *ud)
{
    struct drill *d = container_of(fx, struct drill, fx);
    const struct want *w = ud;
    return find_call(d, w->method, w->channel, w->needle) != NULL;
}

static const struct fake_call *wait_call(struct drill *d, const char *method, const char *channel, const char *needle)
{
    struct want w = { method, channel, needle };
    fx_wait(&d->fx, pred_call, &w, d->timeout_ms);
    return find_call(d, method, channel, needle);
}

static bool pred_pd(struct fx *fx, void *ud)
{
    return fake_pagerduty_event_count(fx->pd) >= *(size_t *)ud;
}

static bool pred_gitlab(struct fx *fx, void *ud)
{
    const struct want *w = ud;
    return fake_gitlab_call_count(fx->gitlab, w->needle) >= 1;
}

static bool wait_gitlab(struct drill *d, const char *pattern)
{
    struct want w = { NULL, NULL, pattern };
    return fx_wait(&d->fx, pred_gitlab, &w, d->timeout_ms);
}

static bool fail(struct drill *d, const char *what)
{
    fprintf(d->err, "demo: step %d: %s did not happen within %d s\n", d->tr.steps, what, d->timeout_ms / 1000);
    return false;
}

static size_t clock_moves(struct fx *fx)
{
    size_t k = 0;
    for (const char *p = fx->stderr_buf.data; p && (p = strstr(p, "\"msg\":\"clock moved\"")) != NULL; p++)
        k++;
    return k;
}

static bool pred_moved(struct fx *fx, void *ud)
{
    return clock_moves(fx) > *(size_t *)ud;
}

/* Moves the bot's clock and waits until the bot says it read it, so that
 * what happens next is stamped with the new time (a button pressed before
 * the move would look three seconds old to it, and its trigger_id expired). */
static bool move_clock(struct drill *d, int64_t epoch_ms)
{
    size_t before = clock_moves(&d->fx);
    tr_set_clock(&d->tr, epoch_ms);
    if (fx_wait(&d->fx, pred_moved, &before, d->timeout_ms))
        return true;
    return fail(d, "the bot reading its new clock");
}

#define NEED(d, cond, what) do { if (!(cond)) { fail(d, what); return false; } } while (0)

/* ---- what people do ---- */

/* A slash command; its reply (the ack) is printed as the typer sees it. */
static bool slash(struct drill *d, int who, const char *channel, const char *text)
{
    const struct tr_person *p = &cast[who];
    d->tr.actor = p->id;
    const char *cname = channel;
    for (size_t i = 0; i < ARRAY_LEN(places); i++)
        if (strcmp(places[i].id, channel) == 0)
            cname = places[i].name;
    if (strcmp(channel, d->channel) == 0)
        cname = fake_slack_channel_by_id(d->fx.slack, channel)->name;
    tr_say(&d->tr, "%s types in #%s:  /sirt %s", p->name, cname, text);
    const char *eid = fake_slack_send_slash(d->fx.slack, p->id, channel, text);
    NEED(d, eid && fx_wait(&d->fx, fx_pred_acked, (void *)eid, d->timeout_ms), "the reply to /sirt");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(fake_slack_ack(d->fx.slack, eid)->json, "payload");
    tr_ack_reply(&d->tr, p->id, util_jstr(pl, "text"));
    return true;
}

/* Finds the button action_id in a posted message; its value goes to out. */
static bool button_value(const struct fake_call *c, const char *action_id, char *out, size_t n)
{
    if (!c)
        return false;
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(c->json, "blocks");
    cJSON *parsed = cJSON_IsString(bl) ? cJSON_Parse(bl->valuestring) : NULL;   /* a form post */
    const cJSON *list = parsed ? parsed : bl;
    bool found = false;
    const cJSON *blk;
    cJSON_ArrayForEach(blk, list) {
        const cJSON *el;
        cJSON_ArrayForEach(el, cJSON_GetObjectItemCaseSensitive(blk, "elements")) {
            const char *id = util_jstr(el, "action_id");
            if (!found && id && strcmp(id, action_id) == 0 && util_jstr(el, "value")) {
                str_lcpy(out, util_jstr(el, "value"), n);
                found = true;
            }
        }
    }
    cJSON_Delete(parsed);
    return found;
}

/* A click on a button of a message in channel, as Slack delivers it. */
static bool press(struct drill *d, int who, const char *channel, const struct fake_call *msg, const char *action_id,
                  const char *label)
{
    char value[128], what[160];
    snprintf(what, sizeof(what), "a message with the [%s] button", label);
    NEED(d, button_value(msg, action_id, value, sizeof(value)), what);
    const struct tr_person *p = &cast[who];
    d->tr.actor = p->id;
    tr_say(&d->tr, "%s presses [%s]", p->name, label);
    char ts[40], trigger[40];
    d->presses++;
    snprintf(ts, sizeof(ts), "%lld.%06d", (long long)(tr_now_ms(&d->tr) / 1000), d->presses);
    snprintf(trigger, sizeof(trigger), "4242.%d.demo", d->presses);
    const char *eid = fx_press(&d->fx, &(struct fx_button){ .user = p->id, .channel = channel,
                                                            .action_id = action_id, .block_id = "demo",
                                                            .value = value, .action_ts = ts, .trigger_id = trigger,
                                                            .message_ts = "1795601100.000100",
                                                            .response_path = ts, .app = true });
    NEED(d, fx_wait_ack(&d->fx, eid, d->timeout_ms), "the ack of the button");
    return true;
}

/* A view_submission of the decision form with these answers. */
static bool submit_decision(struct drill *d, int who, const char *meta)
{
    static const struct {
        const char *block, *label, *value;
    } answers[] = {
        { "solution", "Chosen solution", "Mask credentials in clone errors (feature flag gitaly_mask_clone_errors on "
                                         "for all runners) and revoke the exposed deploy tokens" },
        { "options", "Options considered", "Disable public job logs instance-wide; revoke tokens only" },
        { "effectiveness", "Effectiveness", "Stops new leaks at once; revocation closes the exposed ones" },
        { "customers", "Customers affected", "About 40 projects with failed clones in the last 30 days" },
        { "how", "How they are affected", "Revoked deploy tokens must be re-created; CI jobs using them fail until then" },
        { "magnitude", "Magnitude", "Medium: CI only, no data loss" },
        { "consequences", "Other consequences", "Support tickets expected; owners are emailed first" },
    };
    const struct tr_person *p = &cast[who];
    d->tr.actor = p->id;
    tr_say(&d->tr, "%s fills in the form and presses [Record]:", p->name);
    struct view_submission vs = { .user = p->id, .view_id = "V0DEMODEC1", .callback_id = "sirt_decision",
                                  .metadata = meta, .trigger_id = "4242.0.decision", .app = true };
    cJSON *values;
    cJSON *pl = view_submission_payload(&vs, &values);
    for (size_t i = 0; i < ARRAY_LEN(answers); i++) {
        view_text_value(values, answers[i].block, answers[i].value);
        tr_say(&d->tr, "    %s: %s", answers[i].label, answers[i].value);
    }
    const char *eid = fake_slack_send_interactive(d->fx.slack, pl);
    cJSON_Delete(pl);
    NEED(d, eid && fx_wait(&d->fx, fx_pred_acked, (void *)eid, d->timeout_ms), "the ack of the decision form");
    return true;
}

/* ---- the steps ---- */

static bool step_report(struct drill *d)
{
    const char *const zones[] = { cast[REPORTER].id, cast[BRAM].id, NULL };
    tr_step(&d->tr, zones, "Rachel reports what a customer found");
    if (!slash(d, REPORTER, "C0SUPPORT1", "report Deploy token printed in public CI job logs"))
        return false;
    NEED(d, wait_call(d, "views.open", NULL, "sirt_report"), "the report form");
    quiesce(d);
    tr_flush(&d->tr);

    tr_step(&d->tr, zones, "Rachel submits the report: S1, P1, component gitaly");
    d->tr.actor = cast[REPORTER].id;
    tr_say(&d->tr, "Rachel fills in the form and presses [Report]:");
    tr_say(&d->tr, "    Title: %s", report.title);
    tr_say(&d->tr, "    What happened: %s", report.what);
    tr_say(&d->tr, "    Severity S1, Priority P1, Affected component gitaly");
    tr_say(&d->tr, "    Reproduction steps (pasted from the job log, token and all):");
    for (const char *p = report.repro; *p;) {
        size_t n = strcspn(p, "\n");
        tr_say(&d->tr, "      %.*s", (int)n, p);
        p += n + (p[n] == '\n');
    }
    tr_say(&d->tr, "  (the bot masks the token before it stores or repeats it; below it reads glpat-[MASKED])");
    cJSON *pl = report_submission_payload("V0DEMOREP1", cast[REPORTER].id, &report);
    const char *eid = fake_slack_send_interactive(d->fx.slack, pl);
    cJSON_Delete(pl);
    NEED(d, eid && fx_wait(&d->fx, fx_pred_acked, (void *)eid, d->timeout_ms), "the ack of the report form");
    NEED(d, wait_call(d, "pins.add", NULL, NULL), "the pinned summary");
    for (size_t i = 0; i < fake_slack_channel_count(d->fx.slack); i++)
        if (str_starts(fake_slack_channel(d->fx.slack, i)->name, "sirt-1-"))
            str_lcpy(d->channel, fake_slack_channel(d->fx.slack, i)->id, sizeof(d->channel));
    NEED(d, d->channel[0], "the incident channel");
    size_t one = 1;
    NEED(d, fx_wait(&d->fx, pred_pd, &one, d->timeout_ms), "the page");
    NEED(d, wait_gitlab(d, "POST /projects/*/issues"), "the GitLab issue");
    NEED(d, wait_call(d, "chat.postMessage", "D0EM00001", NULL), "the EM's DM");
    NEED(d, wait_call(d, "chat.postMessage", "D0PM00001", NULL), "the PM's DM");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_ack(struct drill *d)
{
    const char *const zones[] = { cast[SID].id, NULL };
    /* PagerDuty knows of the acknowledgement before the bot's clock reaches
     * the minute it asks at, so its first look finds it. */
    NEED(d, fake_pagerduty_acknowledge(d->fx.pd, "SIRT-1", "PSID00001", cast[SID].name, AT(10, 8) / 1000),
         "an open PagerDuty incident SIRT-1");
    if (!move_clock(d, AT(10, 9)))
        return false;
    tr_step(&d->tr, zones, "Sid acknowledges the page in the PagerDuty app");
    tr_say(&d->tr, "Sid Patel pressed [Acknowledge] in PagerDuty at 10:08 UTC (05:08 in New York)");
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "acknowledged"), "the acknowledgement in the channel");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_decision(struct drill *d)
{
    const char *const zones[] = { cast[BRAM].id, NULL };
    if (!move_clock(d, AT(10, 40)))
        return false;
    tr_step(&d->tr, zones, "Bram records the short-term decision");
    const struct fake_call *summary = find_call(d, "chat.postMessage", d->channel, "sirt_decision");
    if (!press(d, BRAM, d->channel, summary, "sirt_decision", "Record decision"))
        return false;
    const struct fake_call *vo = wait_call(d, "views.open", NULL, "sirt_decision");
    NEED(d, vo, "the decision form");
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(vo->json, "view");
    char meta[256];
    str_lcpy(meta, util_jstr(view, "private_metadata") ? util_jstr(view, "private_metadata") : "", sizeof(meta));
    quiesce(d);
    tr_flush(&d->tr);
    if (!submit_decision(d, BRAM, meta))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "decision_fix_delivered"), "the decision in the channel");
    NEED(d, wait_call(d, "chat.postMessage", "D0DIRSEC1", NULL), "the directors told");
    NEED(d, wait_call(d, "chat.postMessage", "D0DIRINF1", NULL), "the directors told");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_validation(struct drill *d)
{
    const char *const zones[] = { cast[BRAM].id, NULL };
    if (!move_clock(d, AT(12, 10)))
        return false;
    tr_step(&d->tr, zones, "The fix is out: Bram marks it delivered");
    const struct fake_call *dec = find_call(d, "chat.postMessage", d->channel, "decision_fix_delivered");
    if (!press(d, BRAM, d->channel, dec, "decision_fix_delivered", "Fix delivered"))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "as delivered"), "the delivery noted");
    quiesce(d);
    tr_flush(&d->tr);

    if (!move_clock(d, AT(14, 11)))
        return false;
    tr_step(&d->tr, zones, "Two hours later the bot asks Bram whether the fix works");
    const struct fake_call *ask = wait_call(d, "chat.postMessage", "D0APPSEC2", "decision_validated_yes");
    NEED(d, ask, "the validation prompt");
    quiesce(d);
    tr_flush(&d->tr);
    if (!press(d, BRAM, "D0APPSEC2", ask, "decision_validated_yes", "Yes, effective"))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "as effective"), "the validation in the channel");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_severity(struct drill *d)
{
    const char *const zones[] = { cast[TOM].id, NULL };
    if (!move_clock(d, AT(14, 20)))
        return false;
    tr_step(&d->tr, zones, "Contained: Tom lowers the severity to S2/P2");
    if (!slash(d, TOM, d->channel, "severity S2 P2"))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "lowered SIRT-1"), "the severity change in the channel");
    NEED(d, wait_gitlab(d, "PUT /projects/*/issues/*"), "the GitLab issue relabelled");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_handoff(struct drill *d)
{
    const char *const zones[] = { cast[BRAM].id, cast[ALICE].id, NULL };
    if (!move_clock(d, AT(15, 30) + 5000))
        return false;
    tr_step(&d->tr, zones, "Bram's day ends in 30 minutes: the bot offers a handoff along the sun");
    const struct fake_call *prompt = wait_call(d, "chat.postMessage", "D0APPSEC2", "handoff_accept");
    NEED(d, prompt, "the end-of-day prompt");
    quiesce(d);
    tr_flush(&d->tr);
    if (!move_clock(d, AT(15, 34)))
        return false;
    if (!press(d, BRAM, "D0APPSEC2", prompt, "handoff_accept", "Hand off to the next engineer"))
        return false;
    const struct fake_call *offer = wait_call(d, "chat.postMessage", "D0APPSEC1", "handoff_take");
    NEED(d, offer, "the offer to Alice");
    quiesce(d);
    tr_flush(&d->tr);

    if (!move_clock(d, AT(16, 5)))
        return false;
    tr_step(&d->tr, zones, "Alice starts her day in Los Angeles and accepts");
    if (!press(d, ALICE, "D0APPSEC1", offer, "handoff_take", "Accept"))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "accepted the handoff"), "the accepted handoff");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_resolve(struct drill *d)
{
    const char *const zones[] = { cast[ALICE].id, cast[SASHA].id, NULL };
    if (!move_clock(d, AT(20, 45)))
        return false;
    tr_step(&d->tr, zones, "The security release is out: Alice records it, Sasha resolves the incident");
    if (!slash(d, ALICE, d->channel, "release https://gitlab.example.com/gitlab-org/security/gitaly/-/merge_requests/412"))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "merge_requests/412"), "the long-term fix recorded");
    quiesce(d);
    tr_flush(&d->tr);
    if (!move_clock(d, AT(21, 0)))
        return false;
    if (!slash(d, SASHA, d->channel, "resolve SIRT-1"))
        return false;
    NEED(d, wait_call(d, "chat.postMessage", d->channel, "resolved SIRT-1"), "the resolution");
    size_t two = 2;
    NEED(d, fx_wait(&d->fx, pred_pd, &two, d->timeout_ms), "the page resolved");
    quiesce(d);
    tr_flush(&d->tr);
    return true;
}

static bool step_review(struct drill *d)
{
    const char *const zones[] = { cast[SASHA].id, cast[TOM].id, NULL };
    if (!move_clock(d, MON_0900_UTC + 5000))
        return false;
    tr_step(&d->tr, zones, "Monday 09:00: the weekly review in #sirt");
    NEED(d, wait_call(d, "chat.postMessage", "C0SIRT0001", "Weekly SIRT review"), "the weekly review");
    quiesce(d);
    d->tr.max_lines = 60;   /* the digest whole */
    tr_flush(&d->tr);
    return true;
}

/* ---- the fixture ---- */

static void setup(struct drill *d, FILE *out)
{
    fx_init_opts(&d->fx, FX_PAGERDUTY | FX_GITLAB);
    fx_write_config(&d->fx, config);
    for (size_t i = 0; i < ARRAY_LEN(cast); i++) {
        char email[64];
        snprintf(email, sizeof(email), "%s@example.com", cast[i].gitlab_user ? cast[i].gitlab_user : cast[i].id);
        fake_slack_add_user(d->fx.slack, cast[i].id, cast[i].name, email, cast[i].tz);
        if (cast[i].gitlab_id)
            fake_gitlab_add_user(d->fx.gitlab, cast[i].gitlab_id, cast[i].gitlab_user);
    }
    for (size_t i = 0; i < ARRAY_LEN(places); i++)
        fake_slack_add_channel(d->fx.slack, places[i].id, places[i].name, strstr(places[i].what, "private") != NULL);
    fake_pagerduty_set_oncall(d->fx.pd, "PSCHED1", "PSID00001", cast[SID].name, "spatel@example.com");
    tr_init(&d->tr, out, &d->fx, cast, ARRAY_LEN(cast), places, ARRAY_LEN(places));
    d->tr.oncall = cast[SID].id;
}

static void cast_list(FILE *out)
{
    fprintf(out, "sirtbot demo: one S1 incident, from the report to the Monday review.\n"
                 "The real bot (%s) runs against local fakes of Slack, PagerDuty and GitLab on 127.0.0.1,\n"
                 "on a clock the drill moves forward. No tokens, no workspace, nothing leaves this machine.\n\n"
                 "Who is who:\n",
            getenv("SIRTBOT_BIN") && getenv("SIRTBOT_BIN")[0] ? getenv("SIRTBOT_BIN") : "bot/sirtbot");
    for (size_t i = 0; i < ARRAY_LEN(cast); i++)
        fprintf(out, "  %-14s %-28s %s\n", cast[i].name, cast[i].role, cast[i].tz);
    fprintf(out, "Channels: #sirt (the SIRT team, private), #gitaly (the component's), #support (public).\n"
                 "PagerDuty: %s is on call (schedule PSCHED1). GitLab: incidents go under security/incidents.\n",
            cast[SID].name);
}

int drill_run(FILE *out, FILE *err)
{
    struct drill *d = xcalloc(1, sizeof(*d));
    d->err = err;
    d->timeout_ms = getenv("SIRTBOT_WRAPPER") && getenv("SIRTBOT_WRAPPER")[0] ? 90000 : 20000;
    wh_init();
    setup(d, out);
    cast_list(out);
    tr_set_clock(&d->tr, WED_1005_UTC);   /* before the start: pins it */
    const char *env[] = { "SIRT_LOG=info", NULL };
    fx_start(&d->fx, env);
    bool ok = step_report(d) && step_ack(d) && step_decision(d) && step_validation(d) && step_severity(d) &&
              step_handoff(d) && step_resolve(d) && step_review(d);
    if (ok)
        tr_tally(&d->tr, d->channel);
    int stop = fx_stop(&d->fx, 10000);
    if (ok && stop != 0) {
        fprintf(err, "demo: the bot exited with status %d\n", stop);
        ok = false;
    }
    fx_finish(&d->fx);
    tr_finish(&d->tr);
    if (ok)
        fprintf(out, "\nDrill complete: every step above was done by bot/sirtbot; the fakes recorded each call.\n");
    fflush(out);
    free(d);
    return ok ? 0 : 1;
}
