/* add: people added to an incident as needed — `/sirt add [SIRT-n] @user …`
 * (and `@sirt add …`), and the summary's "Add people" button with its modal
 * (a multi_users_select).  Only the SIRT team and the people on the
 * incident may add, re-checked at work time and on the modal's submission.
 * Each new person is recorded as a member and on the timeline (kind
 * "added"), invited to the channel, added to the GitLab project when their
 * GitLab username is known, and sent the context brief by DM (once per
 * person and incident).  Runs in the router's transaction; effects are
 * outbox jobs.  Nothing here outlives the call. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/blockkit.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "bk.h"
#include "flows.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define ADD_MAX 20            /* people per request, as the modal's max_selected_items */
#define USER_ID_MAX 32

/* Who a request names, without repeats, and whether each is already on
 * the incident. */
struct add_list {
    char user[ADD_MAX][USER_ID_MAX];
    bool present[ADD_MAX];
    size_t n;
};

static const char usage[] = "Usage: `add [SIRT-n] @user …`: mention each person (so Slack sends their id); "
                            "inside the incident's channel the incident is implied.";

/* Adds user unless listed already; false when the list is full. */
static bool list_push(struct add_list *l, const char *user)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->user[i], user) == 0)
            return true;
    if (l->n >= ADD_MAX)
        return false;
    str_lcpy(l->user[l->n++], user, USER_ID_MAX);
    return true;
}

/* Is user on the incident already (reporter, owner, recorded member, or
 * the bot itself, which is in every incident channel)? */
static bool on_incident(const struct hctx *ctx, const struct incident *inc, const char *user)
{
    if (ctx->bot_user_id[0] && strcmp(user, ctx->bot_user_id) == 0)
        return true;
    if ((inc->reporter && strcmp(inc->reporter, user) == 0) || (inc->owner && strcmp(inc->owner, user) == 0))
        return true;
    return store_member_is(ctx->store, inc->id, user) == 1;
}

static void list_classify(const struct hctx *ctx, const struct incident *inc, struct add_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->present[i] = on_incident(ctx, inc, l->user[i]);
}

static size_t list_count(const struct add_list *l, bool present)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++)
        k += l->present[i] == present;
    return k;
}

/* "<@U1>, <@U2> and <@U3>" of those with present == want. */
static void list_mentions(const struct add_list *l, bool want, struct buf *b)
{
    size_t total = list_count(l, want), k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->present[i] != want)
            continue;
        if (k)
            buf_puts(b, k + 1 == total ? " and " : ", ");
        buf_printf(b, "<@%s>", l->user[i]);
        k++;
    }
}

static const char *refusal(const struct incident *inc, char *msg, size_t len)
{
    snprintf(msg, len, "Sorry, only the SIRT team and the people on SIRT-%" PRId64 " can add people to it. "
                       "Nothing was changed.", inc->id);
    return msg;
}

/* Parses a command: the incident, then who may add, then the mentions.
 * 0 (inc filled, caller finishes it), or -1 with a message for the asker. */
static int add_parse(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc, struct add_list *l,
                     char *msg, size_t len)
{
    memset(l, 0, sizeof(*l));
    const char *rest = NULL;
    char err[256];
    if (inc_for(ctx, req->channel_id, req->args, inc, &rest, err, sizeof(err)) != 0) {
        snprintf(msg, len, "%s\n%s", err, usage);
        return -1;
    }
    if (!inc_authorized(ctx, inc, req->user_id)) {
        refusal(inc, msg, len);
        incident_finish(inc);
        return -1;
    }
    const char *p = rest ? rest : "";
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && !isspace((unsigned char)*end) && *end != ',')
            end++;
        char word[128], user[USER_ID_MAX];
        size_t wl = (size_t)(end - p) < sizeof(word) ? (size_t)(end - p) : sizeof(word) - 1;
        memcpy(word, p, wl);
        word[wl] = '\0';
        if (!txt_user_mention(word, user, sizeof(user))) {
            snprintf(msg, len, "I cannot tell who that is: everything after the incident must be a mention "
                               "(@person).\n%s", usage);
            incident_finish(inc);
            return -1;
        }
        if (!list_push(l, user)) {
            snprintf(msg, len, "At most %d people at once, please.", ADD_MAX);
            incident_finish(inc);
            return -1;
        }
        p = end;
    }
    if (!l->n) {
        snprintf(msg, len, "Whom should I add to SIRT-%" PRId64 "?\n%s", inc->id, usage);
        incident_finish(inc);
        return -1;
    }
    list_classify(ctx, inc, l);
    return 0;
}

/* Adds the people of l not yet on inc (by: who asked; rk: this request's
 * key) and re-invites those already on it to the channel.  The DM and the
 * GitLab membership are keyed by incident and person, so a person is
 * briefed once whatever path adds them. */
static void add_apply(const struct hctx *ctx, const struct incident *inc, const char *by, const struct add_list *l,
                      const char *rk)
{
    const struct cfg *cfg = ctx->cfg;
    int64_t now = ctx->now_ms();
    char key[256];
    char *reason = xasprintf("added by <@%s>", by);

    cJSON *inv = cJSON_CreateObject();
    cJSON *users = cJSON_AddArrayToObject(inv, "users");
    struct buf gl;
    buf_init(&gl, 0);
    for (size_t i = 0; i < l->n; i++) {
        const char *u = l->user[i];
        if (ctx->bot_user_id[0] && strcmp(u, ctx->bot_user_id) == 0)
            continue;
        cJSON_AddItemToArray(users, cJSON_CreateString(u));   /* already_in_channel is fine */
        if (l->present[i])
            continue;
        store_member_add(ctx->store, inc->id, u, "added", now);
        inc_timeline_add(ctx, inc->id, by, "added", "%s", u);

        char *brief = handoff_brief(ctx, inc, reason, BRIEF_ADDED);
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/added/%s/brief", inc->id, u);
        job_dm(ctx, inc->id, key, u, brief, NULL);
        free(brief);

        const char *gu = cfg_gitlab_user(cfg, u);
        if (gu && cfg->gitlab_url) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "usernames"), cJSON_CreateString(gu));
            cJSON_AddNumberToObject(p, "access_level", 30);   /* Developer, as the other responders */
            snprintf(key, sizeof(key), "SIRT-%" PRId64 "/added/%s/gitlab_member", inc->id, u);
            outbox_add(ctx->store, inc->id, key, "gitlab.add_members", p, NULL, 0, 0);
            cJSON_Delete(p);
            buf_printf(&gl, "%s`%s`", gl.len ? ", " : "", gu);
        }
    }
    if (cJSON_GetArraySize(users) > 0) {
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/invite", inc->id, rk);
        outbox_add(ctx->store, inc->id, key, "slack.invite", inv, NULL, 0, 0);
    }
    cJSON_Delete(inv);

    if (list_count(l, false) > 0) {
        struct buf t;
        buf_init(&t, 0);
        buf_printf(&t, ":heavy_plus_sign: <@%s> added ", by);
        list_mentions(l, false, &t);
        buf_printf(&t, " to SIRT-%" PRId64 ": invited here and briefed by DM", inc->id);
        if (gl.len)
            buf_printf(&t, "; GitLab project access for %s", gl.data);
        buf_puts(&t, ".");
        if (list_count(l, true) > 0) {
            buf_puts(&t, " Already on it: ");
            list_mentions(l, true, &t);
            buf_puts(&t, ".");
        }
        snprintf(key, sizeof(key), "%s/post", rk);
        job_post_incident(ctx, inc, key, t.data, NULL);
        buf_finish(&t);
    }
    LOG_INFO("people added", "incident:l by:s added:l already:l", (long long)inc->id, by,
             (long long)list_count(l, false), (long long)list_count(l, true));
    buf_finish(&gl);
    free(reason);
}

/* What the asker is told: who is being added, who was there already. */
static char *summary_text(const struct incident *inc, const struct add_list *l)
{
    struct buf b;
    buf_init(&b, 0);
    if (list_count(l, false)) {
        buf_puts(&b, "Adding ");
        list_mentions(l, false, &b);
        buf_printf(&b, " to SIRT-%" PRId64 ": invited to the channel, added to the GitLab project when I know "
                       "their GitLab username, and briefed by DM.", inc->id);
    }
    if (list_count(l, true)) {
        if (b.len)
            buf_puts(&b, " ");
        list_mentions(l, true, &b);
        buf_printf(&b, " %s already on SIRT-%" PRId64 "%s.", list_count(l, true) == 1 ? "is" : "are", inc->id,
                   list_count(l, false) ? "" : ": nothing new to do (invited to the channel again in case they left)");
    }
    return buf_take(&b);
}

void add_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    struct add_list l;
    char msg[600];
    if (add_parse(ctx, req, &inc, &l, msg, sizeof(msg)) != 0) {
        reply_set_text(out, "%s", msg);
        return;
    }
    if (!inc_reply_private(ctx, req, &inc)) {
        reply_set_text(out, "Done: SIRT-%" PRId64 " has the people you named. The incident channel has the details.",
                       inc.id);
    } else if (req->source == REQ_SLASH || req->source == REQ_DM || list_count(&l, true)) {
        /* In the incident channel the bot's own post names the new people. */
        char *t = summary_text(&inc, &l);
        reply_set_text(out, "%s", t);
        free(t);
    }
    incident_finish(&inc);
}

int add_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    struct add_list l;
    char msg[600], rk[200];
    if (add_parse(ctx, req, &inc, &l, msg, sizeof(msg)) != 0)
        return job_result(ctx);   /* respond() told the asker; nothing happens */
    job_request_key(req, "add", rk, sizeof(rk));
    add_apply(ctx, &inc, req->user_id, &l, rk);
    incident_finish(&inc);
    return job_result(ctx);
}

/* ---- the Add people button and its modal ---- */

static cJSON *add_view(int64_t incident_id)
{
    char meta[64];
    snprintf(meta, sizeof(meta), "{\"incident\":%" PRId64 "}", incident_id);
    char *intro = xasprintf("*SIRT-%" PRId64 "*: each person is invited to the incident channel, added to the "
                            "GitLab project when their GitLab username is known, and briefed by DM "
                            "(reproduction, decisions, next steps).", incident_id);
    cJSON *blocks;
    cJSON *v = bk_form("Add people", "Add", "sirt_add", meta, intro, &blocks);
    free(intro);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "multi_users_select");
    cJSON_AddStringToObject(e, "action_id", "users");
    cJSON_AddItemToObject(e, "placeholder", bk_plain_max("Choose people", BK_PLACEHOLDER));
    cJSON_AddNumberToObject(e, "max_selected_items", ADD_MAX);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "input");
    cJSON_AddStringToObject(b, "block_id", "people");
    cJSON_AddItemToObject(b, "label", bk_plain_max("People to add", BK_LABEL));
    cJSON_AddItemToObject(b, "element", e);
    cJSON_AddItemToArray(blocks, b);
    return v;
}

int add_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    struct incident inc;
    if (!user)
        return job_result(ctx);
    if (inc_for_button(ctx, payload, action, "add", false, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    const char *trigger = util_jstr(payload, "trigger_id");
    if (!inc_authorized(ctx, &inc, user)) {
        job_button_notice(ctx, payload, action, "add-refused", refusal(&inc, msg, sizeof(msg)), false);
    } else if (!trigger) {
        LOG_WARN("add: no trigger_id, cannot open the form", "incident:l", (long long)inc.id);
    } else {
        job_views_open(ctx, inc.id, trigger, add_view(inc.id));
    }
    incident_finish(&inc);
    return job_result(ctx);
}

/* Reads and checks a submission: 0 with inc and l filled (caller finishes
 * inc), or -1 with the reason in msg.  The form is input, never proof:
 * the incident comes from private_metadata and the submitter is checked
 * again, as the command would be. */
static int submission_parse(const struct hctx *ctx, const cJSON *payload, struct incident *inc, struct add_list *l,
                            char *msg, size_t len)
{
    memset(inc, 0, sizeof(*inc));
    memset(l, 0, sizeof(*l));
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *m = util_jstr(view, "private_metadata");
    cJSON *j = m ? cJSON_Parse(m) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "incident");
    int64_t id = cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble < 1e15
                         && n->valuedouble == (double)(int64_t)n->valuedouble
                     ? (int64_t)n->valuedouble
                     : 0;
    cJSON_Delete(j);
    if (!id) {
        snprintf(msg, len, "This form does not say which incident it is for: use `/sirt add SIRT-n @user`. "
                           "Nothing was changed.");
        return -1;
    }
    if (!ctx || !ctx->store || store_incident_get(ctx->store, id, inc) != 0) {
        snprintf(msg, len, "This form is for an incident that no longer exists.");
        return -1;
    }
    if (!user || !inc_authorized(ctx, inc, user)) {
        refusal(inc, msg, len);
        incident_finish(inc);
        return -1;
    }
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(view, "state"), "values");
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(values, "people"), "users"),
        "selected_users");
    const cJSON *u;
    cJSON_ArrayForEach(u, sel) {
        char who[USER_ID_MAX];
        if (!cJSON_IsString(u) || !txt_user_mention(u->valuestring, who, sizeof(who)))
            continue;   /* not a user id: Slack never sends one; ignored */
        if (!list_push(l, who)) {
            snprintf(msg, len, "At most %d people at once, please.", ADD_MAX);
            incident_finish(inc);
            return -1;
        }
    }
    if (!l->n) {
        snprintf(msg, len, "Choose at least one person to add.");
        incident_finish(inc);
        return -1;
    }
    list_classify(ctx, inc, l);
    return 0;
}

cJSON *add_validate(const struct hctx *ctx, const cJSON *payload)
{
    struct incident inc;
    struct add_list l;
    char msg[300];
    if (submission_parse(ctx, payload, &inc, &l, msg, sizeof(msg)) == 0) {
        incident_finish(&inc);
        return NULL;
    }
    return bk_view_error("people", msg);
}

int add_submit(const struct hctx *ctx, const cJSON *payload)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *view_id = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "view"), "id");
    char rk[160], key[200];
    snprintf(rk, sizeof(rk), "add/%s", view_id ? view_id : "noview");
    struct incident inc;
    struct add_list l;
    char msg[300];
    if (submission_parse(ctx, payload, &inc, &l, msg, sizeof(msg)) != 0) {
        /* validate() said so in the form; this is the race where it changed
         * since (or a replay): tell the submitter, change nothing. */
        if (user) {
            snprintf(key, sizeof(key), "%s/refused", rk);
            job_dm(ctx, 0, key, user, msg, NULL);
        }
        return job_result(ctx);
    }
    add_apply(ctx, &inc, user, &l, rk);
    if (!list_count(&l, false)) {
        /* No channel post for nobody new: the submitter hears it here. */
        char *t = summary_text(&inc, &l);
        snprintf(key, sizeof(key), "%s/already", rk);
        job_dm(ctx, inc.id, key, user, t, NULL);
        free(t);
    }
    incident_finish(&inc);
    return job_result(ctx);
}
