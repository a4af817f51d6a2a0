/* page_ack: following every page round until someone has seen it (issue 9,
 * "pages that are seen").  A "page_ack" timer per round, in the store so it
 * survives restarts and fires once across replicas, asks PagerDuty at most
 * once a minute (a pd.page_status outbox job) while the round is open and
 * unacknowledged; it says "acknowledged by" once, and escalates once after
 * paging.ack_minutes.  Runs inside the caller's (or the scheduler's) store
 * transaction; nothing here owns memory past a call. */
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

#define PAGE_ACK_KIND "page_ack"
#define PAGE_ACK_POLL_MS 60000LL      /* PagerDuty is asked at most once a minute */
#define PAGE_ACK_DEFAULT_MINUTES 15

static bool api_token_set(const struct hctx *ctx)
{
    return ctx->cfg && ctx->cfg->pagerduty_api_token && ctx->cfg->pagerduty_api_token[0];
}

static bool escalation_key_set(const struct hctx *ctx)
{
    return ctx->cfg && ctx->cfg->pagerduty_escalation_routing_key && ctx->cfg->pagerduty_escalation_routing_key[0];
}

static int ack_minutes(const struct hctx *ctx)
{
    return ctx->cfg && ctx->cfg->paging_ack_minutes > 0 ? ctx->cfg->paging_ack_minutes : PAGE_ACK_DEFAULT_MINUTES;
}

static void timer_key(const char *dedup_key, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", PAGE_ACK_KIND, dedup_key);
}

/* The timer's payload: {"dedup_key"} (caller frees). */
static char *timer_payload(const char *dedup_key)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "dedup_key", dedup_key);
    char *t = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    char *out = xstrdup(t);
    cJSON_free(t);
    return out;
}

static int arm(const struct hctx *ctx, int64_t incident_id, const char *dedup_key, int64_t due)
{
    char key[160];
    timer_key(dedup_key, key, sizeof(key));
    char *payload = timer_payload(dedup_key);
    int rc = store_timer_set(ctx->store, key, PAGE_ACK_KIND, incident_id, due, payload, ctx->now_ms());
    free(payload);
    return rc;
}

void page_ack_plan(const struct hctx *ctx, int64_t incident_id, const char *dedup_key)
{
    if (!ctx->cfg || !ctx->cfg->pagerduty_routing_key || !ctx->cfg->pagerduty_routing_key[0])
        return;   /* nothing goes to PagerDuty */
    if (!api_token_set(ctx)) {
        /* Said once per incident (the idempotency key), when it is paged. */
        struct incident inc;
        if (store_incident_get(ctx->store, incident_id, &inc) != 0)
            return;
        job_post_incident(ctx, &inc, "ack-not-followed",
                          ":information_source: PagerDuty acknowledgements are not followed for this incident: "
                          "PAGERDUTY_API_TOKEN is not set for sirtbot, so I cannot say when the page is "
                          "acknowledged or escalate it when it is not. Check PagerDuty yourself.",
                          NULL);
        incident_finish(&inc);
        return;
    }
    if (arm(ctx, incident_id, dedup_key, ctx->now_ms() + PAGE_ACK_POLL_MS) != 0)
        LOG_ERROR("page_ack: cannot plan following the page", "incident:l dedup_key:s", (long long)incident_id,
                  dedup_key);
}

struct find_round {
    const char *key;
    struct page_round r;
    bool found;
};

static bool find_round_cb(void *ud, const struct page_round *r)
{
    struct find_round *f = ud;
    if (strcmp(r->dedup_key, f->key) != 0)
        return true;
    f->found = true;
    f->r = *r;
    f->r.dedup_key = xstrdup(r->dedup_key);
    f->r.reason = r->reason ? xstrdup(r->reason) : NULL;
    f->r.paged_user = r->paged_user ? xstrdup(r->paged_user) : NULL;
    return false;
}

/* "Page acknowledged by <name>", once: the post's idempotency key and
 * noticed_ms both say it was done. */
static void announce_ack(const struct hctx *ctx, const struct incident *inc, struct page_ack *a)
{
    char *name = txt_line(a->ack_by && a->ack_by[0] ? a->ack_by : "someone", 120);
    char at[32];
    txt_utc(a->ack_ms, "%H:%M UTC", at);
    bool resolved = a->ack_how && strcmp(a->ack_how, "resolved") == 0;
    char *text = resolved
        ? xasprintf(":white_check_mark: Page resolved in PagerDuty by %s at %s (page `%s`), so it was seen.",
                    name, at, a->dedup_key)
        : xasprintf(":eyes: Page acknowledged by %s at %s (PagerDuty page `%s`).", name, at, a->dedup_key);
    char key[200];
    snprintf(key, sizeof(key), "page_acked/%s", a->dedup_key);
    job_post_incident(ctx, inc, key, text, NULL);
    free(text);
    char *who = txt_clean(a->ack_by && a->ack_by[0] ? a->ack_by : "someone", 120);
    store_timeline_add(ctx->store, inc->id, a->ack_ms, "pagerduty", "page_acked", who);
    free(who);
    free(name);
    a->noticed_ms = ctx->now_ms();
    LOG_INFO("page acknowledged", "incident:l dedup_key:s how:s", (long long)inc->id, a->dedup_key,
             resolved ? "resolved" : "acknowledged");
}

/* Posts text in the incident channel and in sirt_channel.  The text names
 * only the incident id and page keys, like the outbox's page announcements,
 * so it may go to sirt_channel whether that is private or not. */
static void tell_channels(const struct hctx *ctx, const struct incident *inc, const char *what, const char *dedup,
                          const char *text)
{
    char key[200];
    snprintf(key, sizeof(key), "%s/%s", what, dedup);
    job_post_incident(ctx, inc, key, text, NULL);
    const char *sirt = ctx->cfg ? ctx->cfg->sirt_channel : NULL;
    if (sirt && *sirt) {
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/%s/sirt", inc->id, what, dedup);
        job_post_channel(ctx, inc->id, key, sirt, NULL, text, NULL);
    }
}

/* Not acknowledged within ack_minutes: the security manager on-call is
 * paged under the round's own escalation key, or, with no key to page
 * them, the channels are told so.  Once per round. */
static void escalate(const struct hctx *ctx, const struct incident *inc, const struct page_round *r,
                     struct page_ack *a)
{
    int mins = ack_minutes(ctx);
    a->escalated_ms = ctx->now_ms();
    if (!escalation_key_set(ctx)) {
        char *text = xasprintf(":warning: The page for SIRT-%" PRId64 " (`%s`) was not acknowledged within %d "
                               "minutes, and PAGERDUTY_ESCALATION_ROUTING_KEY is not set, so nobody else was "
                               "paged. Call the security manager on-call by hand.",
                               inc->id, r->dedup_key, mins);
        tell_channels(ctx, inc, "page_unacked", r->dedup_key, text);
        inc_timeline_add(ctx, inc->id, "sirtbot", "page_not_escalated",
                         "page %s not acknowledged within %d minutes; no escalation key set", r->dedup_key, mins);
        free(text);
        LOG_WARN("page not acknowledged; no escalation routing key", "incident:l dedup_key:s",
                 (long long)inc->id, r->dedup_key);
        return;
    }
    char esc[96];
    snprintf(esc, sizeof(esc), "SIRT-%" PRId64 "/escalation-%d", inc->id, r->round);
    free(a->escalation_key);
    a->escalation_key = xstrdup(esc);

    cJSON *p = cJSON_CreateObject();
    char *sum = xasprintf("SIRT-%" PRId64 " [S%d/P%d]: security page %s not acknowledged within %d minutes",
                          inc->id, inc->severity, inc->priority, r->dedup_key, mins);
    cJSON_AddStringToObject(p, "summary", sum);
    free(sum);
    cJSON_AddStringToObject(p, "dedup_key", esc);
    cJSON_AddStringToObject(p, "routing", "escalation");
    cJSON_AddStringToObject(p, "severity", "critical");
    cJSON_AddStringToObject(p, "source", "sirtbot");
    cJSON *cd = cJSON_AddObjectToObject(p, "custom_details");
    char sirt[32];
    snprintf(sirt, sizeof(sirt), "SIRT-%" PRId64, inc->id);
    cJSON_AddStringToObject(cd, "incident", sirt);
    cJSON_AddStringToObject(cd, "unacknowledged_page", r->dedup_key);
    cJSON_AddNumberToObject(cd, "ack_minutes", mins);
    char key[200];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/escalate/%s", inc->id, r->dedup_key);
    outbox_add(ctx->store, inc->id, key, "pd.trigger", p, NULL, 0, 0);
    cJSON_Delete(p);

    char *text = xasprintf(":rotating_light: The page for SIRT-%" PRId64 " (`%s`) was not acknowledged within %d "
                           "minutes: paging the security manager on-call (PagerDuty page `%s`).",
                           inc->id, r->dedup_key, mins, esc);
    tell_channels(ctx, inc, "page_escalated", r->dedup_key, text);
    free(text);
    inc_timeline_add(ctx, inc->id, "sirtbot", "page_escalated",
                     "page %s not acknowledged within %d minutes; security manager on-call paged (%s)", r->dedup_key,
                     mins, esc);
    LOG_WARN("page not acknowledged; escalated", "incident:l dedup_key:s escalation:s", (long long)inc->id,
             r->dedup_key, esc);
}

/* A status poll, unless the last one is still pending (then the outbox's
 * backoff, or a 429's Retry-After, sets the pace). */
static void poll(const struct hctx *ctx, const struct incident *inc, struct page_ack *a)
{
    if (a->poll_job > 0) {
        int st = store_outbox_state(ctx->store, a->poll_job);
        if (st == OUTBOX_PENDING || st == OUTBOX_SENDING)
            return;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "dedup_key", a->dedup_key);
    cJSON *wake = cJSON_AddObjectToObject(p, "wake");
    char tkey[160];
    timer_key(a->dedup_key, tkey, sizeof(tkey));
    cJSON_AddStringToObject(wake, "key", tkey);
    cJSON_AddStringToObject(wake, "kind", PAGE_ACK_KIND);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(wake, "payload"), "dedup_key", a->dedup_key);
    char key[200];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/page_status/%s/%d", inc->id, a->dedup_key, a->polls + 1);
    int64_t id = outbox_add(ctx->store, inc->id, key, "pd.page_status", p, NULL, 0, 0);
    cJSON_Delete(p);
    if (id > 0) {
        a->polls++;
        a->poll_job = id;
    }
}

void page_ack_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    cJSON *pl = t->payload ? cJSON_Parse(t->payload) : NULL;
    const char *dedup = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pl, "dedup_key"));
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    struct find_round f = { dedup, { 0 }, false };
    struct page_ack a;
    memset(&a, 0, sizeof(a));
    if (!dedup || t->incident_id <= 0 || store_incident_get(ctx->store, t->incident_id, &inc) != 0)
        goto out;
    if (inc.state && strcmp(inc.state, "resolved") == 0)
        goto out;   /* resolving stops the following */
    if (store_pages_list(ctx->store, inc.id, find_round_cb, &f) != 0 || !f.found || f.r.resolved_ms != 0)
        goto out;
    int rc = store_page_ack_get(ctx->store, dedup, &a);
    if (rc == STORE_ENOTFOUND) {
        memset(&a, 0, sizeof(a));
        a.dedup_key = xstrdup(dedup);
        a.incident_id = inc.id;
    } else if (rc != 0) {
        goto out;
    }
    if (a.ack_ms > 0) {
        if (a.noticed_ms == 0) {
            announce_ack(ctx, &inc, &a);
            store_page_ack_put(ctx->store, &a);
        }
        goto out;   /* seen: no more polls */
    }
    if (!api_token_set(ctx))
        goto out;   /* the token went away with a reload: nothing to follow with */
    int64_t now = ctx->now_ms();
    int64_t esc_at = f.r.created_ms + (int64_t)ack_minutes(ctx) * 60000;
    if (a.escalated_ms == 0 && now >= esc_at)
        escalate(ctx, &inc, &f.r, &a);
    poll(ctx, &inc, &a);
    store_page_ack_put(ctx->store, &a);
    int64_t next = now + PAGE_ACK_POLL_MS;
    if (a.escalated_ms == 0 && esc_at > now && esc_at < next)
        next = esc_at;
    arm(ctx, inc.id, dedup, next);
out:
    page_ack_finish(&a);
    page_round_finish(&f.r);
    incident_finish(&inc);
    cJSON_Delete(pl);
}

struct resolve_ctx {
    const struct hctx *ctx;
    const char *req_id;
};

static bool resolve_cb(void *ud, const struct page_ack *a)
{
    struct resolve_ctx *c = ud;
    if (!a->escalation_key)
        return true;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "dedup_key", a->escalation_key);
    cJSON_AddStringToObject(p, "routing", "escalation");
    char key[256];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/pd_resolve/%s/%s", a->incident_id, c->req_id, a->escalation_key);
    outbox_add(c->ctx->store, a->incident_id, key, "pd.resolve", p, NULL, 0, 0);
    cJSON_Delete(p);
    return true;
}

int page_ack_resolve(const struct hctx *ctx, int64_t incident_id, const char *req_id)
{
    struct resolve_ctx c = { ctx, req_id };
    return store_page_acks_list(ctx->store, incident_id, resolve_cb, &c);
}
