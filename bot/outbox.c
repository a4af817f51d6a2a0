/* outbox: the worker that turns committed outbox rows into effects (see
 * outbox.h).  Two sides: the store thread owns the due jobs in memory
 * (outbox_queue.h: loaded once at start, fed by the commits that create
 * jobs and by the lease sweep), the list of in-flight jobs and every
 * decision, and writes the store for durability only; the loop owns one
 * uv_timer (armed by message for the next due moment) and runs the effects.  Jobs
 * picked together are marked sending in one commit before their requests
 * leave; outcomes that came back together are recorded in one commit, so a
 * SIGKILL at any point leaves a consistent queue.  An in-flight entry is
 * freed on the store thread once its outcome is recorded.
 * Payload strings may hold {{incident.*}} placeholders, filled in here from
 * the incident row at send time (see expand()). */
#include "outbox.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "effects.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "store.h"
#include "storeq.h"
#include "outbox_queue.h"
#include "scheduler.h"
#include "util.h"

#include <pthread.h>

/* Retry policy (docs/reliability.md "Retries").  Every delay of our own is multiplied by
 * cfg->backoff_scale (SIRT_TEST_BACKOFF_SCALE, 1 in production); a
 * server's Retry-After is honoured as sent, up to the class's limit. */
#define BACKOFF_BASE_MS 1000
#define PAGE_CAP_MS (60 * 1000)
#define DEFAULT_CAP_MS (5 * 60 * 1000)
#define PAGE_ANNOUNCE_MS (120 * 1000)
#define RETRY_AFTER_MAX_MS (60 * 60 * 1000)

_Static_assert(METRICS_OUTBOX_STATES == OUTBOX_N_STATES, "metrics and store disagree on outbox states");

struct policy {
    bool page;               /* EFFECT_CLASS_PAGE: until delivered or the incident is resolved */
    int64_t base_ms, cap_ms; /* scaled backoff */
    int64_t give_up_ms;      /* scaled; 0 = never */
    int64_t announce_ms;     /* pages: scaled delay before "not accepted" is announced */
    int64_t retry_after_max_ms;
};
struct inflight {
    struct inflight *next;
    struct outbox *o;
    int64_t job_id;
    int64_t incident_id;
    int attempts;
    char *op;
    char *idem_key;
    uint64_t started_us;
    int64_t first_due_ms;   /* when the job was first sent (give-up and announcement clocks) */
};

/* An effect's outcome on its way from the loop to the store thread. */
struct outcome {
    struct outcome *next;
    struct inflight *f;
    enum effect_outcome outcome;
    char *error;
    long retry_after_ms;
    bool maybe_sent;
    cJSON *result;          /* owned copy */
    /* What the queue in memory learns once the outcome's commit is done: */
    int final_state;        /* DONE, FAILED, or -1: pending again (a retry) */
    int64_t next_at_ms;
    char *new_payload;
};

/* A job ready to go, on its way from the store thread to the loop. */
struct start {
    struct start *next;
    struct inflight *f;
    struct outbox_job job;
    cJSON *payload;
    struct incident inc;
    bool have_inc;
};

struct outbox {
    struct sirt_app *app;        /* the store thread's view */
    struct sirt_app *loop_app;
    uv_timer_t timer;            /* loop */
    bool started;
    atomic_bool closing;         /* set once on the loop, read by both threads */
    bool timer_closed;
    struct inflight *inflight;   /* store thread */
    size_t n_inflight;
    bool ticking;
    bool tick_posted;            /* guarded by mu */
    pthread_mutex_t mu;          /* guards outcomes, tick_posted and the gauges */
    struct outcome *out_head, *out_tail;
    bool outcome_posted;
    struct start *starts;        /* store thread: picked in this tick, sent after its commit */
    int64_t gauges[OUTBOX_N_STATES];
    int64_t oldest_ms;
    bool gauges_ok;
    struct obq *q;               /* store thread: the due jobs this replica holds */
    int64_t counts[OUTBOX_N_STATES];   /* store thread: jobs by state, kept as they change */
    int64_t next_sweep_ms;       /* store thread: lease renewal and sweep */
    int64_t armed_for;           /* store thread: the moment the loop's timer was last set for
                                  * (0: unknown, INT64_MAX: never); a tick that wants the
                                  * same moment sends no message */
    bool timer_fired;            /* guarded by mu: the timer fired since the last tick_st */
    /* Store thread, between outbox_st_precommit and outbox_st_postcommit: */
    bool pre;                    /* jobs were picked inside the caller's transaction */
    bool pre_failed;             /* a mark failed there: nothing picked leaves */
    int64_t *tent;               /* the jobs that transaction created (leave if it rolls back) */
    size_t n_tent, cap_tent;
};

static void tick(struct outbox *o);
static void schedule(struct outbox *o);
static void on_timer(uv_timer_t *t);
static void arm_loop(struct outbox *o, int64_t delay_ms);
static void count_move(struct outbox *o, int from, int to);

size_t outbox_in_flight(const struct outbox *o)
{
    return o ? o->n_inflight : 0;
}

int64_t outbox_add(struct store *s, int64_t incident_id, const char *idem_key, const char *op,
                   const cJSON *payload, const int64_t *deps, size_t n_deps,
                   int64_t deps_deadline_ms)
{
    char *text = payload ? cJSON_PrintUnformatted(payload) : NULL;
    int64_t now = clock_now_ms();
    struct outbox_new j = {
        .incident_id = incident_id,
        .idem_key = idem_key,
        .op = op,
        .payload = text ? text : "{}",
        .next_at_ms = now,
        .deps_deadline_ms = deps_deadline_ms,
        .deps = deps,
        .n_deps = n_deps,
        .now_ms = now,
    };
    int64_t id = store_outbox_add(s, &j);
    if (id <= 0)
        LOG_ERROR("outbox: cannot add job", "op:s idem:s", op, idem_key);
    cJSON_free(text);
    return id;
}

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

/* "HH:MM UTC" of an epoch time. */
static void fmt_hhmm(int64_t ms, char out[16])
{
    char iso[32];
    clock_fmt_iso(ms, iso);
    snprintf(out, 16, "%.5s UTC", iso + 11);
}

/* Adds a notice about a permanently failed job: into the incident channel
 * when there is one, else a DM to the reporter.  Inside the caller's txn. */
static void add_failure_notice(struct outbox *o, int64_t incident_id, const char *op,
                               const char *idem, const char *error)
{
    const struct effect_op *eop = effect_op_find(op);
    /* A notice's own failure is not told either (no notice chains). */
    if ((eop && eop->quiet) || (idem && strstr(idem, "/failure-notice")) || !incident_id)
        return;
    struct store *s = o->app->store;
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    if (store_incident_get(s, incident_id, &inc) != 0)
        return;
    char *err = mask_secrets(error ? error : "unknown error");
    char *text = xasprintf(":warning: SIRT-%" PRId64 ": %s failed (%s). Nothing more will be tried "
                           "automatically: please do it by hand.",
                           incident_id, eop ? eop->what : op, err);
    cJSON *p = cJSON_CreateObject();
    const char *nop;
    bool to_channel = inc.channel_id && !(eop && eop->notice_dm);
    if (to_channel) {
        cJSON_AddStringToObject(p, "channel", inc.channel_id);
        nop = "slack.post";
    } else {
        cJSON_AddStringToObject(p, "user", inc.reporter);
        nop = "slack.dm";
    }
    cJSON_AddStringToObject(p, "text", text);
    char *key = xasprintf("%s/failure-notice", idem);
    outbox_add(s, incident_id, key, nop, p, NULL, 0, 0);
    store_timeline_add(s, incident_id, clock_now_ms(), "sirtbot", "effect_failed", text);
    free(key);
    cJSON_Delete(p);
    free(text);
    free(err);
    incident_finish(&inc);
}

/* ---- page announcements ---- */

/* Posts text about the page job page_idem to the incident channel and to
 * sirt_channel, once each: the posts are outbox jobs whose idempotency keys
 * derive from the page's ("<page>/<what>/channel", ".../sirt"), so they are
 * the durable record that the announcement was made.  Inside the caller's
 * transaction. */
static void announce_page(struct outbox *o, int64_t incident_id, const char *page_idem, const char *what,
                          const char *text)
{
    struct store *s = o->app->store;
    const char *sirt = o->app->cfg ? o->app->cfg->sirt_channel : NULL;
    for (int i = 0; i < 2; i++) {
        if (i == 1 && (!sirt || !*sirt))
            break;
        cJSON *p = cJSON_CreateObject();
        if (i == 1)
            cJSON_AddStringToObject(p, "channel", sirt);   /* else: the incident channel */
        cJSON_AddStringToObject(p, "text", text);
        char *key = xasprintf("%s/%s/%s", page_idem, what, i == 1 ? "sirt" : "channel");
        outbox_add(s, incident_id, key, "slack.post", p, NULL, 0, 0);
        free(key);
        cJSON_Delete(p);
    }
    char kind[32];
    snprintf(kind, sizeof(kind), "page_%s", what);
    store_timeline_add(s, incident_id, clock_now_ms(), "sirtbot", kind, text);
    LOG_WARN("outbox: page announcement", "incident:l what:s idem:s", (long long)incident_id, what, page_idem);
}

/* True once the "not accepted" announcement of page_idem was queued. */
static bool page_delay_announced(struct outbox *o, const char *page_idem)
{
    char *key = xasprintf("%s/not-accepted/channel", page_idem);
    int64_t id = store_outbox_find(o->app->store, key);
    free(key);
    return id > 0;
}

static void announce_page_delayed(struct outbox *o, const struct inflight *f, const char *error)
{
    if (!f->incident_id || page_delay_announced(o, f->idem_key))
        return;
    char since[16];
    fmt_hhmm(f->first_due_ms, since);
    char *err = mask_secrets(error && *error ? error : "no answer");
    char *text = xasprintf(":rotating_light: PagerDuty has not accepted the page for SIRT-%" PRId64
                           " since %s (last answer: %s): call the on-call by phone. sirtbot keeps "
                           "retrying and will say here when it goes through.",
                           f->incident_id, since, err);
    announce_page(o, f->incident_id, f->idem_key, "not-accepted", text);
    free(text);
    free(err);
}

static void announce_page_outcome(struct outbox *o, int64_t incident_id, const char *idem, bool delivered)
{
    if (!incident_id || !page_delay_announced(o, idem))
        return;
    char at[16];
    fmt_hhmm(clock_now_ms(), at);
    char *text = delivered
        ? xasprintf(":white_check_mark: PagerDuty accepted the page for SIRT-%" PRId64 " at %s.", incident_id, at)
        : xasprintf(":information_source: The page for SIRT-%" PRId64 " was never accepted by PagerDuty and "
                    "is no longer sent: the incident was resolved (%s).", incident_id, at);
    announce_page(o, incident_id, idem, delivered ? "accepted" : "dropped", text);
    free(text);
}

/* ---- placeholders ---- */

static char *expand_str(const char *in, const struct incident *inc, const struct sirt_app *app)
{
    if (!strstr(in, "{{incident."))
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    const char *p = in;
    while (*p) {
        const char *q = strstr(p, "{{incident.");
        if (!q) {
            buf_puts(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(q - p));
        const char *end = strstr(q, "}}");
        if (!end) {
            buf_puts(&b, q);
            break;
        }
        char name[32];
        size_t n = (size_t)(end - (q + 11));
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, q + 11, n);
        name[n] = '\0';
        if (strcmp(name, "channel") == 0) {
            if (inc && inc->channel_id)
                buf_printf(&b, "<#%s>", inc->channel_id);
            else
                buf_puts(&b, "(the incident channel is being created)");
        } else if (strcmp(name, "channel_url") == 0) {
            char *u = inc && inc->channel_id ? effect_channel_url(app, inc->channel_id) : NULL;
            buf_puts(&b, u ? u : "");
            free(u);
        } else if (strcmp(name, "issue_url") == 0) {
            buf_puts(&b, inc && inc->gitlab_issue_url ? inc->gitlab_issue_url : "(no GitLab issue)");
        } else if (strcmp(name, "issue_link") == 0) {
            if (inc && inc->gitlab_issue_url)
                buf_printf(&b, "<%s|GitLab issue>", inc->gitlab_issue_url);
            else
                buf_puts(&b, "no GitLab issue");
        } else if (strcmp(name, "owner") == 0) {
            buf_puts(&b, inc && inc->owner ? inc->owner : "");
        } else if (strcmp(name, "owner_mention") == 0) {
            if (inc && inc->owner)
                buf_printf(&b, "<@%s>", inc->owner);
            else
                buf_puts(&b, "nobody");
        } else if (strcmp(name, "id") == 0) {
            buf_printf(&b, "SIRT-%" PRId64, inc ? inc->id : 0);
        } else {
            buf_append(&b, q, (size_t)(end + 2 - q));
        }
        p = end + 2;
    }
    return buf_take(&b);
}

/* Walks the payload replacing {{incident.channel}}, {{incident.channel_url}},
 * {{incident.issue_url}}, {{incident.issue_link}}, {{incident.id}},
 * {{incident.owner}} (the user id) and {{incident.owner_mention}} in every
 * string, arrays included. */
static void expand(cJSON *node, const struct incident *inc, const struct sirt_app *app, int depth)
{
    if (!node || depth > 32)
        return;
    cJSON *c;
    cJSON_ArrayForEach(c, node) {
        if (cJSON_IsString(c)) {
            char *v = expand_str(c->valuestring, inc, app);
            if (v) {
                cJSON_SetValuestring(c, v);   /* in place: the iteration stays valid */
                free(v);
            }
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            expand(c, inc, app, depth + 1);
        }
    }
}

/* ---- completion ---- */

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
static void add_followups(struct store *s, const struct inflight *f, const cJSON *result)
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

static void finish_inflight(struct outbox *o, struct inflight *f)
{
    struct inflight **pp = &o->inflight;
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
static void apply_outcome(struct outbox *o, struct inflight *f, const struct effect_result *r, bool closing,
                          struct outcome *c)
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
            announce_page_outcome(o, f->incident_id, f->idem_key, true);
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
            add_failure_notice(o, f->incident_id, f->op, f->idem_key, e);
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
                announce_page_delayed(o, f, r->error);
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
        add_failure_notice(o, f->incident_id, f->op, f->idem_key, r->error);
        LOG_ERROR("outbox: failed", "job:l op:s incident:l error:s", (long long)f->job_id, f->op,
                  (long long)f->incident_id, r->error);
        break;
    }
}

static void outcomes_st(struct store *st, void *arg)
{
    struct outbox *o = arg;
    pthread_mutex_lock(&o->mu);
    struct outcome *list = o->out_head;
    o->out_head = o->out_tail = NULL;
    o->outcome_posted = false;
    bool closing = o->closing;
    pthread_mutex_unlock(&o->mu);
    if (!list)
        return;
    /* Every outcome that came back together: one commit. */
    struct store_stats sa, sb;
    store_stats_get(st, &sa);
    bool began = store_begin(st) == 0;
    if (!began)
        LOG_ERROR("outbox: store unavailable; jobs stay sending until restart", "");
    for (struct outcome *c = list; c && began; c = c->next) {
        struct effect_result r = { c->outcome, c->error ? c->error : "", c->retry_after_ms, c->maybe_sent, c->result };
        apply_outcome(o, c->f, &r, closing, c);
    }
    bool ok = began && store_commit(st) == 0;
    if (began && !ok)   /* rolled back; the jobs stay sending (and ours) until restart */
        LOG_ERROR("outbox: cannot record the outcomes", "");
    bool woke = false;   /* a result set a timer ("wake"): the scheduler re-reads its agenda */
    for (struct outcome *c = list; c && ok && !woke; c = c->next)
        woke = c->outcome == EFFECT_DONE && cJSON_GetObjectItemCaseSensitive(c->result, "wake");
    if (woke)
        scheduler_st_changed(o->app->scheduler);
    store_stats_get(st, &sb);
    metrics_outbox_reads(o->app->metrics, sb.reads - sa.reads);
    while (list) {
        struct outcome *c = list;
        list = c->next;
        struct obq_job *j = obq_get(o->q, c->f->job_id);
        if (j && !ok) {
            obq_remove(o->q, j);
        } else if (j && c->final_state >= 0) {
            count_move(o, OUTBOX_SENDING, c->final_state);
            obq_finished(o->q, c->f->job_id, (enum outbox_state)c->final_state);
        } else if (j) {
            count_move(o, OUTBOX_SENDING, OUTBOX_PENDING);
            j->inflight = false;
            j->job.next_at_ms = c->next_at_ms;
            j->job.maybe_sent = j->job.maybe_sent || c->maybe_sent;
            if (c->new_payload) {
                free(j->job.payload);
                j->job.payload = c->new_payload;
                c->new_payload = NULL;
            }
        }
        finish_inflight(o, c->f);
        free(c->error);
        free(c->new_payload);
        cJSON_Delete(c->result);
        free(c);
    }
    if (!closing)
        tick(o);
}

/* Loop: an effect reported back; its outcome goes to the store thread. */
static void on_effect_done(void *ud, const struct effect_result *r)
{
    struct inflight *f = ud;
    struct outbox *o = f->o;
    struct outcome *c = xcalloc(1, sizeof(*c));
    c->f = f;
    c->outcome = r->outcome;
    c->error = r->error ? xstrdup(r->error) : NULL;
    c->retry_after_ms = r->retry_after_ms;
    c->maybe_sent = r->maybe_sent;
    c->result = r->result ? cJSON_Duplicate(r->result, true) : NULL;
    pthread_mutex_lock(&o->mu);
    if (o->out_tail)
        o->out_tail->next = c;
    else
        o->out_head = c;
    o->out_tail = c;
    bool post = !o->outcome_posted;
    o->outcome_posted = true;
    pthread_mutex_unlock(&o->mu);
    if (post)
        storeq_post(o->loop_app->storeq, outcomes_st, NULL, o);
}

/* ---- the queue in memory (store thread) ---- */

static void count_move(struct outbox *o, int from, int to)
{
    if (from >= 0 && o->counts[from] > 0)
        o->counts[from]--;
    if (to >= 0)
        o->counts[to]++;
}

/* Sweep and renewal period: a third of the lease, at most 10 s. */
static int64_t sweep_every_ms(const struct outbox *o)
{
    int64_t p = store_lease_ms(o->app->store) / 3;
    return p < 10000 ? (p < 1 ? 1 : p) : 10000;
}

/* The dependency dep of j: waited for while pending here or elsewhere;
 * read from the store only when neither the queue nor its memory of
 * finished jobs knows it (another replica's job, or one finished long ago). */
static void resolve_dep(struct outbox *o, struct obq_job *j, int64_t dep)
{
    int st = obq_state(o->q, dep);
    if (st < 0)
        st = store_outbox_state(o->app->store, dep);
    if (st == OUTBOX_PENDING || st == OUTBOX_SENDING)
        obq_add_dep(j, dep);
    else if (st == OUTBOX_FAILED)
        j->dep_failed = true;
    /* done, dropped, or gone: nothing to wait for */
}

/* j's unfinished dependencies as the store has them (claimed jobs, and
 * jobs waiting on another replica's). */
static void load_deps(struct outbox *o, struct obq_job *j)
{
    struct outbox_dep *deps = NULL;
    size_t n = 0;
    if (store_outbox_deps_of(o->app->store, j->job.id, &deps, &n) != 0)
        return;
    j->n_deps = 0;
    for (size_t i = 0; i < n; i++) {
        if (deps[i].dep_state == OUTBOX_FAILED)
            j->dep_failed = true;
        else
            obq_add_dep(j, deps[i].dep_id);
    }
    free(deps);
}

/* The jobs the commits since the last call created: ours, due as written. */
static void take_created(struct outbox *o)
{
    struct outbox_created *list = store_outbox_take_created(o->app->store);
    for (struct outbox_created *c = list; c; c = c->next) {
        int64_t id = c->job.id;
        struct obq_job *j = obq_add(o->q, &c->job);
        if (!j)
            continue;
        (void)id;
        count_move(o, -1, OUTBOX_PENDING);
        for (size_t i = 0; i < c->n_deps; i++)
            resolve_dep(o, j, c->deps[i]);
    }
    outbox_created_free(list);
}

/* Jobs claimed from the store (at start, or by the sweep) join the queue;
 * their soft waits on dependencies start again (obq_takeover). */
static size_t adopt(struct outbox *o, struct outbox_job *jobs, size_t n, bool with_deps)
{
    size_t added = 0;
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct obq_job *j = obq_add(o->q, &jobs[i]);
        if (!j)
            continue;
        added++;
        obq_takeover(j, now);
        if (with_deps)
            load_deps(o, j);
    }
    return added;
}

/* Store thread, every sweep_every_ms: renews this replica's leases and
 * claims the jobs no one holds (a dead replica's, once its lease ended).
 * The only reading-to-find-work left: one bounded query. */
static void sweep(struct outbox *o)
{
    struct store *s = o->app->store;
    int64_t now = clock_now_ms();
    o->next_sweep_ms = now + sweep_every_ms(o);
    if (store_begin(s) != 0)
        return;
    store_outbox_renew(s, now);
    struct outbox_job *jobs = NULL;
    size_t n = 0;
    if (store_outbox_claim(s, now, false, 256, &jobs, &n) != 0 || store_commit(s) != 0) {
        if (store_txn_failed(s))
            store_rollback(s);
        outbox_jobs_free(jobs, n);
        return;
    }
    size_t added = adopt(o, jobs, n, true);
    outbox_jobs_free(jobs, n);
    if (added)
        LOG_WARN("outbox: jobs taken over from a replica whose lease ended (or from no one)", "jobs:l",
                 (long long)added);
    /* Jobs waiting on another replica's jobs: their states, read again. */
    for (struct obq_job *j = obq_first(o->q); j; j = j->next) {
        bool foreign = false;
        for (size_t i = 0; i < j->n_deps && !foreign; i++)
            foreign = obq_get(o->q, j->deps[i]) == NULL;
        if (foreign)
            load_deps(o, j);
    }
    /* Other replicas change the counts too: the truth, once a sweep. */
    int64_t counts[OUTBOX_N_STATES];
    if (store_outbox_counts(s, counts) == 0)
        memcpy(o->counts, counts, sizeof(counts));
}

/* ---- dispatch (store thread) ---- */

/* Returns false when the store could not record it (the job stays due). */
static bool fail_now(struct outbox *o, struct obq_job *oj, const char *why, bool notify)
{
    struct store *s = o->app->store;
    const struct outbox_job *j = &oj->job;
    int64_t now = clock_now_ms();
    if (store_begin(s) != 0)
        return false;
    if (store_outbox_mark_failed(s, j->id, why, now) != 0) {
        store_rollback(s);
        return false;
    }
    if (notify)
        add_failure_notice(o, j->incident_id, j->op, j->idem_key, why);
    if (store_commit(s) != 0)
        return false;
    LOG_WARN("outbox: job failed", "job:l op:s incident:l error:s", (long long)j->id, j->op,
             (long long)j->incident_id, why);
    count_move(o, OUTBOX_PENDING, OUTBOX_FAILED);
    obq_finished(o->q, j->id, OUTBOX_FAILED);
    return true;
}

/* Drops j as no longer needed (recorded as DROPPED, with why).  Returns
 * false when the store could not record it. */
static bool drop_now(struct outbox *o, struct obq_job *oj, const char *why, bool page)
{
    struct store *s = o->app->store;
    const struct outbox_job *j = &oj->job;
    int64_t now = clock_now_ms();
    if (store_begin(s) != 0)
        return false;
    if (store_outbox_mark_dropped(s, j->id, why, now) != 0) {
        store_rollback(s);
        return false;
    }
    if (page && j->incident_id)
        store_timeline_add(s, j->incident_id, now, "sirtbot", "page_dropped", why);
    if (page)
        announce_page_outcome(o, j->incident_id, j->idem_key, false);
    if (store_commit(s) != 0)
        return false;
    metrics_outbox(o->app->metrics, j->op, "dropped");
    LOG_WARN("outbox: job dropped", "job:l op:s incident:l why:s", (long long)j->id, j->op,
             (long long)j->incident_id, why);
    count_move(o, OUTBOX_PENDING, OUTBOX_DROPPED);
    obq_finished(o->q, j->id, OUTBOX_DROPPED);
    return true;
}

/* Starts j's effect, or fails it for good.  Returns false when the store
 * could not record the change, so the caller backs off instead of finding
 * the same job due again at once.  oj may be freed (failed, dropped, or
 * claimed by another replica). */
static bool dispatch(struct outbox *o, struct obq_job *oj)
{
    struct store *s = o->app->store;
    const struct outbox_job *j = &oj->job;
    int64_t now = clock_now_ms();
    if (obq_blocked(oj))
        return fail_now(o, oj, "a step it depends on failed", false);
    const struct effect_op *eop = effect_op_find(j->op);
    if (!eop)
        return fail_now(o, oj, "unknown op", false);
    if (eop->ttl_ms > 0 && now - j->created_ms > eop->ttl_ms)
        /* slack.views_open: a trigger_id lives 3 s, a late modal cannot open any more. */
        return fail_now(o, oj, "trigger_id expired before the modal could open", false);
    cJSON *payload = cJSON_Parse(j->payload ? j->payload : "{}");
    if (!cJSON_IsObject(payload)) {
        cJSON_Delete(payload);
        return fail_now(o, oj, "corrupt payload", true);
    }
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    bool have_inc = j->incident_id && store_incident_get(s, j->incident_id, &inc) == 0;
    if (have_inc && inc.state && strcmp(inc.state, "resolved") == 0
        && eop->retry == EFFECT_CLASS_PAGE) {
        /* Retried until delivered or no longer needed: it is no longer needed. */
        cJSON_Delete(payload);
        incident_finish(&inc);
        return drop_now(o, oj, "not sent: the incident was resolved before PagerDuty accepted the page", true);
    }
    const char *if_state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(payload, "if_state"));
    if (have_inc && if_state && inc.state && strcmp(inc.state, if_state) != 0) {
        /* Written for an incident in another state (a reminder for an open
         * one, a close for a resolved one): no longer makes sense. */
        char why[96];
        snprintf(why, sizeof(why), "not sent: the incident is %.20s, no longer %.20s", inc.state, if_state);
        cJSON_Delete(payload);
        incident_finish(&inc);
        return drop_now(o, oj, why, false);
    }
    expand(payload, have_inc ? &inc : NULL, o->app, 0);

    /* Claimed and recorded as sending before the request leaves: a crash
     * from here on is retried with maybe_sent set. */
    int ret = store_outbox_mark_sending(s, j->id, now);
    if (ret == STORE_EINVAL || ret == STORE_ENOTFOUND) {
        /* Not pending any more, or another replica holds it: not ours. */
        LOG_INFO("outbox: job held elsewhere, left to its holder", "job:l op:s", (long long)j->id, j->op);
        count_move(o, OUTBOX_PENDING, -1);
        obq_remove(o->q, oj);
        cJSON_Delete(payload);
        incident_finish(&inc);
        return true;
    }
    if (ret != 0) {
        LOG_ERROR("outbox: cannot mark a job as sending; not sent", "job:l op:s", (long long)j->id, j->op);
        cJSON_Delete(payload);
        incident_finish(&inc);
        return false;
    }
    oj->inflight = true;
    struct inflight *f = xcalloc(1, sizeof(*f));
    f->o = o;
    f->job_id = j->id;
    f->incident_id = j->incident_id;
    f->attempts = j->attempts + 1;
    f->op = xstrdup(j->op);
    f->idem_key = xstrdup(j->idem_key);
    f->started_us = clock_mono_us();
    f->first_due_ms = j->first_due_ms ? j->first_due_ms : now;   /* as mark_sending recorded it */
    f->next = o->inflight;
    o->inflight = f;
    o->n_inflight++;
    metrics_outbox_in_flight(o->app->metrics, (long)o->n_inflight);
    LOG_DEBUG("outbox: sending", "job:l op:s incident:l attempt:d maybe_sent:b", (long long)j->id, j->op,
              (long long)j->incident_id, f->attempts, j->maybe_sent);
    /* Sent from the loop once the transaction that marks it is committed. */
    struct start *sp = xcalloc(1, sizeof(*sp));
    sp->f = f;
    sp->job.id = j->id;
    sp->job.incident_id = j->incident_id;
    sp->job.idem_key = xstrdup(j->idem_key);
    sp->job.op = xstrdup(j->op);
    sp->job.state = OUTBOX_SENDING;
    sp->job.attempts = f->attempts;
    sp->job.maybe_sent = j->maybe_sent;
    sp->job.next_at_ms = j->next_at_ms;
    sp->job.deps_deadline_ms = j->deps_deadline_ms;
    sp->job.created_ms = j->created_ms;
    sp->job.first_due_ms = f->first_due_ms;
    sp->payload = payload;
    sp->inc = inc;
    sp->have_inc = have_inc;
    sp->next = o->starts;
    o->starts = sp;
    return true;
}

static void start_free(struct start *sp)
{
    outbox_job_finish(&sp->job);
    cJSON_Delete(sp->payload);
    incident_finish(&sp->inc);
    free(sp);
}

/* Loop: the requests of the jobs just marked sending leave. */
static void starts_on_loop(void *arg)
{
    struct start *list = arg;
    while (list) {
        struct start *sp = list;
        list = sp->next;
        if (sp->f->o->closing) {   /* stays sending: retried with reconciliation at the next start */
            start_free(sp);
            continue;
        }
        effect_start(sp->f->o->loop_app, &sp->job, sp->payload, sp->have_inc ? &sp->inc : NULL, on_effect_done,
                     sp->f);
        start_free(sp);
    }
}

/* Store thread: the gauges /metrics shows, from memory, kept here so a
 * scrape never waits on the store. */
static void update_gauges(struct outbox *o)
{
    int64_t oldest = obq_oldest(o->q);
    pthread_mutex_lock(&o->mu);
    o->gauges_ok = true;
    memcpy(o->gauges, o->counts, sizeof(o->counts));
    o->oldest_ms = oldest;
    pthread_mutex_unlock(&o->mu);
}

static void tick_inner(struct outbox *o);

/* Counts the store reads the outbox makes (sirt_outbox_store_reads_total). */
static void tick(struct outbox *o)
{
    if (o->closing || o->ticking || !o->started)
        return;
    struct store_stats a, b;
    store_stats_get(o->app->store, &a);
    tick_inner(o);
    store_stats_get(o->app->store, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
}

/* The dispatch rounds of a tick, inside the caller's open transaction: the
 * jobs picked are marked sending in it and wait in o->starts until it ends
 * (starts_settle).  False when the store refused a write. */
static bool pick_rounds(struct outbox *o)
{
    bool ok = true;
    struct obq_job *due[OUTBOX_MAX_IN_FLIGHT];
    for (int round = 0; ok && round < 4 && o->n_inflight < OUTBOX_MAX_IN_FLIGHT; round++) {
        size_t room = OUTBOX_MAX_IN_FLIGHT - o->n_inflight;
        size_t n = obq_due(o->q, clock_now_ms(), due, room);
        size_t started = 0;
        int64_t ids[OUTBOX_MAX_IN_FLIGHT];
        for (size_t i = 0; i < n; i++)
            ids[i] = due[i]->job.id;
        for (size_t i = 0; i < n && o->n_inflight < OUTBOX_MAX_IN_FLIGHT; i++) {
            struct obq_job *j = obq_get(o->q, ids[i]);   /* a failure may have finished it */
            if (!j || j->inflight)
                continue;
            if (dispatch(o, j))
                started++;
            else
                ok = false;
        }
        take_created(o);   /* failure notices of fail_now */
        if (!started)
            break;
    }
    return ok;
}

/* The transaction that marked o->starts ended: committed (ok), their
 * requests leave; otherwise they stay pending, and the jobs that the
 * transaction itself created (tent, n_tent) leave the queue with it. */
static void starts_settle(struct outbox *o, bool ok, const int64_t *tent, size_t n_tent)
{
    struct start *list = o->starts;
    o->starts = NULL;
    for (struct start *sp = list; sp; sp = sp->next) {
        struct obq_job *j = obq_get(o->q, sp->job.id);
        if (!j)
            continue;
        if (ok) {
            j->job.attempts = sp->job.attempts;
            j->job.first_due_ms = sp->job.first_due_ms;
            count_move(o, OUTBOX_PENDING, OUTBOX_SENDING);
        } else {
            j->inflight = false;
        }
    }
    for (size_t i = 0; !ok && i < n_tent; i++) {
        struct obq_job *j = obq_get(o->q, tent[i]);
        if (j) {
            count_move(o, OUTBOX_PENDING, -1);
            obq_remove(o->q, j);
        }
    }
    if (ok) {
        if (list)
            storeq_to_loop(o->app->storeq, starts_on_loop, list);
    } else {
        while (list) {
            struct start *sp = list;
            list = sp->next;
            finish_inflight(o, sp->f);
            start_free(sp);
        }
    }
}

static void tick_inner(struct outbox *o)
{
    o->ticking = true;
    struct store *s = o->app->store;
    take_created(o);
    if (clock_now_ms() >= o->next_sweep_ms)
        sweep(o);
    /* The jobs picked here are marked sending in one transaction. */
    bool began = store_begin(s) == 0;
    bool ok = began && pick_rounds(o);
    if (began && (store_txn_failed(s) || store_commit(s) != 0))
        ok = false;   /* the commit undid the marks: nothing leaves */
    if (began && !ok && store_txn_failed(s))
        store_rollback(s);
    take_created(o);
    starts_settle(o, ok, NULL, 0);
    o->ticking = false;
    update_gauges(o);
    if (ok) {
        schedule(o);
    } else {
        /* The store refused a write: the same jobs are still due, so
         * looking again at once would spin.  Try again in a second. */
        LOG_ERROR("outbox: store error; retrying in 1 s", "");
        arm_loop(o, 1000);
    }
}

static void tick_st(struct store *st, void *arg)
{
    (void)st;
    struct outbox *o = arg;
    pthread_mutex_lock(&o->mu);
    o->tick_posted = false;
    if (o->timer_fired)
        o->armed_for = 0;   /* a one-shot timer: set it again, whatever the moment */
    o->timer_fired = false;
    pthread_mutex_unlock(&o->mu);
    tick(o);
}

static void post_tick(struct outbox *o)
{
    pthread_mutex_lock(&o->mu);
    bool post = !o->tick_posted && !o->closing;
    o->tick_posted = true;
    pthread_mutex_unlock(&o->mu);
    if (post)
        storeq_post(o->loop_app->storeq, tick_st, NULL, o);
}

static void on_timer(uv_timer_t *t)
{
    struct outbox *o = container_of(t, struct outbox, timer);
    pthread_mutex_lock(&o->mu);
    o->timer_fired = true;
    pthread_mutex_unlock(&o->mu);
    post_tick(o);
}

struct arm {
    struct outbox *o;
    int64_t delay_ms;   /* < 0: stop */
};

static void arm_on_loop(void *arg)
{
    struct arm *a = arg;
    if (!a->o->closing) {
        if (a->delay_ms < 0)
            uv_timer_stop(&a->o->timer);
        else
            uv_timer_start(&a->o->timer, on_timer, (uint64_t)a->delay_ms, 0);
    }
    free(a);
}

static void arm_loop(struct outbox *o, int64_t delay_ms)
{
    o->armed_for = 0;   /* schedule() says which moment, when it knows */
    struct arm *a = xcalloc(1, sizeof(*a));
    a->o = o;
    a->delay_ms = delay_ms;
    storeq_to_loop(o->app->storeq, arm_on_loop, a);
}

/* Store thread: sets the one timer to the next moment something becomes
 * due, or the next sweep.  Full in flight: a completion ticks. */
static void schedule(struct outbox *o)
{
    if (o->closing)
        return;
    int64_t next = o->n_inflight >= OUTBOX_MAX_IN_FLIGHT ? INT64_MAX : obq_next_due(o->q);
    if (o->next_sweep_ms < next)
        next = o->next_sweep_ms;
    int64_t now = clock_now_ms();
    /* Each commit ticks: most ticks want the moment already set (the next
     * sweep), and a loop wake-up per reply for nothing is worth saving. */
    if (next > now && next == o->armed_for)
        return;
    arm_loop(o, next <= now ? 0 : next - now);
    o->armed_for = next;
}

void outbox_kick(struct outbox *o)
{
    if (!o || !o->started || o->closing)
        return;
    post_tick(o);
}

void outbox_st_committed(struct outbox *o)
{
    if (o && o->started && !o->closing && !o->ticking)
        tick(o);
}

void outbox_st_precommit(struct outbox *o)
{
    if (!o || !o->started || o->closing || o->ticking || store_txn_depth(o->app->store) != 1
        || store_txn_failed(o->app->store))
        return;
    struct store_stats a, b;
    store_stats_get(o->app->store, &a);
    o->ticking = true;
    o->pre = true;
    /* The transaction's own jobs join the queue now, tentatively. */
    struct outbox_created *list = store_outbox_take_created_in_txn(o->app->store);
    for (struct outbox_created *c = list; c; c = c->next) {
        int64_t id = c->job.id;
        struct obq_job *j = obq_add(o->q, &c->job);
        if (!j)
            continue;
        count_move(o, -1, OUTBOX_PENDING);
        for (size_t i = 0; i < c->n_deps; i++)
            resolve_dep(o, j, c->deps[i]);
        if (o->n_tent == o->cap_tent) {
            o->cap_tent = o->cap_tent ? 2 * o->cap_tent : 16;
            o->tent = xrealloc(o->tent, o->cap_tent * sizeof(*o->tent));
        }
        o->tent[o->n_tent++] = id;
    }
    outbox_created_free(list);
    if (!pick_rounds(o))
        o->pre_failed = true;
    store_stats_get(o->app->store, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
}

void outbox_st_postcommit(struct outbox *o, bool committed)
{
    if (!o)
        return;
    if (!o->pre) {
        if (committed)
            outbox_st_committed(o);
        return;
    }
    bool ok = committed && !o->pre_failed;
    o->pre = o->pre_failed = false;
    starts_settle(o, ok, o->tent, o->n_tent);
    o->n_tent = 0;
    o->ticking = false;
    if (committed) {
        take_created(o);   /* e.g. failure notices of jobs failed in there */
        int64_t now = clock_now_ms();
        if (now >= o->next_sweep_ms || obq_next_due(o->q) <= now) {
            tick(o);       /* more is due: its own transaction */
            return;
        }
    }
    update_gauges(o);
    schedule(o);
}

void outbox_st_rolled_back(struct outbox *o)
{
    /* The store forgot the jobs of the rolled-back transaction: nothing
     * of them reached the queue. */
    (void)o;
}

struct outbox *outbox_create(struct sirt_app *app)
{
    struct outbox *o = xcalloc(1, sizeof(*o));
    o->loop_app = app;
    o->app = app->st_app ? app->st_app : app;
    o->q = obq_create();
    /* From now on (before the store thread starts) the commits that
     * create jobs report them, including those of an inbox replay that
     * runs before outbox_start. */
    if (app->store)
        store_outbox_track(app->store, true);
    pthread_mutex_init(&o->mu, NULL);
    uv_timer_init(app->loop, &o->timer);
    return o;
}

/* Called by metrics_render on the loop: reads what the store thread kept. */
static bool probe(void *ud, int64_t counts[METRICS_OUTBOX_STATES], int64_t *oldest_age_ms)
{
    struct outbox *o = ud;
    pthread_mutex_lock(&o->mu);
    bool ok = o->gauges_ok;
    memcpy(counts, o->gauges, sizeof(o->gauges));
    int64_t oldest = o->oldest_ms;
    pthread_mutex_unlock(&o->mu);
    int64_t now = clock_now_ms();
    *oldest_age_ms = oldest == INT64_MAX || oldest > now ? 0 : now - oldest;
    return ok;
}

/* Store thread, once: the jobs no live replica holds become ours (on
 * SQLite every job: one process), the queue is loaded from them, and from
 * now on the commits that create jobs report them. */
static void start_st(struct store *st, void *arg)
{
    struct outbox *o = arg;
    struct store_stats a, b;
    store_stats_get(st, &a);
    int64_t now = clock_now_ms();
    size_t recovered = 0, total = 0;
    if (store_begin(st) == 0) {
        for (;;) {
            struct outbox_job *jobs = NULL;
            size_t n = 0;
            if (store_outbox_claim(st, now, true, 1024, &jobs, &n) != 0)
                break;
            for (size_t i = 0; i < n; i++)
                recovered += jobs[i].maybe_sent && jobs[i].attempts > 0;
            total += adopt(o, jobs, n, false);
            outbox_jobs_free(jobs, n);
            if (n < 1024)
                break;
        }
        if (store_commit(st) != 0) {
            obq_destroy(o->q);
            o->q = obq_create();
            total = 0;
        }
    }
    take_created(o);   /* ours already, e.g. from an inbox replay */
    /* Their dependencies: one read for all. */
    struct outbox_dep *deps = NULL;
    size_t nd = 0;
    if (total && store_outbox_pending_deps(st, &deps, &nd) == 0) {
        for (size_t i = 0; i < nd; i++) {
            struct obq_job *j = obq_get(o->q, deps[i].job_id);
            if (!j)
                continue;
            if (deps[i].dep_state == OUTBOX_FAILED)
                j->dep_failed = true;
            else
                obq_add_dep(j, deps[i].dep_id);
        }
    }
    free(deps);
    if (store_outbox_counts(st, o->counts) == 0 && o->counts[OUTBOX_PENDING])
        LOG_INFO("outbox: pending jobs at start", "pending:l failed:l ours:l", (long long)o->counts[OUTBOX_PENDING],
                 (long long)o->counts[OUTBOX_FAILED], (long long)total);
    if (recovered)
        LOG_WARN("outbox: jobs interrupted by a stop are retried with reconciliation", "jobs:l",
                 (long long)recovered);
    o->next_sweep_ms = now + sweep_every_ms(o);
    store_stats_get(st, &b);
    metrics_outbox_reads(o->app->metrics, b.reads - a.reads);
    o->started = true;
    tick(o);
}

int outbox_start(struct outbox *o)
{
    if (o->started)
        return 0;
    metrics_set_outbox_probe(o->loop_app->metrics, probe, o);
    storeq_post(o->loop_app->storeq, start_st, NULL, o);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct outbox *o = container_of((uv_timer_t *)h, struct outbox, timer);
    o->timer_closed = true;
}

/* Store thread, at a clean stop: this replica's jobs are anyone's now (the
 * outcomes still coming only record what happened). */
static void release_st(struct store *st, void *arg)
{
    struct outbox *o = arg;
    if (!o->started)
        return;
    int n = store_outbox_release(st);
    if (n > 0)
        LOG_INFO("outbox: leases released", "jobs:d", n);
    store_outbox_track(st, false);
    outbox_created_free(store_outbox_take_created(st));
}

void outbox_close(struct outbox *o)
{
    if (!o)
        return;
    metrics_set_outbox_probe(o->loop_app->metrics, NULL, NULL);
    pthread_mutex_lock(&o->mu);
    o->closing = true;
    pthread_mutex_unlock(&o->mu);
    storeq_post(o->loop_app->storeq, release_st, NULL, o);
    uv_close((uv_handle_t *)&o->timer, on_timer_closed);
}

void outbox_destroy(struct outbox *o)
{
    if (!o)
        return;
    while (o->out_head) {
        struct outcome *c = o->out_head;
        o->out_head = c->next;
        free(c->error);
        free(c->new_payload);
        cJSON_Delete(c->result);
        free(c);
    }
    while (o->inflight)
        finish_inflight(o, o->inflight);
    obq_destroy(o->q);
    free(o->tent);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
