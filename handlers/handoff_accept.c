/* handoff_accept: handoffs that wait to be accepted, and the hand-back.
 * A handoff to an engineer (end-of-day prompt, the automatic one, /sirt
 * handoff) is an offer: the receiver gets the brief with an Accept button
 * and the incident shows "handoff pending" until they press it.  The offer
 * is one store timer, "handoff_unaccepted/SIRT-n", whose payload is its
 * whole state (receiver, offer token, who was tried); it is cancelled on
 * Accept and fires after handoff.accept_minutes: the next candidate along
 * the sun, after the last the secops on-call.  "handback/SIRT-n" gives an
 * incident the secops on-call holds back to appsec when the first appsec
 * working day starts.  Everything runs in the caller's transaction. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/clock.h"
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

#define OFFER_KIND "handoff_unaccepted"
#define HANDBACK_KIND "handback"

static void key_of(char *out, size_t size, const char *what, int64_t id)
{
    snprintf(out, size, "%s/SIRT-%" PRId64, what, id);
}

void handoff_offer_cancel(const struct hctx *ctx, int64_t id)
{
    char k[64];
    key_of(k, sizeof(k), OFFER_KIND, id);
    store_timer_cancel(ctx->store, k);
    key_of(k, sizeof(k), HANDBACK_KIND, id);
    store_timer_cancel(ctx->store, k);
}

static bool in_list(const cJSON *list, const char *user)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
        if (cJSON_IsString(it) && strcmp(it->valuestring, user) == 0)
            return true;
    return false;
}

/* The next candidate along the sun at t: the appsec engineer in working
 * hours whose day ends latest (as handoff.c picks), skipping `exclude` and
 * everyone in tried.  NULL if nobody; borrowed from the config. */
static const char *next_candidate(const struct hctx *ctx, const char *exclude, const cJSON *tried, int64_t t)
{
    const struct cfg *cfg = ctx->cfg;
    const char *best = NULL;
    int64_t best_end = -1;
    for (size_t i = 0; i < cfg->n_appsec; i++) {
        const char *u = cfg->appsec[i].user;
        if ((exclude && strcmp(u, exclude) == 0) || in_list(tried, u))
            continue;
        struct wh w = handoff_appsec_wh(ctx, i);
        int64_t e = wh_window_end(&w, t);
        if (e >= 0 && e > best_end) {
            best = u;
            best_end = e;
        }
    }
    return best;
}

/* ---- the offer ---- */

/* The pending offer of incident id: 0 and *t filled (caller finishes it,
 * *pl is its parsed payload, caller deletes), or STORE_ENOTFOUND. */
static int offer_get(const struct hctx *ctx, int64_t id, struct sched_timer *t, cJSON **pl)
{
    char k[64];
    key_of(k, sizeof(k), OFFER_KIND, id);
    memset(t, 0, sizeof(*t));
    *pl = NULL;
    int rc = store_timer_get(ctx->store, k, t);
    if (rc != 0)
        return rc;
    *pl = cJSON_Parse(t->payload ? t->payload : "{}");
    if (!*pl || !util_jstr(*pl, "receiver") || !util_jstr(*pl, "offer")) {
        cJSON_Delete(*pl);
        *pl = NULL;
        sched_timer_finish(t);
        return STORE_ENOTFOUND;
    }
    return 0;
}

bool handoff_pending(const struct hctx *ctx, int64_t id, char *receiver, size_t size, int64_t *until)
{
    struct sched_timer t;
    cJSON *pl;
    if (!ctx->store || offer_get(ctx, id, &t, &pl) != 0)
        return false;
    str_lcpy(receiver, util_jstr(pl, "receiver"), size);
    if (until)
        *until = t.due_ms;
    cJSON_Delete(pl);
    sched_timer_finish(&t);
    return true;
}

static cJSON *accept_blocks(const char *brief, int64_t id, const char *offer)
{
    cJSON *blocks = cJSON_CreateArray();
    cJSON_AddItemToArray(blocks, bk_section(brief));
    char block[48], val[96];
    snprintf(block, sizeof(block), "handoff_offer/%" PRId64, id);
    snprintf(val, sizeof(val), "%" PRId64 "|%s", id, offer);
    cJSON *acts = bk_actions(block);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(acts, "elements"),
                         bk_button("Accept", "handoff_take", val, "primary"));
    cJSON_AddItemToArray(blocks, acts);
    return blocks;
}

void handoff_offer(const struct hctx *ctx, const struct incident *inc, const char *to, const char *by,
                   const char *reason, enum handoff_offer_kind kind, const cJSON *tried)
{
    int64_t id = inc->id;
    int64_t now = ctx->now_ms();
    int64_t due = now + (int64_t)ctx->cfg->handoff_accept_minutes * 60000;
    char offer[24], step[96], key[160];
    snprintf(offer, sizeof(offer), "%016llx", (unsigned long long)util_rand64());
    snprintf(step, sizeof(step), "offer/%s", offer);
    const char *from = inc->owner;

    /* A member from now: the brief is theirs to read, and Accept is theirs. */
    store_member_add(ctx->store, id, to, "handoff", now);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "users"), cJSON_CreateString(to));
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/invite", id, step);
    outbox_add(ctx->store, id, key, "slack.invite", p, NULL, 0, 0);
    cJSON_Delete(p);

    char *brief = handoff_brief(ctx, inc, reason, BRIEF_OFFER);
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/brief", id, step);
    job_dm(ctx, id, key, to, brief, accept_blocks(brief, id, offer));
    free(brief);

    char until[32];
    txt_utc(due, "%H:%M UTC", until);
    char *t;
    if (kind == OFFER_HANDBACK)
        t = xasprintf(":sunrise: SIRT-%" PRId64 " is offered back to appsec: <@%s>'s working day starts (%s). "
                      "Handoff pending until they accept (by %s).", id, to, reason, until);
    else
        t = xasprintf(":sunrise_over_mountains: SIRT-%" PRId64 " handed off%s%s%s to <@%s> (%s). Handoff pending "
                      "until they accept (by %s).", id, from ? " from <@" : "", from ? from : "", from ? ">" : "",
                      to, reason, until);
    snprintf(key, sizeof(key), "%s/note", step);
    job_post_incident(ctx, inc, key, t, NULL);
    free(t);
    if (kind == OFFER_HANDOFF)
        inc_timeline_add(ctx, id, by, "handoff", "handed off%s%s to %s (%s)", from ? " from " : "", from ? from : "",
                         to, reason);
    inc_timeline_add(ctx, id, to, "handoff_offered", "%s to %s, waiting for Accept",
                     kind == OFFER_HANDBACK ? "hand-back from the secops on-call" : "handoff", to);

    cJSON *pl = cJSON_CreateObject();
    cJSON_AddStringToObject(pl, "receiver", to);
    cJSON_AddStringToObject(pl, "offer", offer);
    cJSON_AddStringToObject(pl, "kind", kind == OFFER_HANDBACK ? "handback" : "handoff");
    if (from)
        cJSON_AddStringToObject(pl, "from", from);
    cJSON *tl = tried ? cJSON_Duplicate(tried, true) : cJSON_CreateArray();
    cJSON_AddItemToObject(pl, "tried", tl);
    char *json = cJSON_PrintUnformatted(pl);
    char k[64];
    key_of(k, sizeof(k), OFFER_KIND, id);
    store_timer_set(ctx->store, k, OFFER_KIND, id, due, json, now);
    cJSON_free(json);
    cJSON_Delete(pl);
    LOG_INFO("handoff offered", "incident:l receiver:s accept_minutes:d", (long long)id, to,
             ctx->cfg->handoff_accept_minutes);
}

/* ---- nobody accepted in time ---- */

void handoff_unaccepted_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    cJSON *pl = cJSON_Parse(t->payload ? t->payload : "{}");
    const char *receiver = util_jstr(pl, "receiver");
    if (!receiver || store_incident_get(ctx->store, t->incident_id, &inc) != 0 || strcmp(inc.state, "open") != 0) {
        cJSON_Delete(pl);
        incident_finish(&inc);
        return;
    }
    bool handback = util_jstr(pl, "kind") && strcmp(util_jstr(pl, "kind"), "handback") == 0;
    inc_timeline_add(ctx, inc.id, receiver, "handoff_unaccepted", "not accepted within %d minutes",
                     ctx->cfg->handoff_accept_minutes);
    char key[128];
    snprintf(key, sizeof(key), "unaccepted/%" PRId64, t->id);
    char *msg = xasprintf(":hourglass: <@%s> did not accept SIRT-%" PRId64 " within %d minutes.", receiver, inc.id,
                          ctx->cfg->handoff_accept_minutes);
    job_post_incident(ctx, &inc, key, msg, NULL);
    free(msg);

    cJSON *tried = cJSON_GetObjectItemCaseSensitive(pl, "tried");
    if (!cJSON_IsArray(tried)) {
        cJSON_DeleteItemFromObjectCaseSensitive(pl, "tried");
        tried = cJSON_AddArrayToObject(pl, "tried");
    }
    if (!in_list(tried, receiver))
        cJSON_AddItemToArray(tried, cJSON_CreateString(receiver));
    const char *from = util_jstr(pl, "from");
    const char *next = next_candidate(ctx, from, tried, ctx->now_ms());
    char *why = xasprintf("automatic: <@%s> did not accept in time", receiver);
    if (next) {
        handoff_offer(ctx, &inc, next, "sirtbot", why, handback ? OFFER_HANDBACK : OFFER_HANDOFF, tried);
    } else if (!handback) {
        handoff_to_secops(ctx, &inc, "sirtbot", why);
    } else {
        /* The secops on-call holds it already: they keep it, and appsec is
         * asked again when the next working day starts. */
        snprintf(key, sizeof(key), "handback_kept/%" PRId64, t->id);
        char *k = xasprintf(":sunrise: Nobody in appsec accepted SIRT-%" PRId64 ": it stays with %s%s%s; I will "
                            "offer it again when the next appsec working day starts.", inc.id,
                            inc.owner ? "<@" : "the secops on-call", inc.owner ? inc.owner : "",
                            inc.owner ? ">" : "");
        job_post_incident(ctx, &inc, key, k, NULL);
        free(k);
        handoff_handback_plan(ctx, inc.id);
    }
    free(why);
    cJSON_Delete(pl);
    incident_finish(&inc);
}

/* ---- Accept ---- */

int handoff_take_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *v = util_jstr(action, "value");
    const char *bar = v ? strchr(v, '|') : NULL;
    int64_t id = v ? inc_parse_id(v) : 0;
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    if (!user || !bar || id <= 0 || store_incident_get(ctx->store, id, &inc) != 0) {
        job_button_notice(ctx, payload, action, "take-unknown", "I cannot find that handoff: nothing was changed.",
                          false);
        incident_finish(&inc);
        return job_result(ctx);
    }
    struct sched_timer t;
    cJSON *pl = NULL;
    const char *why = NULL;
    char buf[300];
    if (strcmp(inc.state, "open") != 0) {
        why = "This incident is resolved: there is nothing to accept.";
    } else if (offer_get(ctx, id, &t, &pl) != 0) {
        snprintf(buf, sizeof(buf), "This handoff is no longer waiting: SIRT-%" PRId64 " has moved on%s%s%s. "
                 "Nothing was changed.", id, inc.owner ? " (owner now <@" : "", inc.owner ? inc.owner : "",
                 inc.owner ? ">)" : "");
        why = buf;
    } else {
        bool same = strcmp(util_jstr(pl, "offer"), bar + 1) == 0;
        bool mine = strcmp(util_jstr(pl, "receiver"), user) == 0;
        if (!same && mine)
            why = "That Accept is from an earlier offer: use the newest message I sent you.";
        else if (!same) {
            snprintf(buf, sizeof(buf), "This handoff is no longer waiting: SIRT-%" PRId64 " has moved on. Nothing "
                     "was changed.", id);
            why = buf;
        } else if (!mine)
            why = "Only the engineer this handoff was offered to can accept it.";
        if (why) {
            cJSON_Delete(pl);
            sched_timer_finish(&t);
        }
    }
    if (why) {
        job_button_notice(ctx, payload, action, "take-refused", why, false);
        incident_finish(&inc);
        return job_result(ctx);
    }

    int64_t now = ctx->now_ms();
    bool handback = util_jstr(pl, "kind") && strcmp(util_jstr(pl, "kind"), "handback") == 0;
    char *old = inc.owner;
    char step[96];
    snprintf(step, sizeof(step), "take/%s", util_jstr(pl, "offer"));
    store_timer_cancel(ctx->store, t.key);
    store_incident_set_text(ctx->store, id, "owner", user, now);
    store_member_add(ctx->store, id, user, "owner", now);
    inc_timeline_add(ctx, id, user, "handoff_accepted", "accepted%s", handback ? " the hand-back" : " the handoff");
    if (handback)
        inc_timeline_add(ctx, id, user, "handed_back", "from %s to %s", old ? old : "the secops on-call", user);

    char *msg = handback ? xasprintf(":white_check_mark: SIRT-%" PRId64 " handed back%s%s%s to appsec: <@%s> "
                                     "accepted and owns it now.", id, old ? " from <@" : "", old ? old : "",
                                     old ? ">" : "", user)
                         : xasprintf(":white_check_mark: <@%s> accepted the handoff of SIRT-%" PRId64 " and owns it "
                                     "now.", user, id);
    char key[160];
    snprintf(key, sizeof(key), "%s/note", step);
    job_post_incident(ctx, &inc, key, msg, NULL);
    free(msg);
    char *note = handback ? xasprintf("Handed back from the secops on-call to the appsec engineer whose day started "
                                      "(accepted).")
                          : xasprintf("Handed off to the next appsec owner, {{user.%s}} (accepted).", user);
    job_gitlab_note(ctx, &inc, step, note);
    free(note);
    snprintf(buf, sizeof(buf), "You own SIRT-%" PRId64 " now. The brief above has the context; I will ask you to "
             "hand it off before your day ends.", id);
    job_button_notice(ctx, payload, action, "take-done", buf, false);
    LOG_INFO("handoff accepted", "incident:l owner:s handback:d", (long long)id, user, handback ? 1 : 0);

    inc.owner = xstrdup(user);
    handoff_plan(ctx, &inc);
    free(old);
    cJSON_Delete(pl);
    sched_timer_finish(&t);
    incident_finish(&inc);
    return job_result(ctx);
}

/* ---- hand-back from the secops on-call ---- */

void handoff_handback_plan(const struct hctx *ctx, int64_t id)
{
    const struct cfg *cfg = ctx->cfg;
    int64_t now = ctx->now_ms();
    int64_t due = -1;
    for (size_t i = 0; i < cfg->n_appsec; i++) {
        struct wh w = handoff_appsec_wh(ctx, i);
        /* A start, not "someone is in hours": whoever is in hours now was
         * passed over (tried, or off) by the handoff that led here. */
        int64_t s = wh_next_window(&w, now, NULL);
        if (s >= 0 && (due < 0 || s < due))
            due = s;
    }
    char k[64];
    key_of(k, sizeof(k), HANDBACK_KIND, id);
    if (due < 0) {
        store_timer_cancel(ctx->store, k);   /* no appsec engineer (or none with hours): it stays */
        return;
    }
    store_timer_set(ctx->store, k, HANDBACK_KIND, id, due, "{}", now);
    char iso[32];
    clock_fmt_iso(due, iso);
    LOG_INFO("hand-back planned", "incident:l due:s", (long long)id, iso);
}

void handoff_handback_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    if (store_incident_get(ctx->store, t->incident_id, &inc) != 0 || strcmp(inc.state, "open") != 0 ||
        (inc.owner && handoff_appsec_index(ctx, inc.owner) >= 0)) {
        incident_finish(&inc);   /* resolved, or appsec has it already */
        return;
    }
    const char *to = next_candidate(ctx, NULL, NULL, ctx->now_ms());
    if (!to) {
        handoff_handback_plan(ctx, inc.id);   /* a zone moved since it was planned: the new first start */
        incident_finish(&inc);
        return;
    }
    handoff_offer(ctx, &inc, to, "sirtbot", "the first appsec working day starts", OFFER_HANDBACK, NULL);
    incident_finish(&inc);
}

struct ids_ctx {
    int64_t *v;
    size_t n, cap;
};

static bool collect_id(void *ud, const struct incident *inc)
{
    struct ids_ctx *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = inc->id;
    return true;
}

void handoff_zones_changed(const struct hctx *ctx)
{
    /* Ids first: the store's reads do not promise a callback may write. */
    struct ids_ctx c = { NULL, 0, 0 };
    store_incidents_open(ctx->store, collect_id, &c);
    int n = 0;
    for (size_t i = 0; i < c.n; i++) {
        char k[64];
        struct sched_timer t;
        memset(&t, 0, sizeof(t));
        key_of(k, sizeof(k), HANDBACK_KIND, c.v[i]);
        if (store_timer_get(ctx->store, k, &t) == 0) {
            handoff_handback_plan(ctx, c.v[i]);
            n++;
        }
        sched_timer_finish(&t);
    }
    free(c.v);
    if (n)
        LOG_INFO("appsec zones changed: hand-backs planned again", "incidents:d", n);
}
