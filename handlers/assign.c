/* assign: `/sirt assign SIRT-n @user` (and `@sirt assign ...`): makes a
 * user the incident's appsec owner.  Only people who may see the incident
 * may assign it.  work() records the owner and the membership, then
 * invites the new owner to the channel, briefs them by DM, tells the
 * channel and replans the owner's end-of-day hand-off (handoff_plan), all
 * as outbox jobs and timers in the router's transaction. */
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
#include "flows.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define TITLE_MAX 150

/* Parses the request: the incident and the new owner.  0, or -1 with a
 * message for the asker. */
static int assign_parse(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc, char *user,
                        size_t ulen, char *msg, size_t len)
{
    const char *rest = NULL;
    if (inc_for(ctx, req->channel_id, req->args, inc, &rest, msg, len) != 0)
        return -1;
    if (!rest || !*rest || !txt_user_mention(rest, user, ulen)) {
        snprintf(msg, len, "Usage: `assign SIRT-%" PRId64 " @user`: mention the new owner so Slack sends their id.",
                 inc->id);
        incident_finish(inc);
        return -1;
    }
    if (!inc_authorized(ctx, inc, req->user_id)) {
        snprintf(msg, len, "Sorry, only the SIRT team, the owner of SIRT-%" PRId64 " and the people on it can "
                           "assign it.", inc->id);
        incident_finish(inc);
        return -1;
    }
    if (ctx->bot_user_id[0] && strcmp(user, ctx->bot_user_id) == 0) {
        snprintf(msg, len, "I cannot own an incident: assign SIRT-%" PRId64 " to a person.", inc->id);
        incident_finish(inc);
        return -1;
    }
    if (inc->owner && strcmp(inc->owner, user) == 0) {
        snprintf(msg, len, "<@%s> already owns SIRT-%" PRId64 ".", user, inc->id);
        incident_finish(inc);
        return -1;
    }
    return 0;
}

void assign_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char user[32], msg[300];
    if (assign_parse(ctx, req, &inc, user, sizeof(user), msg, sizeof(msg)) != 0) {
        reply_set_text(out, "%s", msg);
        return;
    }
    if (req->source == REQ_SLASH)
        reply_set_text(out, "Assigning SIRT-%" PRId64 " to <@%s>…", inc.id, user);
    else if (!inc_reply_private(ctx, req, &inc))
        reply_set_text(out, "Done: SIRT-%" PRId64 " has a new owner. The incident channel has the details.", inc.id);
    /* in the incident channel, the channel message says it */
    incident_finish(&inc);
}

int assign_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    char user[32], msg[300];
    if (assign_parse(ctx, req, &inc, user, sizeof(user), msg, sizeof(msg)) != 0)
        return job_result(ctx);   /* respond() told the asker */
    int64_t now = ctx->now_ms();
    char rk[200], key[256];
    job_request_key(req, "assign", rk, sizeof(rk));
    char *old = inc.owner;

    store_incident_set_text(ctx->store, inc.id, "owner", user, now);
    store_member_add(ctx->store, inc.id, user, "owner", now);
    if (old)
        inc_timeline_add(ctx, inc.id, req->user_id, "assigned", "owner changed from <@%s> to <@%s> by <@%s>", old, user,
                         req->user_id);
    else
        inc_timeline_add(ctx, inc.id, req->user_id, "assigned", "<@%s> assigned as owner by <@%s>", user, req->user_id);

    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "users"), cJSON_CreateString(user));
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/invite", inc.id, rk);
    outbox_add(ctx->store, inc.id, key, "slack.invite", p, NULL, 0, 0);
    cJSON_Delete(p);

    char *title = txt_clean(inc.title, TITLE_MAX);
    char *etitle = txt_mrkdwn(title);
    char *dm = xasprintf("<@%s> made you the appsec owner of security incident *SIRT-%" PRId64 "*: %s (S%d, P%d). "
                         "You have been invited to {{incident.channel}}; GitLab: {{incident.issue_link}}. "
                         "The pinned summary there has the reproduction steps; `/sirt status SIRT-%" PRId64 "` "
                         "shows decisions and next steps. Near the end of your working day I will help you hand "
                         "it off.",
                         req->user_id, inc.id, etitle, inc.severity, inc.priority, inc.id);
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/dm", inc.id, rk);
    job_dm(ctx, inc.id, key, user, dm, NULL);
    free(dm);
    free(etitle);
    free(title);

    char *text = old ? xasprintf(":bust_in_silhouette: <@%s> assigned SIRT-%" PRId64 " to <@%s> (was <@%s>).",
                                 req->user_id, inc.id, user, old)
                     : xasprintf(":bust_in_silhouette: <@%s> assigned SIRT-%" PRId64 " to <@%s>.", req->user_id,
                                 inc.id, user);
    snprintf(key, sizeof(key), "%s/post", rk);
    job_post_incident(ctx, &inc, key, text, NULL);
    free(text);

    inc.owner = xstrdup(user);
    handoff_plan(ctx, &inc);
    free(old);
    LOG_INFO("incident assigned", "incident:l owner:s by:s", (long long)inc.id, user, req->user_id);
    incident_finish(&inc);
    return job_result(ctx);
}
