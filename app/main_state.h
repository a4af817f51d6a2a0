/* main_state: the composition root's state, shared by app/main.c (wiring,
 * signals, reload, shutdown) and app/zones.c (the appsec engineers' time
 * zones: from the config, else their Slack profiles, read again daily).
 * Private to app/: nothing in bot/ or handlers/ includes it. */
#ifndef SIRT_MAIN_STATE_H
#define SIRT_MAIN_STATE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../bot/app.h"
#include "../bot/config.h"
#include "../bot/dispatch.h"

#define SHUTDOWN_GRACE_MS 3000
/* Zones read from Slack profiles are read again once they are this old (on
 * the bot's clock), looked at every ZONE_CHECK_MS and whenever the clock
 * is moved: people travel, and Slack follows their devices' zone. */
#define ZONE_MAX_AGE_MS (24LL * 3600 * 1000)
#define ZONE_CHECK_MS (10 * 60 * 1000)

struct main_state {
    uv_loop_t loop;
    struct cfg cfg;
    struct sirt_app app;
    struct sirt_app st_app;         /* the store thread's view (see app.h) */
    struct hctx hctx;               /* what the handlers get, on the store thread */
    /* Resolved zone of cfg.appsec[i] (config tz, else Slack users.info,
     * else NULL until known): the loop's, and the store thread's copy
     * (hctx.appsec_tz), updated by message (zone_st). */
    char **zones;
    char **st_zones;
    struct lws_context *lws;
    uv_signal_t sigterm, sigint, sigusr1, sighup;
    uv_timer_t grace;
    uv_timer_t zone_check;
    int64_t zones_read_ms;          /* when the profile zones were last asked for (bot clock) */
    bool stopping;
    bool closing_done;
    int exit_code;
    bool dur_busy;                  /* a durations pass is running on the store thread */
    uint64_t dur_last;              /* uv_now when the last pass ended, 0 never */
};


/* zones.c.  Arrays of zones have the shape of cfg->appsec (one per
 * engineer, NULL when not known yet) plus a NULL end; owned by main_state. */
char **main_zones_for(const struct cfg *c, const struct cfg *old, char *const *old_tz, size_t *lookups);
char **main_zones_copy(const struct cfg *c, char *const *tz);
void main_zones_free(char **tz, size_t n);
void main_zones_resolve(struct main_state *ms);
void main_zone_lookup(struct main_state *ms, const char *user);
void main_zones_refresh_if_old(struct main_state *ms);
void main_on_zone_check(uv_timer_t *t);

#endif
