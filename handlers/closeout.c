/* closeout: what resolving an incident closes and `/sirt reopen SIRT-n`
 * opens again.  At resolve (closeout_resolved, called by page.c's
 * resolve_plan) the GitLab issue is closed with label incident::resolved
 * and gets the timeline as a note, with people's names; reopen (SIRT team
 * only) sets the incident open, reopens the issue, plans the reminders and
 * follow-ups again and tells the channel.  Everything is store writes and
 * outbox jobs in the router's transaction; state-bound jobs carry
 * "if_state" so the outbox drops them once the incident moved on. */
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

#define RESOLVED_LABEL "incident::resolved"

static bool gitlab_on(const struct hctx *ctx)
{
    return ctx->cfg && ctx->cfg->gitlab_url && ctx->cfg->gitlab_url[0];
}

static bool is_resolved(const struct incident *inc)
{
    return inc->state && strcmp(inc->state, "resolved") == 0;
}

/* PUT state_event (+ labels) on the incident's issue, sent only while the
 * incident is still in state want. */
static void issue_state(const struct hctx *ctx, const struct incident *inc, const char *key, const char *event,
                        const char *add, const char *remove, const char *want)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "state_event", event);
    if (add)
        cJSON_AddStringToObject(p, "add_labels", add);
    if (remove)
        cJSON_AddStringToObject(p, "remove_labels", remove);
    cJSON_AddStringToObject(p, "if_state", want);
    outbox_add(ctx->store, inc->id, key, "gitlab.issue_state", p, NULL, 0, 0);
    cJSON_Delete(p);
}

int64_t closeout_note(const struct hctx *ctx, const struct incident *inc, const char *key_suffix, const char *body)
{
    if (!gitlab_on(ctx))
        return 0;
    char key[256], marker[300];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s", inc->id, key_suffix);
    snprintf(marker, sizeof(marker), "sirt:%s:%016llx", key, (unsigned long long)util_rand64());
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "body", body);
    cJSON_AddStringToObject(p, "marker", marker);
    cJSON_AddTrueToObject(p, "names");   /* {{user.<id>}} -> names at send time */
    int64_t id = outbox_add(ctx->store, inc->id, key, "gitlab.note", p, NULL, 0, 0);
    cJSON_Delete(p);
    return id;
}

bool closeout_resolved(const struct hctx *ctx, const struct incident *inc, const char *user, const char *req_id)
{
    if (!gitlab_on(ctx))
        return false;
    char key[256];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/issue_close/%s", inc->id, req_id);
    issue_state(ctx, inc, key, "close", RESOLVED_LABEL, NULL, "resolved");
    /* The timeline as it stands, this resolve included. */
    char *md = timeline_markdown(ctx, inc);
    char *body = xasprintf("**SIRT-%" PRId64 " resolved** by {{user.%s}}. The incident's timeline for the "
                           "postmortem:\n\n%s", inc->id, user, md);
    snprintf(key, sizeof(key), "resolved_timeline/%s", req_id);
    closeout_note(ctx, inc, key, body);
    free(body);
    free(md);
    return true;
}

/* ---- /sirt reopen ---- */

static int reopen_check(const struct hctx *ctx, const struct incident *inc, const char *user, char *msg, size_t len)
{
    if (!cfg_strv_has(&ctx->cfg->sirt_team, user)) {
        snprintf(msg, len, "Sorry, only the SIRT team can reopen an incident. If SIRT-%" PRId64 " is back, tell "
                           "them (or report it again with `/sirt report`).", inc->id);
        return -1;
    }
    if (!is_resolved(inc)) {
        snprintf(msg, len, "SIRT-%" PRId64 " is not resolved: nothing to reopen.", inc->id);
        return -1;
    }
    return 0;
}

struct replan_ctx {
    const struct hctx *ctx;
    int64_t now;
    int n;
};

/* A delivered fix nobody validated yet: ask again, when it was due (or now). */
static bool replan_validation(void *ud, const struct decision *d)
{
    struct replan_ctx *c = ud;
    if (!d->fix_delivered_ms || d->validated != -1)
        return true;
    int minutes = c->ctx->cfg->validate_after_minutes > 0 ? c->ctx->cfg->validate_after_minutes : 240;
    int64_t due = d->fix_delivered_ms + (int64_t)minutes * 60000;
    if (due < c->now)
        due = c->now;
    char tkey[64], tp[64];
    snprintf(tkey, sizeof(tkey), "validate/%" PRId64, d->id);
    snprintf(tp, sizeof(tp), "{\"decision\":%" PRId64 "}", d->id);
    store_timer_set(c->ctx->store, tkey, "validate_prompt", d->incident_id, due, tp, c->now);
    c->n++;
    return true;
}

static void plan_reopen(const struct hctx *ctx, const struct incident *old, const char *user, const char *req_id)
{
    int64_t now = ctx->now_ms();
    store_incident_set_text(ctx->store, old->id, "state", "open", now);
    store_incident_set_int(ctx->store, old->id, "resolved_ms", 0, now);
    inc_timeline_add(ctx, old->id, user, "reopened", "incident reopened by <@%s>", user);
    struct incident inc;
    if (store_incident_get(ctx->store, old->id, &inc) != 0)
        return;   /* the write failed: job_result reports it */
    /* Reminders and follow-ups, as they were before the resolve. */
    handoff_plan(ctx, &inc);
    release_plan(ctx, &inc);
    struct replan_ctx rc = { ctx, now, 0 };
    store_decisions_list(ctx->store, inc.id, replan_validation, &rc);

    char key[256];
    bool gl = gitlab_on(ctx);
    if (gl) {
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/issue_reopen/%s", inc.id, req_id);
        issue_state(ctx, &inc, key, "reopen", NULL, RESOLVED_LABEL, "open");
    }
    char *text = xasprintf(":arrows_counterclockwise: <@%s> reopened SIRT-%" PRId64 ". Its reminders and "
                           "follow-ups are planned again%s.%s", user, inc.id,
                           inc.owner ? " (owner: {{incident.owner_mention}})" : "",
                           gl ? " Its GitLab issue is being reopened." : "");
    job_post_incident_req(ctx, &inc, "reopened", req_id, text);
    LOG_INFO("incident reopened", "incident:l user:s validations:d", (long long)inc.id, user, rc.n);
    incident_finish(&inc);
}

void reopen_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char msg[300];
    if (inc_for_reply(ctx, req, &inc, out) != 0)
        return;
    if (reopen_check(ctx, &inc, req->user_id, msg, sizeof(msg)) != 0)
        reply_set_text(out, "%s", msg);
    else if (req->source == REQ_SLASH || !inc_in_channel(&inc, req->channel_id))
        reply_set_text(out, "Reopening SIRT-%" PRId64 "…", inc.id);
    incident_finish(&inc);
}

int reopen_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    char msg[300];
    if (inc_for_req(ctx, req, &inc) != 0)
        return job_result(ctx);
    if (reopen_check(ctx, &inc, req->user_id, msg, sizeof(msg)) == 0) {
        char id[200];
        job_request_key(req, "req", id, sizeof(id));
        plan_reopen(ctx, &inc, req->user_id, id);
    }
    incident_finish(&inc);
    return job_result(ctx);
}
