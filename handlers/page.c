/* page: `/sirt page [SIRT-n]`, `/sirt resolve SIRT-n`, `/sirt oncall` (and
 * their @sirt forms), the summary's "Page on-call" and "Resolve" buttons,
 * and the page rounds every page goes through (page_round, flows.h).
 * respond() only reads the store and answers; work() and the buttons write
 * the state change and its effects (pd.trigger, pd.resolve, pd.oncall,
 * messages, timeline) as outbox jobs in the router's transaction.  Texts
 * from the report are masked before they leave. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "flows.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define TITLE_MAX 150

static bool paging_enabled(const struct hctx *ctx)
{
    return ctx->cfg && ctx->cfg->pagerduty_routing_key && ctx->cfg->pagerduty_routing_key[0];
}


static bool is_resolved(const struct incident *inc)
{
    return inc->state && strcmp(inc->state, "resolved") == 0;
}


/* ---- a button's answer to the one who pressed it ---- */


/* A unique id for one press of a button: its action_ts (two presses are
 * two requests), else the trigger id. */
static void press_id(const cJSON *payload, const cJSON *action, char *out, size_t size)
{
    const char *ts = util_jstr_set(action, "action_ts");
    const char *trig = util_jstr_set(payload, "trigger_id");
    const char *user = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    snprintf(out, size, "%s/%s", user ? user : "-", ts ? ts : trig ? trig : "0");
}

/* ---- paging ---- */

/* May user page for inc from channel?  People on the incident, and anyone
 * inside its private channel (they were invited).  0, or -1 with the
 * reason for the user in msg. */
static int page_check(const struct hctx *ctx, const struct incident *inc, const char *user, const char *channel,
                      char *msg, size_t len)
{
    if (!inc_authorized(ctx, inc, user) && !inc_in_channel(inc, channel)) {
        snprintf(msg, len, "Only the SIRT team and the people on SIRT-%" PRId64 " can page for it. "
                           "If you have news about it, tell the SIRT team.", inc->id);
        return -1;
    }
    if (is_resolved(inc)) {
        snprintf(msg, len, "SIRT-%" PRId64 " is resolved, so I did not page. If it is back, report it again "
                           "with `/sirt report`.", inc->id);
        return -1;
    }
    if (!paging_enabled(ctx)) {
        snprintf(msg, len, "Paging is disabled: PAGERDUTY_ROUTING_KEY is not set for sirtbot, so nothing was "
                           "sent to PagerDuty. Page the security on-call by hand.");
        return -1;
    }
    return 0;
}

/* ---- page rounds ---- */

int page_round(const struct hctx *ctx, int64_t incident_id, bool new_round, const char *reason, char *key,
               size_t len, bool *is_new)
{
    if (is_new)
        *is_new = false;
    if (!new_round) {
        struct page_round open;
        memset(&open, 0, sizeof(open));
        int rc = store_page_open(ctx->store, incident_id, &open);
        if (rc == 0) {
            str_lcpy(key, open.dedup_key, len);
            int round = open.round;
            page_round_finish(&open);
            return round;
        }
        if (rc != STORE_ENOTFOUND)
            return rc;
    }
    int last = store_page_last_round(ctx->store, incident_id);
    if (last < 0)
        return last;
    int round = last + 1;
    if (round == 1)
        snprintf(key, len, "SIRT-%" PRId64, incident_id);
    else
        snprintf(key, len, "SIRT-%" PRId64 "/page-%d", incident_id, round);
    int rc = store_page_add(ctx->store, incident_id, round, key, reason, ctx->now_ms());
    if (rc != 0)
        return rc;
    if (is_new)
        *is_new = true;
    page_ack_plan(ctx, incident_id, key);
    LOG_INFO("page round opened", "incident:l round:d dedup_key:s reason:s", (long long)incident_id, round, key,
             reason);
    return round;
}

int64_t page_oncall_invite(const struct hctx *ctx, int64_t incident_id, const char *idem_key, const char *dedup_key,
                           int64_t after, int64_t channel_job, int64_t project_job)
{
    const struct cfg *c = ctx->cfg;
    if (!c->secops_schedule && !c->secops_fallback_user)
        return 0;
    cJSON *p = cJSON_CreateObject();
    if (c->secops_schedule)
        cJSON_AddStringToObject(p, "schedule", c->secops_schedule);
    if (c->secops_fallback_user)
        cJSON_AddStringToObject(p, "fallback_user", c->secops_fallback_user);
    cJSON_AddTrueToObject(p, "invite");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "page"), "dedup_key", dedup_key);
    if (channel_job > 0)
        cJSON_AddNumberToObject(p, "channel_job", (double)channel_job);
    if (project_job > 0)
        cJSON_AddNumberToObject(p, "project_job", (double)project_job);
    int64_t id = outbox_add(ctx->store, incident_id, idem_key, "pd.oncall", p, after > 0 ? &after : NULL,
                            after > 0 ? 1 : 0, 0);
    cJSON_Delete(p);
    return id;
}

void page_plan(const struct hctx *ctx, const struct incident *inc, const char *user, const char *req_id,
               const char *reason)
{
    bool by_severity = reason && strcmp(reason, "severity") == 0;
    char dedup[64];
    bool is_new = false;
    int round = page_round(ctx, inc->id, false, by_severity ? "severity" : "page", dedup, sizeof(dedup), &is_new);
    if (round < 0) {
        LOG_ERROR("page: cannot record the page round", "incident:l error:s", (long long)inc->id,
                  store_strerror(round));
        return;
    }
    char *title = txt_clean(inc->title, TITLE_MAX);
    cJSON *p = cJSON_CreateObject();
    char *sum = xasprintf("SIRT-%" PRId64 " [S%d/P%d] %s", inc->id, inc->severity, inc->priority, title);
    cJSON_AddStringToObject(p, "summary", sum);
    free(sum);
    cJSON_AddStringToObject(p, "dedup_key", dedup);
    cJSON_AddStringToObject(p, "severity", txt_pd_severity(inc->severity));
    cJSON_AddStringToObject(p, "source", "sirtbot");
    const char *comp = inc->component && inc->component[0] ? inc->component : "unknown";
    cJSON_AddStringToObject(p, "component", comp);
    cJSON *cd = cJSON_AddObjectToObject(p, "custom_details");
    char sirt[32];
    snprintf(sirt, sizeof(sirt), "SIRT-%" PRId64, inc->id);
    cJSON_AddStringToObject(cd, "incident", sirt);
    cJSON_AddNumberToObject(cd, "page_round", round);
    cJSON_AddStringToObject(cd, "component", comp);
    char sp[8];
    snprintf(sp, sizeof(sp), "S%d", inc->severity);
    cJSON_AddStringToObject(cd, "severity", sp);
    snprintf(sp, sizeof(sp), "P%d", inc->priority);
    cJSON_AddStringToObject(cd, "priority", sp);
    if (inc->reporter)
        cJSON_AddStringToObject(cd, "reporter", inc->reporter);
    cJSON_AddStringToObject(cd, "paged_by", user);
    char key[256];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/page/%s", inc->id, req_id);
    int64_t j_page = outbox_add(ctx->store, inc->id, key, "pd.trigger", p, NULL, 0, 0);
    cJSON_Delete(p);
    free(title);
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/page/%s/oncall", inc->id, req_id);
    page_oncall_invite(ctx, inc->id, key, dedup, j_page, 0, 0);

    char *text;
    if (by_severity) {
        inc_timeline_add(ctx, inc->id, user, "paged", "security on-call paged: <@%s> raised the incident to S%d/P%d "
                         "(%s page round %d, dedup_key %s)", user, inc->severity, inc->priority,
                         is_new ? "new" : "open", round, dedup);
        text = xasprintf(":rotating_light: SIRT-%" PRId64 " is now S%d/P%d: the security on-call is being paged "
                         "(PagerDuty page `%s`).", inc->id, inc->severity, inc->priority, dedup);
    } else {
        inc_timeline_add(ctx, inc->id, user, "paged",
                         "security on-call paged by <@%s> (%s page round %d, dedup_key %s)",
                         user, is_new ? "new" : "open", round, dedup);
        text = is_new ? xasprintf(":rotating_light: <@%s> paged the security on-call (PagerDuty page `%s`).",
                                  user, dedup)
                      : xasprintf(":rotating_light: <@%s> paged the security on-call again (PagerDuty page `%s`, "
                                  "still open).", user, dedup);
    }
    job_post_incident_req(ctx, inc, "paged", req_id, text);
    LOG_INFO("page requested", "incident:l user:s", (long long)inc->id, user);
}

void page_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char msg[300];
    if (inc_for_reply(ctx, req, &inc, out) != 0)
        return;
    if (page_check(ctx, &inc, req->user_id, req->channel_id, msg, sizeof(msg)) != 0)
        reply_set_text(out, "%s", msg);
    else if (req->source == REQ_SLASH || !inc_in_channel(&inc, req->channel_id))
        reply_set_text(out, "Paging the security on-call for SIRT-%" PRId64 "…", inc.id);
    /* else: inside the incident channel the channel message says it */
    incident_finish(&inc);
}

int page_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    char msg[300];
    if (inc_for_req(ctx, req, &inc) != 0)
        return job_result(ctx);   /* respond() told the user */
    if (page_check(ctx, &inc, req->user_id, req->channel_id, msg, sizeof(msg)) == 0) {
        char id[200];
        job_request_key(req, "req", id, sizeof(id));
        page_plan(ctx, &inc, req->user_id, id, "page");
    }
    incident_finish(&inc);
    return job_result(ctx);
}

int page_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *channel = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    struct incident inc;
    if (!user)
        return job_result(ctx);
    if (inc_for_button(ctx, payload, action, "page", false, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    if (page_check(ctx, &inc, user, channel, msg, sizeof(msg)) != 0) {
        job_button_notice(ctx, payload, action, "page-refused", msg, false);
    } else {
        char id[200];
        press_id(payload, action, id, sizeof(id));
        page_plan(ctx, &inc, user, id, "page");
    }
    incident_finish(&inc);
    return job_result(ctx);
}

/* ---- resolving ---- */

int resolve_check(const struct hctx *ctx, const struct incident *inc, const char *user, char *msg, size_t len)
{
    if (!inc_authorized(ctx, inc, user)) {
        snprintf(msg, len, "Sorry, only the SIRT team, the owner of SIRT-%" PRId64 " and the people on it can "
                           "resolve it. Ask one of them.", inc->id);
        return -1;
    }
    if (is_resolved(inc)) {
        snprintf(msg, len, "SIRT-%" PRId64 " is already resolved.", inc->id);
        return -1;
    }
    return 0;
}

struct resolve_ctx {
    const struct hctx *ctx;
    const char *req_id;
    bool paging;
    int n;                      /* open rounds */
};

/* One pd.resolve per open page round, each under its own dedup_key. */
static bool resolve_round(void *ud, const struct page_round *r)
{
    struct resolve_ctx *c = ud;
    if (r->resolved_ms != 0)
        return true;
    c->n++;
    if (!c->paging)
        return true;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "dedup_key", r->dedup_key);
    char key[256];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/pd_resolve/%s/%d", r->incident_id, c->req_id, r->round);
    outbox_add(c->ctx->store, r->incident_id, key, "pd.resolve", p, NULL, 0, 0);
    cJSON_Delete(p);
    return true;
}

void resolve_plan(const struct hctx *ctx, const struct incident *inc, const char *user, const char *req_id)
{
    int64_t now = ctx->now_ms();
    store_incident_set_text(ctx->store, inc->id, "state", "resolved", now);
    store_incident_set_int(ctx->store, inc->id, "resolved_ms", now, now);
    store_timers_cancel_incident(ctx->store, inc->id);
    struct resolve_ctx rc = { ctx, req_id, paging_enabled(ctx), 0 };
    store_pages_list(ctx->store, inc->id, resolve_round, &rc);
    if (rc.paging)
        page_ack_resolve(ctx, inc->id, req_id);   /* the escalation pages too */
    store_page_resolve(ctx->store, inc->id, NULL, now);
    bool paging = rc.paging && rc.n > 0;
    inc_timeline_add(ctx, inc->id, user, "resolved", "incident resolved by <@%s>", user);
    /* Close-out (closeout.c): the GitLab issue closed, with the timeline. */
    struct incident now_resolved = *inc;   /* shallow: the strings stay inc's */
    now_resolved.state = (char *)"resolved";
    now_resolved.resolved_ms = now;
    bool issue = closeout_resolved(ctx, &now_resolved, user, req_id);   /* its note shows the state just set */
    char *text = xasprintf(":white_check_mark: <@%s> resolved SIRT-%" PRId64 ".%s%s Reminders and follow-ups "
                           "for it are stopped. Use `/sirt timeline SIRT-%" PRId64 "` for the postmortem, and "
                           "`/sirt reopen SIRT-%" PRId64 "` if it comes back.",
                           user, inc->id,
                           !paging ? "" : rc.n == 1 ? " Its PagerDuty page is being resolved too."
                                                    : " Its PagerDuty pages are being resolved too.",
                           issue ? " Its GitLab issue is being closed (label `incident::resolved`), with the "
                                   "timeline added as a note." : "",
                           inc->id, inc->id);
    job_post_incident_req(ctx, inc, "resolved", req_id, text);
    LOG_INFO("incident resolved", "incident:l user:s", (long long)inc->id, user);
}

void resolve_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char msg[300];
    if (inc_for_reply(ctx, req, &inc, out) != 0)
        return;
    if (resolve_check(ctx, &inc, req->user_id, msg, sizeof(msg)) != 0)
        reply_set_text(out, "%s", msg);
    else if (release_gate(ctx, &inc)) {
        /* S1/P1 without a long-term fix: confirm first (release.c). */
        if (req->source == REQ_SLASH)
            release_confirm_reply(&inc, out);
        /* else: work() sends the question ephemerally */
    } else if (req->source == REQ_SLASH || !inc_in_channel(&inc, req->channel_id))
        reply_set_text(out, "Resolving SIRT-%" PRId64 "…", inc.id);
    incident_finish(&inc);
}

int resolve_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    char msg[300];
    if (inc_for_req(ctx, req, &inc) != 0)
        return job_result(ctx);
    if (resolve_check(ctx, &inc, req->user_id, msg, sizeof(msg)) == 0) {
        char id[200];
        job_request_key(req, "req", id, sizeof(id));
        if (!release_gate(ctx, &inc))
            resolve_plan(ctx, &inc, req->user_id, id);
        else if (req->source != REQ_SLASH)
            release_confirm_ephemeral(ctx, &inc, req->channel_id, req->user_id, id);
    }
    incident_finish(&inc);
    return job_result(ctx);
}

int resolve_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    struct incident inc;
    if (!user)
        return job_result(ctx);
    if (inc_for_button(ctx, payload, action, "resolve", false, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    if (resolve_check(ctx, &inc, user, msg, sizeof(msg)) != 0) {
        job_button_notice(ctx, payload, action, "resolve-refused", msg, false);
    } else {
        char id[200];
        press_id(payload, action, id, sizeof(id));
        if (release_gate(ctx, &inc))
            release_confirm_button(ctx, &inc, payload, action);
        else
            resolve_plan(ctx, &inc, user, id);
    }
    incident_finish(&inc);
    return job_result(ctx);
}

/* ---- who is on call ---- */

static bool oncall_configured(const struct hctx *ctx)
{
    const struct cfg *c = ctx->cfg;
    return c && ((c->secops_schedule && c->secops_schedule[0]) || (c->secops_fallback_user && c->secops_fallback_user[0]));
}

void oncall_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    if (!oncall_configured(ctx)) {
        reply_set_text(out, "I cannot tell who is on call: neither `secops_oncall.pagerduty_schedule` nor "
                            "`secops_oncall.fallback_user` is set in the sirtbot config.");
        return;
    }
    if (req->source == REQ_SLASH)
        reply_set_text(out, "Looking up the security on-call…");
    /* mention/DM: the answer is posted where it was asked */
}

int oncall_work(const struct hctx *ctx, const struct sirt_req *req)
{
    if (!oncall_configured(ctx))
        return job_result(ctx);
    const struct cfg *c = ctx->cfg;
    cJSON *p = cJSON_CreateObject();
    if (c->secops_schedule && c->secops_schedule[0])
        cJSON_AddStringToObject(p, "schedule", c->secops_schedule);
    if (c->secops_fallback_user && c->secops_fallback_user[0])
        cJSON_AddStringToObject(p, "fallback_user", c->secops_fallback_user);
    cJSON *reply = cJSON_AddObjectToObject(p, "reply");
    if (req->source == REQ_SLASH && req->response_url) {
        cJSON_AddStringToObject(reply, "url", req->response_url);
    } else {
        cJSON_AddStringToObject(reply, "channel", req->channel_id);
        if (req->thread_ts)
            cJSON_AddStringToObject(reply, "thread_ts", req->thread_ts);
    }
    char key[200];
    job_request_key(req, "oncall", key, sizeof(key));
    outbox_add(ctx->store, 0, key, "pd.oncall", p, NULL, 0, 0);
    cJSON_Delete(p);
    return job_result(ctx);
}
