/* status: `/sirt status [SIRT-n]` and `@sirt status [SIRT-n]` (inside an
 * incident channel the incident is implied; with neither, the open
 * incidents).  respond() reads the store only: its text goes into the ack
 * (slash) or is posted by the router (mention, DM).  Details only when the
 * reply is seen by no one but people allowed to see them; everyone else
 * learns that the incident exists and where to ask.  work() completes
 * limited access: asked in a public place by someone who may see more, the
 * details also go to them alone (chat.postEphemeral via the outbox).  User
 * text is masked and escaped before it is shown; nothing about an incident
 * is logged but its id. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/blockkit.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define STATUS_MAX 3500         /* one reply, well under Slack's 40,000 for message text */
#define LAST_UPDATES 5
#define DECISIONS_MAX 5
#define LIST_MAX 40

static const char *state_word(const struct incident *inc)
{
    return inc->state && strcmp(inc->state, "resolved") == 0 ? "resolved" : "open";
}

/* May the asker see inc's details in this reply?  priv: the reply goes to
 * the asker alone (ack, DM, ephemeral) whatever the request's source. */
static bool full_view(const struct hctx *ctx, const struct sirt_req *req, const struct incident *inc, bool priv)
{
    if (!priv && !inc_reply_private(ctx, req, inc))
        return false;
    if (inc_authorized(ctx, inc, req->user_id))
        return true;
    return inc->channel_id && req->channel_id && strcmp(inc->channel_id, req->channel_id) == 0;
}


static void limited_line(const struct hctx *ctx, const struct incident *inc, struct buf *b)
{
    const char *ch = ctx->cfg ? ctx->cfg->sirt_channel : NULL;
    if (ch && *ch)
        buf_printf(b, "SIRT-%" PRId64 " exists (%s). Ask in <#%s> or contact the SIRT team.", inc->id,
                   state_word(inc), ch);
    else
        buf_printf(b, "SIRT-%" PRId64 " exists (%s). Contact the SIRT team.", inc->id, state_word(inc));
}

static const char *decision_state(const struct decision *d)
{
    if (d->validated == 1)
        return "fix delivered, validated effective";
    if (d->validated == 0)
        return "fix delivered, validated NOT effective";
    if (d->fix_delivered_ms > 0)
        return "fix delivered, not validated yet";
    return "fix not delivered yet";
}

struct dec_ctx {
    struct buf *b;
    int n;
};

static bool add_decision(void *ud, const struct decision *d)
{
    struct dec_ctx *c = ud;
    c->n++;
    if (c->n > DECISIONS_MAX)
        return true;   /* keep counting */
    char *sol = txt_line(d->solution, 160);
    char when[32];
    txt_utc(d->created_ms, "%Y-%m-%d %H:%M UTC", when);
    buf_printf(c->b, "\n• #%" PRId64 " %s — %s (%s)", d->id, sol, decision_state(d), when);
    free(sol);
    return true;
}

/* The last LAST_UPDATES timeline entries, oldest first. */
struct tl_ctx {
    struct timeline_entry last[LAST_UPDATES];
    size_t n;   /* total seen */
};

static bool keep_last(void *ud, const struct timeline_entry *e)
{
    struct tl_ctx *c = ud;
    struct timeline_entry *slot = &c->last[c->n % LAST_UPDATES];
    free(slot->actor);
    free(slot->kind);
    free(slot->text);
    *slot = *e;
    slot->actor = xstrdup(e->actor);
    slot->kind = xstrdup(e->kind);
    slot->text = xstrdup(e->text);
    c->n++;
    return true;
}

static void actor_mention(const char *actor, struct buf *b)
{
    bool user = actor && (actor[0] == 'U' || actor[0] == 'W');
    for (const char *p = actor; user && *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            user = false;
    if (user)
        buf_printf(b, "<@%s>", actor);
    else
        buf_puts(b, "sirtbot");
}

static void full_status(const struct hctx *ctx, const struct incident *inc, struct buf *b)
{
    char *title = txt_line(inc->title, 150);
    char *comp = txt_line(inc->component ? inc->component : "(not given)", 80);
    buf_printf(b, "*SIRT-%" PRId64 ": %s*\n", inc->id, title);
    buf_printf(b, "*State* %s   *Severity* S%d   *Priority* P%d   *Component* %s\n", state_word(inc),
               inc->severity, inc->priority, comp);
    buf_puts(b, "*Owner* ");
    if (inc->owner)
        buf_printf(b, "<@%s>", inc->owner);
    else
        buf_puts(b, "nobody yet");
    char recv[32];
    int64_t until;
    if (handoff_pending(ctx, inc->id, recv, sizeof(recv), &until)) {
        char by[32];
        txt_utc(until, "%H:%M UTC", by);
        buf_printf(b, "   *Handoff pending* to <@%s> (Accept by %s)", recv, by);
    }
    buf_printf(b, "   *Reporter* <@%s>\n", inc->reporter ? inc->reporter : "?");
    buf_puts(b, "*Channel* ");
    if (inc->channel_id)
        buf_printf(b, "<#%s>", inc->channel_id);
    else
        buf_puts(b, "(being created)");
    buf_puts(b, "   *GitLab issue* ");
    if (inc->gitlab_issue_url) {
        char *u = txt_line(inc->gitlab_issue_url, 500);
        buf_puts(b, u);
        free(u);
    } else {
        buf_puts(b, "none");
    }
    if (inc->issue_link) {
        char *u = txt_line(inc->issue_link, 500);
        buf_printf(b, "   *Reported link* %s", u);
        free(u);
    }
    char created[32], resolved[32];
    txt_utc(inc->created_ms, "%Y-%m-%d %H:%M UTC", created);
    buf_printf(b, "\n*Reported* %s", created);
    if (inc->resolved_ms > 0) {
        txt_utc(inc->resolved_ms, "%Y-%m-%d %H:%M UTC", resolved);
        buf_printf(b, "   *Resolved* %s", resolved);
    }
    free(title);
    free(comp);

    buf_puts(b, "\n*Decisions*");
    struct dec_ctx dc = { b, 0 };
    if (ctx->store)
        store_decisions_list(ctx->store, inc->id, add_decision, &dc);
    if (dc.n == 0)
        buf_puts(b, " none recorded yet");
    else if (dc.n > DECISIONS_MAX)
        buf_printf(b, "\n• … and %d more", dc.n - DECISIONS_MAX);

    struct tl_ctx tc;
    memset(&tc, 0, sizeof(tc));
    if (ctx->store)
        store_timeline_list(ctx->store, inc->id, keep_last, &tc);
    buf_puts(b, "\n*Latest updates*");
    if (tc.n == 0)
        buf_puts(b, " none");
    size_t first = tc.n > LAST_UPDATES ? tc.n - LAST_UPDATES : 0;
    for (size_t i = first; i < tc.n; i++) {
        const struct timeline_entry *e = &tc.last[i % LAST_UPDATES];
        char when[32];
        txt_utc(e->ts_ms, "%Y-%m-%d %H:%M UTC", when);
        char *kind = txt_line(e->kind, 40);
        char *text = txt_line(e->text, 200);
        buf_printf(b, "\n• %s — ", when);
        actor_mention(e->actor, b);
        buf_printf(b, " — %s: %s", kind, text);
        free(kind);
        free(text);
    }
    for (size_t i = 0; i < LAST_UPDATES; i++) {
        free(tc.last[i].actor);
        free(tc.last[i].kind);
        free(tc.last[i].text);
    }
}

/* ---- the list of open incidents ---- */

struct list_ctx {
    const struct hctx *ctx;
    const struct sirt_req *req;
    bool priv;
    struct buf *b;
    int n;
};

static bool list_one(void *ud, const struct incident *inc)
{
    struct list_ctx *c = ud;
    c->n++;
    if (c->n > LIST_MAX)
        return true;   /* keep counting */
    if (full_view(c->ctx, c->req, inc, c->priv)) {
        char *title = txt_line(inc->title, 80);
        char *comp = txt_line(inc->component ? inc->component : "-", 40);
        buf_printf(c->b, "\n• *SIRT-%" PRId64 "* %s — S%d/P%d, %s, owner ", inc->id, title, inc->severity,
                   inc->priority, comp);
        if (inc->owner)
            buf_printf(c->b, "<@%s>", inc->owner);
        else
            buf_puts(c->b, "nobody");
        char recv[32];
        if (handoff_pending(c->ctx, inc->id, recv, sizeof(recv), NULL))
            buf_printf(c->b, ", handoff pending to <@%s>", recv);
        if (inc->channel_id)
            buf_printf(c->b, ", <#%s>", inc->channel_id);
        free(title);
        free(comp);
    } else {
        buf_printf(c->b, "\n• SIRT-%" PRId64 " — open", inc->id);
    }
    return true;
}

static void list_open(const struct hctx *ctx, const struct sirt_req *req, bool priv, struct buf *b)
{
    struct buf items;
    buf_init(&items, 0);
    struct list_ctx c = { ctx, req, priv, &items, 0 };
    if (!ctx->store || store_incidents_open(ctx->store, list_one, &c) != 0) {
        buf_finish(&items);
        buf_puts(b, "I cannot read the incidents right now; try again in a moment.");
        return;
    }
    if (c.n == 0) {
        buf_puts(b, "No open incidents.");
    } else {
        buf_printf(b, "*Open incidents* (%d):%s", c.n, items.data);
        if (c.n > LIST_MAX)
            buf_printf(b, "\n• … and %d more", c.n - LIST_MAX);
        const char *ch = ctx->cfg ? ctx->cfg->sirt_channel : NULL;
        if (ch && *ch && !priv && !(req->source == REQ_SLASH || req->source == REQ_DM))
            buf_printf(b, "\nDetails: ask in <#%s> or contact the SIRT team.", ch);
    }
    buf_finish(&items);
}

/* The answer to req; priv as in full_view.  Caller frees. */
static char *status_text(const struct hctx *ctx, const struct sirt_req *req, bool priv)
{
    struct buf b;
    buf_init(&b, 0);
    bool named = inc_parse_id(req->args) > 0;
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    if (!ctx->store) {
        buf_puts(&b, "I cannot read the incidents right now; try again in a moment.");
    } else if (!named && !req->args[0]
               && (!req->channel_id || store_incident_by_channel(ctx->store, req->channel_id, &inc) != 0)) {
        incident_finish(&inc);
        list_open(ctx, req, priv, &b);
    } else {
        char err[160];
        incident_finish(&inc);
        if (inc_for(ctx, req->channel_id, req->args, &inc, NULL, err, sizeof(err)) != 0) {
            buf_puts(&b, err);
        } else if (full_view(ctx, req, &inc, priv)) {
            full_status(ctx, &inc, &b);
        } else {
            limited_line(ctx, &inc, &b);
        }
        LOG_DEBUG("status", "incident:l user:s private:b", (long long)inc.id, req->user_id, (int)priv);
        incident_finish(&inc);
    }
    /* One message of text, cut like every Block Kit text (marker included). */
    char *text = blockkit_cut(b.data ? b.data : "", STATUS_MAX, true);
    buf_finish(&b);
    return text;
}

void status_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    free(out->text);
    out->text = status_text(ctx, req, false);
}

/* Asked in a public place: whoever may see more than the public answer
 * gets it privately as well, seen by them alone. */
int status_work(const struct hctx *ctx, const struct sirt_req *req)
{
    if (!ctx->store || req->source == REQ_SLASH || req->source == REQ_DM || !req->channel_id || !req->user_id)
        return 0;
    char *pub = status_text(ctx, req, false);
    char *priv = status_text(ctx, req, true);
    if (strcmp(pub, priv) != 0) {
        char key[200];
        job_request_key(req, "status_private", key, sizeof(key));
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "channel", req->channel_id);
        cJSON_AddStringToObject(p, "user", req->user_id);
        cJSON_AddStringToObject(p, "text", priv);
        if (req->thread_ts)
            cJSON_AddStringToObject(p, "thread_ts", req->thread_ts);
        outbox_add(ctx->store, 0, key, "slack.ephemeral", p, NULL, 0, 0);
        cJSON_Delete(p);
        LOG_INFO("status: details sent privately to an authorised asker in a public place", "user:s",
                 req->user_id);
    }
    free(pub);
    free(priv);
    return job_result(ctx);
}
