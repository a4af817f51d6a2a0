/* outbox_outcome: what one effect's outcome writes, on the store thread
 * inside the transaction that records the outcomes that came back together:
 * done with its captures and follow-up jobs, a retry at the delay its op's
 * retry class allows (docs/reliability.md "Retries"), or failed with its
 * notice.  The inflight entry is freed by outbox__finish_inflight once the
 * queue in memory has learnt the new state. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "effects.h"
#include "log.h"
#include "metrics.h"
#include "outbox_jobs.h"
#include "outbox_outcome.h"
#include "outbox_state.h"
#include "store.h"
#include "util.h"

/* Retry policy (docs/reliability.md "Retries").  Every delay of our own is multiplied by
 * cfg->backoff_scale (SIRT_TEST_BACKOFF_SCALE, 1 in production); a
 * server's Retry-After is honoured as sent, up to the class's limit. */
#define BACKOFF_BASE_MS 1000
#define PAGE_CAP_MS (60 * 1000)
#define DEFAULT_CAP_MS (5 * 60 * 1000)
#define PAGE_ANNOUNCE_MS (120 * 1000)
#define RETRY_AFTER_MAX_MS (60 * 60 * 1000)

struct policy {
    bool page;               /* EFFECT_CLASS_PAGE: until delivered or the incident is resolved */
    int64_t base_ms, cap_ms; /* scaled backoff */
    int64_t give_up_ms;      /* scaled; 0 = never */
    int64_t announce_ms;     /* pages: scaled delay before "not accepted" is announced */
    int64_t retry_after_max_ms;
};

uint64_t outbox_backoff_ms(int attempts, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd)
{
    uint64_t d = base_ms ? base_ms : 1;
    for (int i = 1; i < attempts && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    return d - d / 2 + rnd % (d / 2 + 1);   /* in [d/2, d]: never above the cap */
}

static int64_t scaled(const struct outbox *o, int64_t ms)
{
    double f = o->app->cfg ? o->app->cfg->backoff_scale : 1.0;
    if (!(f > 0.0 && f <= 1.0))
        f = 1.0;   /* a cfg built without the environment (unit tests) */
    int64_t v = (int64_t)((double)ms * f);
    return v < 1 ? 1 : v;
}

static struct policy policy_of(const struct outbox *o, const char *op)
{
    struct policy p;
    memset(&p, 0, sizeof(p));
    p.page = effect_retry_class(op) == EFFECT_CLASS_PAGE;
    p.base_ms = scaled(o, BACKOFF_BASE_MS);
    p.cap_ms = scaled(o, p.page ? PAGE_CAP_MS : DEFAULT_CAP_MS);
    if (p.page) {
        p.announce_ms = scaled(o, PAGE_ANNOUNCE_MS);
        p.retry_after_max_ms = PAGE_CAP_MS;
    } else {
        int h = o->app->cfg && o->app->cfg->outbox_give_up_hours > 0 ? o->app->cfg->outbox_give_up_hours : 168;
        p.give_up_ms = scaled(o, (int64_t)h * 3600 * 1000);
        p.retry_after_max_ms = RETRY_AFTER_MAX_MS;
    }
    return p;
}

static void apply_captures(struct store *s, int64_t incident_id, const char *op, const cJSON *result,
                           int64_t now)
{
    if (!result || !incident_id)
        return;
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(result, "incident");
    const cJSON *f;
    cJSON_ArrayForEach(f, inc) {
        if (cJSON_IsString(f))
            store_incident_set_text(s, incident_id, f->string, f->valuestring, now);
        else if (cJSON_IsNumber(f))
            store_incident_set_int(s, incident_id, f->string, (int64_t)f->valuedouble, now);
    }
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(result, "timeline");
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(result, "timeline_kind");
    const cJSON *ta = cJSON_GetObjectItemCaseSensitive(result, "timeline_actor");
    if (cJSON_IsString(tl))
        store_timeline_add(s, incident_id, now, cJSON_IsString(ta) && ta->valuestring[0] ? ta->valuestring : "sirtbot",
                           cJSON_IsString(tk) && tk->valuestring[0] ? tk->valuestring : op, tl->valuestring);
    /* Who a page round reached: on the round, and on the incident. */
    const cJSON *pg = cJSON_GetObjectItemCaseSensitive(result, "page");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(pg, "dedup_key");
    const cJSON *pu = cJSON_GetObjectItemCaseSensitive(pg, "user");
    if (cJSON_IsString(pk) && cJSON_IsString(pu)) {
        store_page_set_user(s, incident_id, pk->valuestring, pu->valuestring);
        store_member_add(s, incident_id, pu->valuestring, "oncall", now);
    }
    /* What PagerDuty said about a page round, and the timer that acts on it. */
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(result, "page_ack");
    const cJSON *pak = cJSON_GetObjectItemCaseSensitive(pa, "dedup_key");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pa, "at_ms");
    if (cJSON_IsString(pak) && cJSON_IsNumber(pat) && pat->valuedouble > 0)
        store_page_ack_seen(s, incident_id, pak->valuestring, (int64_t)pat->valuedouble,
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pa, "by")),
                            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pa, "how")));
    const cJSON *wake = cJSON_GetObjectItemCaseSensitive(result, "wake");
    const char *wk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(wake, "key"));
    const char *wkind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(wake, "kind"));
    if (wk && wkind) {
        const cJSON *wp = cJSON_GetObjectItemCaseSensitive(wake, "payload");
        char *wpt = cJSON_IsObject(wp) ? cJSON_PrintUnformatted(wp) : NULL;
        store_timer_set(s, wk, wkind, incident_id, now, wpt, now);
        cJSON_free(wpt);
    }
}

/* The follow-up jobs of a DONE result ("jobs", see effects.h), written in
 * the transaction that marks the job done: the result and what follows from
 * it commit together.  Their idem keys extend the job's, so an effect
 * replayed after a crash adds nothing twice. */
static void add_followups(struct store *s, const struct outbox_inflight *f, const cJSON *result)
{
    const cJSON *jobs = result ? cJSON_GetObjectItemCaseSensitive(result, "jobs") : NULL;
    const cJSON *j;
    struct added_job {
        const char *key;
        int64_t id;
    } added[64];
    size_t n_added = 0;
    cJSON_ArrayForEach(j, jobs) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(j, "key");
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(j, "payload");
        if (!cJSON_IsString(key) || !cJSON_IsString(op) || !effect_known(op->valuestring)) {
            LOG_WARN("outbox: malformed follow-up job ignored", "job:l op:s", (long long)f->job_id, f->op);
            continue;
        }
        int64_t deps[5];
        size_t n = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "deps"))
            if (cJSON_IsNumber(d) && d->valuedouble >= 1 && n < ARRAY_LEN(deps) - 1)
                deps[n++] = (int64_t)d->valuedouble;
        /* "after": an earlier follow-up of the same result, by key (ordered
         * messages). */
        const cJSON *after = cJSON_GetObjectItemCaseSensitive(j, "after");
        for (size_t k = 0; cJSON_IsString(after) && k < n_added; k++)
            if (strcmp(added[k].key, after->valuestring) == 0 && added[k].id > 0)
                deps[n++] = added[k].id;
        char *idem = xasprintf("%s/%s", f->idem_key, key->valuestring);
        int64_t id = outbox_add(s, f->incident_id, idem, op->valuestring, cJSON_IsObject(payload) ? payload : NULL,
                                deps, n, 0);
        free(idem);
        if (n_added < ARRAY_LEN(added))
            added[n_added++] = (struct added_job){ key->valuestring, id };
    }
}

void outbox__finish_inflight(struct outbox *o, struct outbox_inflight *f)
{
    struct outbox_inflight **pp = &o->inflight;
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    if (*pp)
        *pp = f->next;
    o->n_inflight--;
    metrics_outbox_in_flight(o->app->metrics, (long)o->n_inflight);
    free(f->op);
    free(f->idem_key);
    free(f);
}

/* Store thread: one outcome, inside the caller's transaction. */
void outbox__apply_outcome(struct outbox *o, struct outbox_inflight *f, const struct effect_result *r,
                           bool closing, struct outbox_outcome *c)
{
    c->final_state = -1;
    c->next_at_ms = clock_now_ms();
    struct store *s = o->app->store;
    int64_t now = clock_now_ms();
    uint64_t ms = (clock_mono_us() - f->started_us) / 1000;
    struct policy pol = policy_of(o, f->op);
    const cJSON *newp = r->result ? cJSON_GetObjectItemCaseSensitive(r->result, "payload") : NULL;
    if (cJSON_IsObject(newp)) {
        char *t = cJSON_PrintUnformatted(newp);
        store_outbox_set_payload(s, f->job_id, t, now);
        c->new_payload = xstrdup(t);
        cJSON_free(t);
    }
    switch (r->outcome) {
    case EFFECT_DONE: {
        char *res = r->result ? cJSON_PrintUnformatted(r->result) : NULL;
        store_outbox_mark_done(s, f->job_id, res, now);
        c->final_state = OUTBOX_DONE;
        cJSON_free(res);
        apply_captures(s, f->incident_id, f->op, r->result, now);
        if (pol.page)
            outbox__page_outcome(o->app, f->incident_id, f->idem_key, true);
        add_followups(s, f, r->result);
        metrics_outbox(o->app->metrics, f->op, "done");
        LOG_INFO("outbox: done", "job:l op:s incident:l attempts:d ms:l", (long long)f->job_id, f->op,
                 (long long)f->incident_id, f->attempts, (long long)ms);
        break;
    }
    case EFFECT_RETRY: {
        int64_t waited = now - f->first_due_ms;
        if (closing) {
            /* Canceled by a stop: due again at the next start. */
            store_outbox_mark_retry(s, f->job_id, now, r->error ? r->error : "", r->maybe_sent, now);
            c->next_at_ms = now;
            break;
        }
        if (pol.give_up_ms && waited >= pol.give_up_ms) {
            char *e = xasprintf("gave up after %d attempts over %.1f h: %s", f->attempts,
                                (double)waited / 3600000.0, r->error ? r->error : "");
            store_outbox_mark_failed(s, f->job_id, e, now);
            c->final_state = OUTBOX_FAILED;
            metrics_outbox(o->app->metrics, f->op, "failed");
            outbox__notice_failed(o->app, f->incident_id, f->op, f->idem_key, e);
            LOG_ERROR("outbox: failed", "job:l op:s incident:l error:s", (long long)f->job_id, f->op,
                      (long long)f->incident_id, e);
            free(e);
            break;
        }
        int64_t delay;
        if (r->retry_after_ms >= 0)
            delay = r->retry_after_ms < pol.retry_after_max_ms ? r->retry_after_ms : pol.retry_after_max_ms;
        else
            delay = (int64_t)outbox_backoff_ms(f->attempts, (uint64_t)pol.base_ms, (uint64_t)pol.cap_ms,
                                               util_rand64());
        if (pol.page) {
            int64_t announce_at = f->first_due_ms + pol.announce_ms;
            if (now >= announce_at)
                outbox__page_delayed(o->app, f->incident_id, f->idem_key, f->first_due_ms, r->error);
            else if (r->retry_after_ms < 0 && now + delay > announce_at)
                delay = announce_at - now;   /* try once more right when the announcement is due */
        }
        store_outbox_mark_retry(s, f->job_id, now + delay, r->error ? r->error : "", r->maybe_sent, now);
        c->next_at_ms = now + delay;
        metrics_outbox(o->app->metrics, f->op, "retry");
        metrics_outbox_retry(o->app->metrics, f->op);
        LOG_WARN("outbox: will retry", "job:l op:s incident:l attempt:d delay_ms:l error:s maybe_sent:b",
                 (long long)f->job_id, f->op, (long long)f->incident_id, f->attempts, (long long)delay,
                 r->error, r->maybe_sent);
        break;
    }
    case EFFECT_FAIL:
        store_outbox_mark_failed(s, f->job_id, r->error ? r->error : "failed", now);
        c->final_state = OUTBOX_FAILED;
        metrics_outbox(o->app->metrics, f->op, "failed");
        outbox__notice_failed(o->app, f->incident_id, f->op, f->idem_key, r->error);
        LOG_ERROR("outbox: failed", "job:l op:s incident:l error:s", (long long)f->job_id, f->op,
                  (long long)f->incident_id, r->error);
        break;
    }
}
