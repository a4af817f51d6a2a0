/* handoff: follow-the-sun ownership.  Appsec engineers are not on call: a
 * lead time before the end of the owner's working day (in their zone) the
 * owner gets a DM — Hand off to @next / Keep it 1 h / Choose someone — and
 * with no answer by the end of the day the incident moves on its own.
 * "Next" is the appsec engineer in working hours whose day ends latest; if
 * nobody is in hours, the secops on-call (PagerDuty schedule -> Slack user,
 * fallback_user otherwise), who is also paged in a new page round of its
 * own (so PagerDuty does not fold it into an open page and notifies them),
 * and added to the GitLab project when their username is known.  A handoff invites the new
 * owner, DMs them a context brief, notes it in the channel, the GitLab issue
 * and the timeline.  Timers live in the store (scheduler.h); everything here
 * runs inside the caller's transaction and only writes the store and the
 * outbox. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "../bot/workhours.h"
#include "bk.h"
#include "flows.h"
#include "handlers.h"
#include "handoff_internal.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define KEEP_MS (60LL * 60 * 1000)

static int appsec_index(const struct cfg *cfg, const char *user)
{
    if (!cfg->appsec)
        return -1;
    for (size_t i = 0; user && i < cfg->n_appsec; i++)
        if (strcmp(cfg->appsec[i].user, user) == 0)
            return (int)i;
    return -1;
}

static const char *appsec_zone(const struct hctx *ctx, int i)
{
    if (ctx->appsec_tz && ctx->appsec_tz[i])
        return ctx->appsec_tz[i];
    if (ctx->cfg->appsec[i].tz)
        return ctx->cfg->appsec[i].tz;
    return ctx->cfg->timezone ? ctx->cfg->timezone : "UTC";
}

static struct wh appsec_wh(const struct hctx *ctx, int i)
{
    struct wh w = { appsec_zone(ctx, i), ctx->cfg->appsec[i].start_min, ctx->cfg->appsec[i].end_min };
    return w;
}

int handoff_appsec_index(const struct hctx *ctx, const char *user)
{
    return appsec_index(ctx->cfg, user);
}

struct wh handoff_appsec_wh(const struct hctx *ctx, size_t i)
{
    return appsec_wh(ctx, (int)i);
}

/* The engineer to hand to at moment t, or -1 (nobody in hours). */
static int next_owner(const struct hctx *ctx, const char *exclude, int64_t t)
{
    const char *tzs[64];
    size_t n = ctx->cfg->n_appsec < 64 ? ctx->cfg->n_appsec : 64;
    for (size_t i = 0; i < n; i++)
        tzs[i] = appsec_zone(ctx, (int)i);
    return wh_pick_latest(ctx->cfg, tzs, exclude, t);
}

const char *handoff_next_owner(const struct hctx *ctx, const char *exclude, int64_t t)
{
    int i = next_owner(ctx, exclude, t);
    return i >= 0 ? ctx->cfg->appsec[i].user : NULL;
}

static void timer_key(char *out, size_t size, const char *what, int64_t id)
{
    snprintf(out, size, "%s/SIRT-%" PRId64, what, id);
}

static void cancel_timers(const struct hctx *ctx, int64_t id)
{
    char k[64];
    timer_key(k, sizeof(k), "handoff_prompt", id);
    store_timer_cancel(ctx->store, k);
    timer_key(k, sizeof(k), "handoff_auto", id);
    store_timer_cancel(ctx->store, k);
    handoff_offer_cancel(ctx, id);
}

static void set_timers(const struct hctx *ctx, int64_t id, const char *owner, int64_t prompt_at, int64_t auto_at)
{
    char k[64];
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "owner", owner);
    cJSON_AddNumberToObject(p, "end", (double)auto_at);
    char *json = cJSON_PrintUnformatted(p);
    int64_t now = ctx->now_ms();
    timer_key(k, sizeof(k), "handoff_prompt", id);
    store_timer_set(ctx->store, k, "handoff_prompt", id, prompt_at, json, now);
    timer_key(k, sizeof(k), "handoff_auto", id);
    store_timer_set(ctx->store, k, "handoff_auto", id, auto_at, json, now);
    cJSON_free(json);
    cJSON_Delete(p);
}

void handoff_plan(const struct hctx *ctx, const struct incident *inc)
{
    cancel_timers(ctx, inc->id);
    if (inc->state && strcmp(inc->state, "open") != 0)
        return;
    const struct cfg *cfg = ctx->cfg;
    if (!inc->owner) {
        /* Nobody in hours at the report: the secops on-call, found at send
         * time, owns it until appsec's day starts. */
        if (cfg->secops_schedule || cfg->secops_fallback_user)
            handoff_handback_plan(ctx, inc->id);
        return;
    }
    int i = appsec_index(ctx->cfg, inc->owner);
    if (i < 0) {
        /* Someone outside appsec owns it: no end of day.  The fallback
         * on-call gives it back when appsec's day starts. */
        if (cfg->secops_fallback_user && strcmp(inc->owner, cfg->secops_fallback_user) == 0)
            handoff_handback_plan(ctx, inc->id);
        return;
    }
    struct wh w = appsec_wh(ctx, i);
    int64_t now = ctx->now_ms();
    int64_t lead = (int64_t)ctx->cfg->handoff_lead_minutes * 60000;
    int64_t end = wh_window_end(&w, now);
    int64_t prompt_at, auto_at;
    if (end < 0) {
        /* Out of hours already (assigned at night, or hours ended while
         * the bot was down): ask now, move it after the lead time. */
        prompt_at = now;
        auto_at = now + (lead > 0 ? lead : 60000);
    } else {
        auto_at = end;
        prompt_at = end - lead > now ? end - lead : now;
    }
    set_timers(ctx, inc->id, inc->owner, prompt_at, auto_at);
    LOG_DEBUG("handoff planned", "incident:l prompt_in_s:l auto_in_s:l", (long long)inc->id,
              (long long)((prompt_at - now) / 1000), (long long)((auto_at - now) / 1000));
}

/* ---- the handoff itself ---- */

struct brief_ctx {
    struct buf *b;
    int n, open;
};

static bool brief_decision(void *ud, const struct decision *d)
{
    struct brief_ctx *c = ud;
    char *sol = txt_clean(d->solution, 400);
    char *e = txt_mrkdwn(sol);
    const char *state = d->validated == 1 ? "fix validated as effective"
                        : d->validated == 0 ? "fix NOT effective: needs another decision"
                        : d->fix_delivered_ms ? "fix delivered, validation pending"
                                              : "fix not delivered yet";
    buf_printf(c->b, "• %s — _%s_\n", e, state);
    if (d->validated != 1)
        c->open++;
    c->n++;
    free(sol);
    free(e);
    return c->n < 20;
}

/* The context brief for the new owner (a DM: a private place). */
char *handoff_brief(const struct hctx *ctx, const struct incident *inc, const char *reason, enum brief_kind kind)
{
    struct buf b;
    buf_init(&b, 0);
    char *title = txt_clean(inc->title, 150);
    char *et = txt_mrkdwn(title);
    if (kind == BRIEF_OFFER)
        buf_printf(&b, "*SIRT-%" PRId64 " is handed to you: %s* (%s)\nPress *Accept* to take it: until you do, "
                   "it shows \"handoff pending\", and after %d minutes it goes to the next engineer.\n",
                   inc->id, et, reason, ctx->cfg->handoff_accept_minutes);
    else
        buf_printf(&b, "*%s SIRT-%" PRId64 ": %s* (%s)\n", kind == BRIEF_OWNER ? "You now own" : "You have been added to",
                   inc->id, et, reason);
    buf_printf(&b, "Severity S%d, priority P%d, component %s, reported by <@%s>.\n", inc->severity, inc->priority,
               inc->component ? inc->component : "(none)", inc->reporter);
    char *what = txt_clean(inc->description, 600);
    char *ew = txt_mrkdwn(what);
    buf_printf(&b, "*What happened*\n%s\n", ew);
    if (inc->repro && *inc->repro) {
        char *r = txt_clean(inc->repro, 900);
        char *er = txt_mrkdwn(r);
        for (char *p = er; *p; p++)
            if (*p == '`')
                *p = '\'';
        buf_printf(&b, "*Reproduction steps*\n```%s```\n", er);
        free(r);
        free(er);
    }
    buf_puts(&b, "*Decisions so far*\n");
    struct brief_ctx c = { &b, 0, 0 };
    store_decisions_list(ctx->store, inc->id, brief_decision, &c);
    if (!c.n)
        buf_puts(&b, "• none recorded yet\n");
    buf_puts(&b, "*Open next steps*\n");
    if (!c.n)
        buf_puts(&b, "• decide on a short-term mitigation (`/sirt decision`) or confirm the long-term fix is enough\n");
    else if (c.open)
        buf_printf(&b, "• %d short-term decision%s not yet validated as effective\n", c.open, c.open == 1 ? "" : "s");
    else
        buf_puts(&b, "• follow the long-term fix through the critical security release\n");
    if (kind != BRIEF_ADDED)
        buf_puts(&b, "• hand off again at the end of your day (I will ask)\n");
    buf_puts(&b, "*Links* {{incident.channel}} · {{incident.issue_link}}");
    free(title);
    free(et);
    free(what);
    free(ew);
    return buf_take(&b);
}

/* Hands inc to `to` (a Slack user), or to the secops on-call when to is
 * NULL.  by: who asked ("sirtbot" for the automatic handoff). */
static void do_handoff(const struct hctx *ctx, const struct incident *inc, const char *to, const char *by,
                       const char *reason)
{
    int64_t id = inc->id;
    int64_t now = ctx->now_ms();
    char step[96];
    const char *from = inc->owner;
    snprintf(step, sizeof(step), "handoff/%" PRId64 "/%016llx", now, (unsigned long long)util_rand64());
    cancel_timers(ctx, id);

    if (!to) {
        /* Nobody along the sun: the secops on-call, found at send time. */
        const struct cfg *cfg = ctx->cfg;
        if (!cfg->secops_schedule && !cfg->secops_fallback_user) {
            char *t = xasprintf(":warning: SIRT-%" PRId64 ": no appsec engineer is in working hours and no "
                                "secops on-call is configured: %s keeps it. Assign someone with `/sirt assign`.",
                                id, from ? "the current owner" : "nobody");
            job_post_incident(ctx, inc, step, t, NULL);
            free(t);
            inc_timeline_add(ctx, id, by, "handoff_failed",
                             "no appsec engineer in hours and no secops on-call configured");
            return;
        }
        /* A new page round: an open one (the report's page, say) would
         * swallow this trigger and the new on-call would never hear of it. */
        char dedup[64] = "";
        int round = 0;
        if (cfg->pagerduty_routing_key) {
            round = page_round(ctx, id, true, "handoff", dedup, sizeof(dedup), NULL);
            if (round < 0)
                LOG_ERROR("handoff: cannot record the page round", "incident:l error:s", (long long)id,
                          store_strerror(round));
        }
        /* The on-call, found at send time, becomes the owner; its result
         * invites them to the channel and the GitLab project (follow-up jobs,
         * effects.h) and records them on the round. */
        cJSON *p = cJSON_CreateObject();
        if (cfg->secops_schedule)
            cJSON_AddStringToObject(p, "schedule", cfg->secops_schedule);
        if (cfg->secops_fallback_user)
            cJSON_AddStringToObject(p, "fallback_user", cfg->secops_fallback_user);
        cJSON_AddTrueToObject(p, "set_owner");
        cJSON_AddTrueToObject(p, "invite");
        if (round > 0)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "page"), "dedup_key", dedup);
        char key[160];
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/oncall", id, step);
        int64_t j_on = outbox_add(ctx->store, id, key, "pd.oncall", p, NULL, 0, 0);
        cJSON_Delete(p);

        char *brief = handoff_brief(ctx, inc, "no appsec engineer is in working hours: handed to the secops on-call",
                                    BRIEF_OWNER);
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "user", "{{incident.owner}}");
        cJSON_AddStringToObject(p, "text", brief);
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/brief", id, step);
        outbox_add(ctx->store, id, key, "slack.dm", p, &j_on, 1, 0);
        cJSON_Delete(p);
        free(brief);

        if (round > 0) {
            char *title = txt_clean(inc->title, 150);
            p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "dedup_key", dedup);
            char *sum = xasprintf("SIRT-%" PRId64 " handed to the secops on-call [S%d/P%d] %s", id, inc->severity,
                                  inc->priority, title);
            cJSON_AddStringToObject(p, "summary", sum);
            cJSON_AddStringToObject(p, "severity", txt_pd_severity(inc->severity));
            cJSON_AddStringToObject(p, "source", "sirtbot");
            cJSON_AddStringToObject(p, "component", inc->component ? inc->component : "unknown");
            cJSON *cd = cJSON_AddObjectToObject(p, "custom_details");
            cJSON_AddStringToObject(cd, "reason", "follow-the-sun handoff: no appsec engineer in working hours");
            cJSON_AddNumberToObject(cd, "page_round", round);
            snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/page", id, step);
            outbox_add(ctx->store, id, key, "pd.trigger", p, &j_on, 1, 0);
            cJSON_Delete(p);
            free(sum);
            free(title);
        }
        char paged[96] = "";
        if (round > 0)
            snprintf(paged, sizeof(paged), " Paged on PagerDuty (page `%s`).", dedup);
        char *t = xasprintf(":sunrise_over_mountains: SIRT-%" PRId64 " handed off%s%s%s to the secops on-call "
                            "{{incident.owner_mention}} (%s).%s",
                            id, from ? " from <@" : "", from ? from : "", from ? ">" : "", reason, paged);
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "text", t);
        if (inc->channel_id)
            cJSON_AddStringToObject(p, "channel", inc->channel_id);
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/note", id, step);
        outbox_add(ctx->store, id, key, "slack.post", p, &j_on, 1, 0);
        cJSON_Delete(p);
        free(t);
        char *note = xasprintf("Handed off to the secops on-call (%s).", reason);
        job_gitlab_note(ctx, inc, step, note);
        free(note);
        inc_timeline_add(ctx, id, by, "handoff", "handed off%s%s to the secops on-call (%s)", from ? " from " : "",
                         from ? from : "", reason);
        handoff_handback_plan(ctx, id);
        return;
    }
    handoff_offer(ctx, inc, to, by, reason, OFFER_HANDOFF, NULL);
}

void handoff_to_secops(const struct hctx *ctx, const struct incident *inc, const char *by, const char *reason)
{
    do_handoff(ctx, inc, NULL, by, reason);
}

/* ---- timers ---- */

static bool timer_still_valid(const struct hctx *ctx, const struct sched_timer *t, struct incident *inc)
{
    memset(inc, 0, sizeof(*inc));
    if (store_incident_get(ctx->store, t->incident_id, inc) != 0)
        return false;
    cJSON *p = cJSON_Parse(t->payload ? t->payload : "{}");
    const char *owner = util_jstr(p, "owner");
    bool ok = inc->state && strcmp(inc->state, "open") == 0 && owner && inc->owner && strcmp(owner, inc->owner) == 0;
    cJSON_Delete(p);
    return ok;
}

void handoff_prompt_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    struct incident inc;
    if (!timer_still_valid(ctx, t, &inc)) {
        incident_finish(&inc);
        return;
    }
    cJSON *pl = cJSON_Parse(t->payload ? t->payload : "{}");
    const cJSON *endj = cJSON_GetObjectItemCaseSensitive(pl, "end");
    int64_t end = cJSON_IsNumber(endj) ? (int64_t)endj->valuedouble : ctx->now_ms();
    cJSON_Delete(pl);
    int next = next_owner(ctx, inc.owner, end);
    const char *next_user = next >= 0 ? ctx->cfg->appsec[next].user : NULL;

    int i = appsec_index(ctx->cfg, inc.owner);
    struct tm lt;
    char when[64] = "soon";
    if (i >= 0 && tz_local(appsec_zone(ctx, i), end, &lt) == 0)
        snprintf(when, sizeof(when), "at %02d:%02d (%s)", lt.tm_hour, lt.tm_min, appsec_zone(ctx, i));
    char *title = txt_clean(inc.title, 120);
    char *et = txt_mrkdwn(title);
    char *text = xasprintf("Your working day ends %s. Hand off *SIRT-%" PRId64 "* (%s) before you go? "
                           "If you don't answer, it goes to %s%s%s at the end of your day.",
                           when, inc.id, et, next_user ? "<@" : "the secops on-call", next_user ? next_user : "",
                           next_user ? ">" : "");
    cJSON *blocks = cJSON_CreateArray();
    cJSON_AddItemToArray(blocks, bk_section(text));
    cJSON *acts = bk_actions("handoff_prompt");
    cJSON *els = cJSON_GetObjectItemCaseSensitive(acts, "elements");
    char val[96], label[96];
    snprintf(val, sizeof(val), "%" PRId64 "|%s", inc.id, next_user ? next_user : "secops");
    if (next_user)
        snprintf(label, sizeof(label), "Hand off to the next engineer");
    else
        snprintf(label, sizeof(label), "Hand off to the secops on-call");
    cJSON_AddItemToArray(els, bk_button(label, "handoff_accept", val, "primary"));
    char idv[32];
    snprintf(idv, sizeof(idv), "%" PRId64, inc.id);
    cJSON_AddItemToArray(els, bk_button("Keep it 1 h", "handoff_keep", idv, NULL));
    cJSON *sel = cJSON_CreateObject();
    cJSON_AddStringToObject(sel, "type", "users_select");
    cJSON_AddStringToObject(sel, "action_id", "handoff_choose");
    cJSON_AddItemToObject(sel, "placeholder", bk_plain("Choose someone"));
    cJSON_AddItemToArray(els, sel);
    cJSON_AddItemToArray(blocks, acts);
    cJSON *idb = cJSON_CreateObject();   /* the incident for the users_select, which has no value */
    cJSON_AddStringToObject(idb, "type", "context");
    cJSON_AddStringToObject(idb, "block_id", idv);
    cJSON *ce = cJSON_AddArrayToObject(idb, "elements");
    cJSON *ct = cJSON_CreateObject();
    cJSON_AddStringToObject(ct, "type", "mrkdwn");
    char *ctext = xasprintf("SIRT-%" PRId64 " · {{incident.channel}}", inc.id);
    cJSON_AddStringToObject(ct, "text", ctext);
    free(ctext);
    cJSON_AddItemToArray(ce, ct);
    cJSON_AddItemToArray(blocks, idb);

    char key[128];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/handoff_prompt/%" PRId64, inc.id, t->id);
    job_dm(ctx, inc.id, key, inc.owner, text, blocks);
    inc_timeline_add(ctx, inc.id, "sirtbot", "handoff_prompted",
                     "asked %s to hand off before the end of the day", inc.owner);
    free(text);
    free(title);
    free(et);
    incident_finish(&inc);
}

void handoff_auto_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    struct incident inc;
    if (!timer_still_valid(ctx, t, &inc)) {
        incident_finish(&inc);
        return;
    }
    int next = next_owner(ctx, inc.owner, ctx->now_ms());
    do_handoff(ctx, &inc, next >= 0 ? ctx->cfg->appsec[next].user : NULL, "sirtbot",
               "automatic: the owner's working day ended without an answer");
    incident_finish(&inc);
}

/* ---- commands and buttons ---- */

void handoff_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char err[256];
    const char *rest;
    if (inc_for(ctx, req->channel_id, req->args, &inc, &rest, err, sizeof(err)) != 0) {
        reply_set_text(out, "%s", err);
        return;
    }
    char user[32];
    if (!inc_authorized(ctx, &inc, req->user_id))
        reply_set_text(out, "Only the SIRT team and the people on SIRT-%" PRId64 " can hand it off.", inc.id);
    else if (txt_user_mention(rest, user, sizeof(user)))
        reply_set_text(out, "Handing SIRT-%" PRId64 " off to <@%s>.", inc.id, user);
    else
        reply_set_text(out, "Handing SIRT-%" PRId64 " off to the next engineer along the sun.", inc.id);
    incident_finish(&inc);
}

int handoff_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    char err[256];
    const char *rest;
    if (inc_for(ctx, req->channel_id, req->args, &inc, &rest, err, sizeof(err)) != 0)
        return job_result(ctx);
    if (!inc_authorized(ctx, &inc, req->user_id) || strcmp(inc.state, "open") != 0) {
        incident_finish(&inc);
        return job_result(ctx);
    }
    char user[32];
    if (txt_user_mention(rest, user, sizeof(user))) {
        do_handoff(ctx, &inc, user, req->user_id, "handed off by hand");
    } else {
        int next = next_owner(ctx, inc.owner, ctx->now_ms());
        do_handoff(ctx, &inc, next >= 0 ? ctx->cfg->appsec[next].user : NULL, req->user_id, "handed off by hand");
    }
    incident_finish(&inc);
    return job_result(ctx);
}

/* Loads the incident a button names; tells the presser when they may not
 * act on it or it is closed. */
static bool load_for_action(const struct hctx *ctx, int64_t id, const char *user, struct incident *inc,
                            const cJSON *payload, const cJSON *action)
{
    memset(inc, 0, sizeof(*inc));
    if (id <= 0 || store_incident_get(ctx->store, id, inc) != 0) {
        job_button_notice(ctx, payload, action, "handoff-unknown", "I cannot find that incident any more.", false);
        return false;
    }
    const char *why = NULL;
    if (!inc_authorized(ctx, inc, user))
        why = "Only the SIRT team and the people on this incident can hand it off.";
    else if (strcmp(inc->state, "open") != 0)
        why = "This incident is resolved: there is nothing to hand off.";
    if (why) {
        job_button_notice(ctx, payload, action, "handoff-refused", why, false);
        incident_finish(inc);
        return false;
    }
    return true;
}

int handoff_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    struct incident inc;
    if (!load_for_action(ctx, inc_parse_id(util_jstr(action, "value")), user, &inc, payload, action))
        return job_result(ctx);
    int next = next_owner(ctx, inc.owner, ctx->now_ms());
    do_handoff(ctx, &inc, next >= 0 ? ctx->cfg->appsec[next].user : NULL, user, "handed off by hand");
    incident_finish(&inc);
    return job_result(ctx);
}

int handoff_accept_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *v = util_jstr(action, "value");
    if (!v)
        return job_result(ctx);
    struct incident inc;
    if (!load_for_action(ctx, inc_parse_id(v), user, &inc, payload, action))
        return job_result(ctx);
    /* The value is "<n>|<user id>" or "<n>|secops", as the prompt wrote it;
     * anything else is refused rather than guessed at. */
    const char *bar = strchr(v, '|');
    const char *to = bar && strcmp(bar + 1, "secops") != 0 ? bar + 1 : NULL;
    char who[32] = "";
    if (!bar || (to && !txt_user_mention(to, who, sizeof(who)))) {
        job_button_notice(ctx, payload, action, "handoff-malformed", "That button does not name a handoff I "
                          "made: nothing was changed. Use `/sirt handoff SIRT-n` instead.", false);
        incident_finish(&inc);
        return job_result(ctx);
    }
    do_handoff(ctx, &inc, to ? who : NULL, user, "the owner accepted the end-of-day handoff");
    incident_finish(&inc);
    return job_result(ctx);
}

int handoff_keep_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    struct incident inc;
    if (!load_for_action(ctx, inc_parse_id(util_jstr(action, "value")), user, &inc, payload, action))
        return job_result(ctx);
    int64_t now = ctx->now_ms();
    int64_t lead = (int64_t)ctx->cfg->handoff_lead_minutes * 60000;
    int64_t auto_at = now + KEEP_MS;
    int64_t prompt_at = lead < KEEP_MS ? auto_at - lead : now + KEEP_MS / 2;
    set_timers(ctx, inc.id, inc.owner, prompt_at, auto_at);
    inc_timeline_add(ctx, inc.id, user, "handoff_kept", "kept the incident one more hour");
    char key[96];
    snprintf(key, sizeof(key), "keep/%" PRId64, now);
    char *t = xasprintf("<@%s> keeps SIRT-%" PRId64 " one more hour.", user, inc.id);
    job_post_incident(ctx, &inc, key, t, NULL);
    free(t);
    incident_finish(&inc);
    return job_result(ctx);
}

int handoff_choose_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *chosen = util_jstr(action, "selected_user");
    const char *block = util_jstr(action, "block_id");
    /* The prompt's context block carries the incident id; the select sits
     * in the actions block, so find it in the message. */
    int64_t id = 0;
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(payload, "message"), "blocks");
    const cJSON *b;
    cJSON_ArrayForEach(b, blocks) {
        const char *t = util_jstr(b, "type");
        if (t && strcmp(t, "context") == 0)
            id = inc_parse_id(util_jstr(b, "block_id"));
    }
    if (!id && block)
        id = inc_parse_id(block);
    struct incident inc;
    if (!load_for_action(ctx, id, user, &inc, payload, action))
        return job_result(ctx);
    char who[32];
    if (!chosen || !txt_user_mention(chosen, who, sizeof(who))) {
        job_button_notice(ctx, payload, action, "handoff-malformed", "Choose a person to hand the incident to: "
                          "nothing was changed.", false);
        incident_finish(&inc);
        return job_result(ctx);
    }
    do_handoff(ctx, &inc, who, user, "the owner chose who takes it");
    incident_finish(&inc);
    return job_result(ctx);
}
