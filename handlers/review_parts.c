/* review_parts: the weekly review's account of how incidents went (see
 * review_parts.h) — flags per incident, the open process improvements and
 * the medians — plus `/sirt improve`, its digest button "Mark done", and
 * the store-wide duration histograms for /metrics (review_durations_step,
 * run in slices on the store thread).  Everything reads the store through
 * review_flags.c; nothing here touches the network: effects are outbox
 * jobs in the caller's transaction. */
#include "review_parts.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/blockkit.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/metrics.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "bk.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "review_flags.h"
#include "txt.h"

#define IMPROVEMENT_MAX 1000        /* stored text, bytes */
#define IMPROVEMENTS_PER_MSG 40     /* + a header: within BK_MSG_BLOCKS */
#define IMPROVEMENT_MSGS 5          /* more than this: the rest counted */
#define ORDER_DEADLINE_MS 60000
#define SLICE 200                   /* incidents per store read of a pass */

static bool is_sirt(const struct hctx *ctx, const char *user)
{
    return ctx->cfg && user && cfg_strv_has(&ctx->cfg->sirt_team, user);
}

void review_rf_params(const struct hctx *ctx, int64_t now, struct rf_params *p)
{
    memset(p, 0, sizeof(*p));
    p->now_ms = now;
    p->ack_minutes = ctx->cfg ? ctx->cfg->paging_ack_minutes : 15;
    p->acks_followed = ctx->cfg && ctx->cfg->pagerduty_api_token && ctx->cfg->pagerduty_api_token[0];
}

char *review_flags_line(const struct hctx *ctx, const struct incident *inc, int64_t now, int *n)
{
    struct rf_loaded l;
    struct rf_params p;
    struct rf_result r;
    review_rf_params(ctx, now, &p);
    rf_load(ctx->store, inc, &l);
    rf_compute(&l.rows, &p, &r);
    char *line = rf_describe(&l.rows, &p, &r);
    *n = 0;
    for (unsigned f = r.flags; f; f &= f - 1)
        (*n)++;
    rf_loaded_finish(&l);
    return line;
}

/* ---- a pass over every incident ---- */

struct pass {
    const struct hctx *ctx;
    struct rf_params p;
    int64_t last_id;
    size_t seen;
    void (*each)(void *ud, const struct incident *inc, const struct rf_result *r);
    void *ud;
};

static bool pass_one(void *ud, const struct incident *inc)
{
    struct pass *ps = ud;
    struct rf_loaded l;
    struct rf_result r;
    rf_load(ps->ctx->store, inc, &l);
    rf_compute(&l.rows, &ps->p, &r);
    ps->each(ps->ud, inc, &r);
    rf_loaded_finish(&l);
    ps->last_id = inc->id;
    ps->seen++;
    return true;
}

/* One slice of at most max incidents after ps->last_id: 1 when the pass
 * is over, 0 when more remain, <0 on a store error. */
static int pass_slice(struct pass *ps, size_t max)
{
    size_t before = ps->seen;
    int rc = store_incidents_after(ps->ctx->store, ps->last_id, max, pass_one, ps);
    if (rc < 0)
        return rc;
    return ps->seen - before < max ? 1 : 0;
}

/* ---- medians ---- */

struct medians {
    struct rf_samples s;
    int64_t since, until;
};

static void add_samples(void *ud, const struct incident *inc, const struct rf_result *r)
{
    struct medians *m = ud;
    rf_samples_add(&m->s, inc->severity, r, m->since, m->until);
}

char *review_medians_text(const struct hctx *ctx, int64_t now)
{
    struct medians m;
    memset(&m, 0, sizeof(m));
    m.since = now - RF_MEDIAN_WINDOW_MS;
    m.until = now;
    struct pass ps = { .ctx = ctx, .each = add_samples, .ud = &m };
    review_rf_params(ctx, now, &ps.p);
    int rc;
    while ((rc = pass_slice(&ps, SLICE)) == 0)
        ;
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "*Median times over the last 4 weeks*, by severity (each step counted when it happened in "
                 "these 4 weeks; page: from the report, or from when the incident became S1/P1; acknowledge: "
                 "from the page; the others from the report):");
    for (int k = 0; k < 4; k++) {
        buf_printf(&b, "\n• S%d:", k + 1);
        for (int i = 0; i < RF_N_DUR; i++) {
            char d[32];
            rf_fmt_duration(rf_median(m.s.v[k][i], m.s.n[k][i]), d);
            buf_printf(&b, "%s %s %s", i ? " ·" : "", rf_dur_names[i], d);
            if (m.s.n[k][i])
                buf_printf(&b, " (%zu)", m.s.n[k][i]);
        }
    }
    if (rc < 0)
        buf_puts(&b, "\n_(incomplete: the store could not be read)_");
    rf_samples_finish(&m.s);
    return buf_take(&b);
}

/* ---- durations for /metrics ---- */

static void observe(void *ud, const struct incident *inc, const struct rf_result *r)
{
    struct metrics_durations *d = ud;
    for (int i = 0; i < RF_N_DUR; i++)
        if (r->dur_ms[i] >= 0)
            metrics_durations_observe(d, i, inc->severity, (double)r->dur_ms[i] / 1000.0);
}

int review_durations_step(const struct hctx *ctx, struct review_dur_pass *dp, size_t max)
{
    struct pass ps = { .ctx = ctx, .last_id = dp->cursor, .each = observe, .ud = &dp->d };
    review_rf_params(ctx, ctx->now_ms(), &ps.p);
    int rc = pass_slice(&ps, max ? max : SLICE);
    dp->cursor = ps.last_id;
    return rc;
}

/* ---- improvements in the digest ---- */

static bool count_open(void *ud, const struct improvement *m)
{
    (void)m;
    (*(int *)ud)++;
    return true;
}

int review_improvements_open(const struct hctx *ctx)
{
    int n = 0;
    return store_improvements_open(ctx->store, count_open, &n) == 0 ? n : -1;
}

struct imp_post {
    const struct hctx *ctx;
    const char *key_base;
    int64_t now, *prev;
    cJSON *blocks;              /* the message being filled */
    size_t in_msg, msgs, total, shown;
};

static void flush(struct imp_post *ip, bool last)
{
    if (!ip->blocks)
        return;
    if (last && ip->total > ip->shown) {
        char t[120];
        snprintf(t, sizeof(t), "… and %zu more not shown here.", ip->total - ip->shown);
        cJSON_AddItemToArray(ip->blocks, bk_context(t));
    }
    const char *channel = ip->ctx->cfg->sirt_channel;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", channel);
    char text[160];
    snprintf(text, sizeof(text), "Process improvements noted: %zu open%s", ip->total,
             ip->msgs ? " (continued)" : "");
    cJSON_AddStringToObject(p, "text", text);
    cJSON_AddItemToObject(p, "blocks", ip->blocks);
    ip->blocks = NULL;
    cJSON_AddFalseToObject(p, "unfurl_links");
    cJSON_AddTrueToObject(p, "private_only");   /* their text may hold details */
    char key[256];
    snprintf(key, sizeof(key), "%s/improvements-%zu", ip->key_base, ip->msgs + 1);
    int64_t prev = *ip->prev;
    int64_t id = outbox_add(ip->ctx->store, 0, key, "slack.post", p, prev > 0 ? &prev : NULL, prev > 0 ? 1 : 0,
                            prev > 0 ? ip->now + ORDER_DEADLINE_MS : 0);
    if (id > 0)
        *ip->prev = id;
    cJSON_Delete(p);
    ip->msgs++;
    ip->in_msg = 0;
}

static bool add_improvement(void *ud, const struct improvement *m)
{
    struct imp_post *ip = ud;
    if (ip->in_msg == IMPROVEMENTS_PER_MSG)
        flush(ip, false);
    if (ip->msgs == IMPROVEMENT_MSGS)
        return true;            /* counted, not shown */
    if (!ip->blocks) {
        ip->blocks = cJSON_CreateArray();
        char head[200];
        snprintf(head, sizeof(head), ip->msgs ? "*Process improvements noted* (continued)"
                                              : "*Process improvements noted* — %zu open. Mark each one done "
                                                "when it is in place (SIRT team).", ip->total);
        cJSON_AddItemToArray(ip->blocks, bk_section(head));
    }
    char *t = txt_line(m->text, 2400);
    char day[32];
    txt_utc(m->created_ms, "%Y-%m-%d", day);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "*#%" PRId64 "*", m->id);
    if (m->incident_id > 0)
        buf_printf(&b, " (SIRT-%" PRId64 ")", m->incident_id);
    buf_printf(&b, " %s — noted by <@%s> on %s", t, m->author, day);
    cJSON *sec = bk_section(b.data);
    char val[32];
    snprintf(val, sizeof(val), "%" PRId64, m->id);
    cJSON_AddItemToObject(sec, "accessory", bk_button("Mark done", "review_improvement_done", val, "primary"));
    cJSON_AddItemToArray(ip->blocks, sec);
    buf_finish(&b);
    free(t);
    ip->in_msg++;
    ip->shown++;
    return true;
}

size_t review_improvements_post(const struct hctx *ctx, const char *key_base, int64_t now, int64_t *prev)
{
    int n = review_improvements_open(ctx);
    if (n <= 0 || !ctx->cfg || !ctx->cfg->sirt_channel)
        return 0;
    struct imp_post ip = { .ctx = ctx, .key_base = key_base, .now = now, .prev = prev, .total = (size_t)n };
    store_improvements_open(ctx->store, add_improvement, &ip);
    flush(&ip, true);
    return ip.msgs;
}

/* ---- /sirt improve [SIRT-n] <text> ---- */

/* The incident (0: none) and where the text starts; 0, or -1 with a
 * message for the asker. */
static int improve_parse(const struct hctx *ctx, const struct sirt_req *req, int64_t *incident_id,
                         const char **text, char *msg, size_t len)
{
    *incident_id = 0;
    if (!is_sirt(ctx, req->user_id)) {
        snprintf(msg, len, "Only the SIRT team can note process improvements.");
        return -1;
    }
    const char *a = req->args ? req->args : "";
    while (isspace((unsigned char)*a))
        a++;
    int64_t id = inc_parse_id(a);
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    if (id > 0) {
        while (*a && !isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*a))
            a++;
        if (!ctx->store || store_incident_get(ctx->store, id, &inc) != 0) {
            snprintf(msg, len, "There is no incident SIRT-%" PRId64 ".", id);
            return -1;
        }
        *incident_id = id;
        incident_finish(&inc);
    } else if (ctx->store && req->channel_id && store_incident_by_channel(ctx->store, req->channel_id, &inc) == 0) {
        *incident_id = inc.id;
        incident_finish(&inc);
    }
    if (!*a) {
        snprintf(msg, len, "Usage: `/sirt improve [SIRT-n] <what to improve>`: it is listed in every weekly "
                           "review until someone marks it done.");
        return -1;
    }
    *text = a;
    return 0;
}

void improve_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    int64_t id;
    const char *text;
    char msg[300];
    if (improve_parse(ctx, req, &id, &text, msg, sizeof(msg)) != 0)
        reply_set_text(out, "%s", msg);
    else if (id > 0)
        reply_set_text(out, "Noted a process improvement for SIRT-%" PRId64 ": it is listed in every weekly review "
                            "until someone marks it done.", id);
    else
        reply_set_text(out, "Noted a process improvement: it is listed in every weekly review until someone "
                            "marks it done.");
}

int improve_work(const struct hctx *ctx, const struct sirt_req *req)
{
    int64_t id;
    const char *text;
    char msg[300];
    if (!ctx->store || improve_parse(ctx, req, &id, &text, msg, sizeof(msg)) != 0)
        return job_result(ctx);   /* respond() told the asker */
    struct improvement m;
    memset(&m, 0, sizeof(m));
    m.incident_id = id;
    m.author = (char *)req->user_id;
    m.text = txt_clean(text, IMPROVEMENT_MAX);   /* masked */
    m.created_ms = ctx->now_ms();
    int rc = store_improvement_add(ctx->store, &m);
    if (rc == 0 && id > 0)
        inc_timeline_add(ctx, id, req->user_id, "improvement", "%s", m.text);
    if (rc == 0)
        LOG_INFO("review: process improvement noted", "improvement:l incident:l", (long long)m.id, (long long)id);
    free(m.text);
    return job_result(ctx);
}

/* ---- the digest's "Mark done" ---- */

int review_improvement_done_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    if (!user || !ctx->store)
        return job_result(ctx);
    if (!is_sirt(ctx, user)) {
        job_button_notice(ctx, payload, action, "improvement-refused",
                          "Only the SIRT team can mark process improvements done.", false);
        return job_result(ctx);
    }
    const char *v = util_jstr(action, "value");
    int64_t id = v ? strtoll(v, NULL, 10) : 0;
    struct improvement m;
    memset(&m, 0, sizeof(m));
    char text[200];
    if (id <= 0 || store_improvement_get(ctx->store, id, &m) != 0) {
        snprintf(text, sizeof(text), "I cannot find that process improvement any more.");
    } else if (m.done_ms > 0) {
        snprintf(text, sizeof(text), "Process improvement #%" PRId64 " was already marked done by <@%s>.", id,
                 m.done_by ? m.done_by : "someone");
    } else if (store_improvement_done(ctx->store, id, user, ctx->now_ms()) == 0) {
        if (m.incident_id > 0)
            inc_timeline_add(ctx, m.incident_id, user, "improvement_done", "process improvement #%" PRId64
                             " marked done by <@%s>", id, user);
        snprintf(text, sizeof(text), "Process improvement #%" PRId64 " marked done: the next weekly review no "
                                     "longer lists it.", id);
        LOG_INFO("review: process improvement done", "improvement:l user:s", (long long)id, user);
    } else {
        snprintf(text, sizeof(text), "Process improvement #%" PRId64 " could not be marked done; try again.", id);
    }
    job_button_notice(ctx, payload, action, "improvement-done", text, false);
    improvement_finish(&m);
    return job_result(ctx);
}
