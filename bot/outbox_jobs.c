/* outbox_jobs: writing jobs into the outbox, inside the caller's store
 * transaction: outbox_add for everyone, and the jobs the outbox writes
 * itself: the notice of a job that failed for good and the announcements
 * of a page PagerDuty has not accepted (and of its end).  Those derive
 * their idempotency keys from the job's, so each is made once however
 * often an outcome is replayed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "effects.h"
#include "log.h"
#include "mask.h"
#include "outbox_jobs.h"
#include "store.h"
#include "util.h"

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

/* "HH:MM UTC" of an epoch time. */
static void fmt_hhmm(int64_t ms, char out[16])
{
    char iso[32];
    clock_fmt_iso(ms, iso);
    snprintf(out, 16, "%.5s UTC", iso + 11);
}

/* Adds a notice about a permanently failed job: into the incident channel
 * when there is one, else a DM to the reporter.  Inside the caller's txn. */
void outbox__notice_failed(struct sirt_app *app, int64_t incident_id, const char *op,
                           const char *idem, const char *error)
{
    const struct effect_op *eop = effect_op_find(op);
    /* A notice's own failure is not told either (no notice chains). */
    if ((eop && eop->quiet) || (idem && strstr(idem, "/failure-notice")) || !incident_id)
        return;
    struct store *s = app->store;
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
static void announce_page(struct sirt_app *app, int64_t incident_id, const char *page_idem, const char *what,
                          const char *text)
{
    struct store *s = app->store;
    const char *sirt = app->cfg ? app->cfg->sirt_channel : NULL;
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
static bool page_delay_announced(struct sirt_app *app, const char *page_idem)
{
    char *key = xasprintf("%s/not-accepted/channel", page_idem);
    int64_t id = store_outbox_find(app->store, key);
    free(key);
    return id > 0;
}

void outbox__page_delayed(struct sirt_app *app, int64_t incident_id, const char *idem, int64_t first_due_ms,
                          const char *error)
{
    if (!incident_id || page_delay_announced(app, idem))
        return;
    char since[16];
    fmt_hhmm(first_due_ms, since);
    char *err = mask_secrets(error && *error ? error : "no answer");
    char *text = xasprintf(":rotating_light: PagerDuty has not accepted the page for SIRT-%" PRId64
                           " since %s (last answer: %s): call the on-call by phone. sirtbot keeps "
                           "retrying and will say here when it goes through.",
                           incident_id, since, err);
    announce_page(app, incident_id, idem, "not-accepted", text);
    free(text);
    free(err);
}

void outbox__page_outcome(struct sirt_app *app, int64_t incident_id, const char *idem, bool delivered)
{
    if (!incident_id || !page_delay_announced(app, idem))
        return;
    char at[16];
    fmt_hhmm(clock_now_ms(), at);
    char *text = delivered
        ? xasprintf(":white_check_mark: PagerDuty accepted the page for SIRT-%" PRId64 " at %s.", incident_id, at)
        : xasprintf(":information_source: The page for SIRT-%" PRId64 " was never accepted by PagerDuty and "
                    "is no longer sent: the incident was resolved (%s).", incident_id, at);
    announce_page(app, incident_id, idem, delivered ? "accepted" : "dropped", text);
    free(text);
}
