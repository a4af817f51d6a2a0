/* outbox_dispatch: the store thread's picking of due jobs, inside the
 * tick's transaction: it fails or drops those that must not go (a failed
 * dependency, an unknown op, too late, an incident in another state),
 * fills in the {{incident.*}} placeholders from the incident row at send
 * time, and marks the rest sending; each leaves as an outbox_start on
 * o->starts, which outbox.c sends once the transaction committed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "effects.h"
#include "log.h"
#include "metrics.h"
#include "outbox_dispatch.h"
#include "outbox_jobs.h"
#include "outbox_queue.h"
#include "outbox_state.h"
#include "store.h"
#include "util.h"

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
        outbox__notice_failed(o->app, j->incident_id, j->op, j->idem_key, why);
    if (store_commit(s) != 0)
        return false;
    LOG_WARN("outbox: job failed", "job:l op:s incident:l error:s", (long long)j->id, j->op,
             (long long)j->incident_id, why);
    outbox__count_move(o, OUTBOX_PENDING, OUTBOX_FAILED);
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
        outbox__page_outcome(o->app, j->incident_id, j->idem_key, false);
    if (store_commit(s) != 0)
        return false;
    metrics_outbox(o->app->metrics, j->op, "dropped");
    LOG_WARN("outbox: job dropped", "job:l op:s incident:l why:s", (long long)j->id, j->op,
             (long long)j->incident_id, why);
    outbox__count_move(o, OUTBOX_PENDING, OUTBOX_DROPPED);
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
        outbox__count_move(o, OUTBOX_PENDING, -1);
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
    struct outbox_inflight *f = xcalloc(1, sizeof(*f));
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
    struct outbox_start *sp = xcalloc(1, sizeof(*sp));
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

/* The dispatch rounds of a tick, inside the caller's open transaction: the
 * jobs picked are marked sending in it and wait in o->starts until it ends
 * (outbox__starts_settle).  False when the store refused a write. */
bool outbox__pick_rounds(struct outbox *o)
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
        outbox__take_created(o);   /* failure notices of fail_now */
        if (!started)
            break;
    }
    return ok;
}
