/* zones: the appsec engineers' time zones for the handoff timers.  A zone
 * comes from the config's "tz", else from the engineer's Slack profile
 * (users.info, asked again once a day: people travel); the loop's copy is
 * main_state.zones and the store thread's copy (the handlers' appsec_tz)
 * follows by message (zone_st), after which the timers are planned again. */
#include <stdlib.h>
#include <string.h>

#include "../bot/clock.h"
#include "../bot/log.h"
#include "../bot/scheduler.h"
#include "../bot/slack_api.h"
#include "../bot/store.h"
#include "../bot/storeq.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"
#include "main_state.h"

/* users.info lookup of an appsec engineer's zone; freed by its callback.
 * Found again by user id, so a reload meanwhile is harmless. */
struct tz_lookup {
    struct main_state *ms;
    char user[40];
};

struct zone_msg {
    struct main_state *ms;
    char user[32];
    char *tz;
};

/* By user, not index: a reload may have moved the engineer meanwhile. */
static void zone_st(struct store *st, void *arg)
{
    (void)st;
    struct zone_msg *m = arg;
    struct main_state *ms = m->ms;
    const struct cfg_appsec *a = cfg_appsec_user(&ms->cfg, m->user);
    if (a && ms->st_zones) {
        size_t i = (size_t)(a - ms->cfg.appsec);
        free(ms->st_zones[i]);
        ms->st_zones[i] = m->tz;
        m->tz = NULL;
        /* Timers computed from the old zone are planned again. */
        if (store_begin(st) == 0) {
            handoff_zones_changed(&ms->hctx);
            if (store_commit(st) == 0)
                scheduler_st_changed(ms->st_app.scheduler);
        }
    }
    free(m->tz);
    free(m);
}

/* The store thread's copy of the zones (same shape as ms->zones). */
char **main_zones_copy(const struct cfg *c, char *const *tz)
{
    char **v = xcalloc(c->n_appsec + 1, sizeof(char *));
    for (size_t i = 0; tz && i < c->n_appsec; i++)
        v[i] = tz[i] ? xstrdup(tz[i]) : NULL;
    return v;
}

/* Appsec engineers without a tz in the config: their Slack profile's zone. */
static void on_users_info(void *ud, const struct api_result *r)
{
    struct tz_lookup *q = ud;
    struct main_state *ms = q->ms;
    if (r->err == API_OK) {
        const cJSON *tz = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "user"), "tz");
        const struct cfg_appsec *a = cfg_appsec_user(&ms->cfg, q->user);
        size_t i = a ? (size_t)(a - ms->cfg.appsec) : 0;
        /* The engineer may have left the config, or got a tz in it, since. */
        bool same = a && ms->zones && ms->zones[i] && cJSON_IsString(tz)
                    && strcmp(ms->zones[i], tz->valuestring) == 0;
        if (same) {
            LOG_DEBUG("appsec zone from Slack profile unchanged", "user:s tz:s", q->user, tz->valuestring);
        } else if (a && !a->tz && ms->zones && cJSON_IsString(tz) && cfg_zone_exists(tz->valuestring)) {
            free(ms->zones[i]);
            ms->zones[i] = xstrdup(tz->valuestring);
            struct zone_msg *m = xcalloc(1, sizeof(*m));
            m->ms = ms;
            str_lcpy(m->user, q->user, sizeof(m->user));
            m->tz = xstrdup(tz->valuestring);
            storeq_post(ms->app.storeq, zone_st, NULL, m);
            LOG_INFO("appsec zone from Slack profile", "user:s tz:s", q->user, tz->valuestring);
            scheduler_kick(ms->app.scheduler);
        }
    } else if (r->err != API_ECANCELED) {
        LOG_WARN("cannot read an appsec engineer's zone; using the team timezone", "error:s", r->error);
    }
    free(q);
}

void main_zone_lookup(struct main_state *ms, const char *user)
{
    struct tz_lookup *q = xcalloc(1, sizeof(*q));
    q->ms = ms;
    str_lcpy(q->user, user, sizeof(q->user));
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "user", user);
    struct api_opts o = { .get = true };
    if (api_call_opts(ms->app.api, "users.info", args, &o, on_users_info, q) != 0)
        free(q);
    cJSON_Delete(args);
}

/* The zones of c's appsec list: the config's tz, else the zone already
 * learnt from Slack for the same user in `old` (NULL at start), else NULL
 * and *lookups counts the users.info calls still needed. */
char **main_zones_for(const struct cfg *c, const struct cfg *old, char *const *old_tz, size_t *lookups)
{
    char **tz = xcalloc(c->n_appsec + 1, sizeof(char *));
    *lookups = 0;
    for (size_t i = 0; i < c->n_appsec; i++) {
        const struct cfg_appsec *prev = old ? cfg_appsec_user(old, c->appsec[i].user) : NULL;
        size_t j = prev ? (size_t)(prev - old->appsec) : 0;
        if (c->appsec[i].tz)
            tz[i] = xstrdup(c->appsec[i].tz);
        else if (prev && !prev->tz && old_tz && old_tz[j])
            tz[i] = xstrdup(old_tz[j]);
        else
            (*lookups)++;
    }
    return tz;
}

void main_zones_free(char **tz, size_t n)
{
    for (size_t i = 0; tz && i < n; i++)
        free(tz[i]);
    free(tz);
}

void main_zones_resolve(struct main_state *ms)
{
    size_t lookups;
    ms->zones = main_zones_for(&ms->cfg, NULL, NULL, &lookups);
    ms->zones_read_ms = clock_now_ms();
    for (size_t i = 0; i < ms->cfg.n_appsec; i++)
        if (!ms->zones[i])
            main_zone_lookup(ms, ms->cfg.appsec[i].user);
}

/* Every zone that comes from a Slack profile (no "tz" in the config) is
 * asked for again once a day; an answer that differs replaces it. */
void main_zones_refresh_if_old(struct main_state *ms)
{
    int64_t now = clock_now_ms();
    if (ms->stopping || !ms->app.api || now - ms->zones_read_ms < ZONE_MAX_AGE_MS)
        return;
    ms->zones_read_ms = now;
    size_t n = 0;
    for (size_t i = 0; i < ms->cfg.n_appsec; i++)
        if (!ms->cfg.appsec[i].tz) {
            main_zone_lookup(ms, ms->cfg.appsec[i].user);
            n++;
        }
    if (n)
        LOG_INFO("reading appsec zones from Slack profiles again", "lookups:u", n);
}

void main_on_zone_check(uv_timer_t *t)
{
    main_zones_refresh_if_old(container_of(t, struct main_state, zone_check));
}
