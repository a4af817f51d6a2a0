/* retention: retention.days of the team config.  The "retention" timer
 * fires every day at 03:00 (config timezone), once across replicas, and
 * erases the text of incidents resolved more than retention.days ago
 * (store_incident_erase says what goes and what stays), leaving one
 * "erased" timeline entry per incident.  The config is read when the timer
 * fires, so a reload (SIGHUP) counts from the next run; without the key
 * nothing is erased.  Runs inside the scheduler's transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/store.h"
#include "../bot/workhours.h"
#include "handlers.h"

#define RETENTION_KEY "retention"
#define RETENTION_HOUR 3            /* local time of the daily run */
#define RETENTION_BATCH 100         /* incidents per run; more: run again at once */
#define DAY_MS (24LL * 3600 * 1000)

static void retention_arm(const struct hctx *ctx, int64_t after, bool again_now)
{
    const char *tz = ctx->cfg && ctx->cfg->timezone ? ctx->cfg->timezone : "UTC";
    int64_t due = INT64_MAX;
    if (again_now) {
        due = after;
    } else {
        for (int wday = 0; wday < 7; wday++) {
            int64_t d = wh_next_weekly(tz, after, wday, RETENTION_HOUR, 0);
            if (d > after && d < due)
                due = d;
        }
    }
    if (due == INT64_MAX) {
        LOG_ERROR("retention: cannot compute the next daily run", "timezone:s", tz);
        return;
    }
    if (store_timer_set(ctx->store, RETENTION_KEY, "retention", 0, due, "{}", ctx->now_ms()) != 0)
        LOG_ERROR("retention: cannot arm the daily timer", "");
}

/* Erases what is due; returns how many incidents, or -1 on a store error. */
static int retention_erase(const struct hctx *ctx, int days, int64_t now)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (store_retention_due(ctx->store, now - (int64_t)days * DAY_MS, RETENTION_BATCH, &ids, &n) != 0) {
        free(ids);
        LOG_ERROR("retention: cannot read the incidents to erase", "");
        return -1;
    }
    char marker[64], note[200];
    snprintf(marker, sizeof(marker), "(erased after %d days)", days);
    snprintf(note, sizeof(note), "report text, decisions and timeline text erased: resolved more than %d days ago "
                                 "(retention.days)", days);
    int done = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = store_incident_erase(ctx->store, ids[i], marker, now);
        if (rc == 0 && store_timeline_add(ctx->store, ids[i], now, "sirtbot", "erased", note) == 0) {
            LOG_INFO("retention: incident text erased", "incident:l days:d", (long long)ids[i], days);
            done++;
        } else if (rc != STORE_ENOTFOUND) {
            LOG_ERROR("retention: cannot erase an incident", "incident:l", (long long)ids[i]);
        }
    }
    free(ids);
    return done;
}

void retention_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    (void)t;
    int64_t now = ctx->now_ms();
    int days = ctx->cfg ? ctx->cfg->retention_days : 0;
    int n = 0;
    if (days > 0) {
        n = retention_erase(ctx, days, now);
        if (n > 0)
            LOG_INFO("retention: erased the text of incidents resolved long ago", "incidents:d days:d", n, days);
    }
    retention_arm(ctx, now, n == RETENTION_BATCH);
}

void retention_plan(const struct hctx *ctx)
{
    if (!ctx->store)
        return;
    struct sched_timer t;
    memset(&t, 0, sizeof(t));
    if (store_timer_get(ctx->store, RETENTION_KEY, &t) == 0) {
        sched_timer_finish(&t);
        return;   /* pending (even overdue: the scheduler fires it) */
    }
    retention_arm(ctx, ctx->now_ms(), false);
}
