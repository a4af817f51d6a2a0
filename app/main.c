/* main: the composition root, the one file that wires the platform (bot/)
 * to the handlers (handlers/): it hands the handlers' tables to the router
 * and the scheduler and calls the handlers' store-thread hooks.  It loads
 * the config, builds the one libuv loop and everything on it (lws context,
 * curl multi, Slack Web API client, Socket Mode client, router, optional
 * health server), the store thread (storeq) and the handlers' context on
 * it (struct hctx: store, config, clock, the bot's user id, the appsec
 * zones, kept up to date by message), runs it,
 * and tears it down in order on
 * SIGTERM/SIGINT (exit 0) or on a fatal start-up error (exit 1, one plain
 * line and one JSON line on stderr).  SIGHUP reloads the team config
 * (reload_config below: a bad file is refused and the running one kept).
 * main owns every long-lived object; the shutdown sequence below is the only
 * place they are freed. */
#include <curl/curl.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../bot/app.h"
#include "../bot/check.h"
#include "../bot/cli.h"
#include "../bot/clock.h"
#include "../bot/config.h"
#include "../bot/effects.h"
#include "../bot/health.h"
#include "../bot/http.h"
#include "../bot/log.h"
#include "../bot/mask.h"
#include "../bot/metrics.h"
#include "../bot/outbox.h"
#include "../bot/router.h"
#include "../bot/scheduler.h"
#include "../bot/slack_api.h"
#include "../bot/socket_mode.h"
#include "../bot/store.h"
#include "../bot/storeq.h"
#include "../bot/util.h"
#include "../bot/version.h"
#include "../bot/workhours.h"
#include "../handlers/handlers.h"

#include "main_state.h"


static void lws_log_emit(int level, const char *line)
{
    char msg[512];
    size_t n = str_lcpy(msg, line, sizeof(msg));
    if (n >= sizeof(msg))
        n = sizeof(msg) - 1;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (level & LLL_ERR)
        LOG_ERROR("libwebsockets", "detail:s", msg);
    else
        LOG_WARN("libwebsockets", "detail:s", msg);
}

static void finish_shutdown(struct main_state *ms);

static void on_sm_stopped(void *ud)
{
    finish_shutdown(ud);
}

static void on_grace(uv_timer_t *t)
{
    struct main_state *ms = container_of(t, struct main_state, grace);
    LOG_WARN("socket did not close in time; shutting down anyway", "grace_ms:d", SHUTDOWN_GRACE_MS);
    finish_shutdown(ms);
}

static void begin_shutdown(struct main_state *ms, int code, const char *why)
{
    if (ms->stopping)
        return;
    ms->stopping = true;
    ms->exit_code = code;
    LOG_INFO("shutting down", "why:s", why);
    uv_timer_start(&ms->grace, on_grace, SHUTDOWN_GRACE_MS, 0);
    if (ms->app.sm)
        sm_stop(ms->app.sm, on_sm_stopped, ms);
    else
        finish_shutdown(ms);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct main_state *ms = h->data;
    if (ms->stopping) {
        LOG_WARN("second signal during shutdown: exiting now", "signal:d", signum);
        exit(ms->exit_code);
    }
    begin_shutdown(ms, 0, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* SIGUSR1: re-read SIRT_CLOCK_FILE (drills and tests move the clock). */
static void on_sigusr1(uv_signal_t *h, int signum)
{
    struct main_state *ms = h->data;
    (void)signum;
    if (!ms->cfg.clock_file)
        return;
    if (clock_load_file(ms->cfg.clock_file) != 0) {
        LOG_WARN("SIRT_CLOCK_FILE unreadable: clock unchanged", "");
        return;
    }
    char iso[32];
    clock_fmt_iso(clock_now_ms(), iso);
    LOG_INFO("clock moved", "now:s", iso);
    scheduler_kick(ms->app.scheduler);
    outbox_kick(ms->app.outbox);
    main_zones_refresh_if_old(ms);
}

/* ---- the review's step durations on /metrics ----
 * Computed from the store (handlers/review_parts.c), never counted in
 * memory: every replica renders the same store-wide histograms, which
 * survive restarts.  A render asks for a fresh pass when the last one ended
 * DUR_REFRESH_MS ago; the pass reads DUR_SLICE incidents per store item,
 * so the store thread never stops long for it. */
#define DUR_REFRESH_MS 5000
#define DUR_SLICE 64

struct dur_pass {
    struct main_state *ms;
    struct review_dur_pass pass;
    int rc;                         /* of the last slice: 1 done, 0 more, <0 error */
};

static void dur_slice_st(struct store *st, void *arg)
{
    (void)st;
    struct dur_pass *p = arg;
    p->rc = review_durations_step(&p->ms->hctx, &p->pass, DUR_SLICE);
}

static void dur_slice_done(void *arg)
{
    struct dur_pass *p = arg;
    struct main_state *ms = p->ms;
    if (p->rc == 0 && !ms->stopping && ms->app.storeq) {
        storeq_post(ms->app.storeq, dur_slice_st, dur_slice_done, p);
        return;
    }
    if (p->rc == 1)
        metrics_set_durations(ms->app.metrics, &p->pass.d);
    else if (p->rc < 0)
        LOG_WARN("metrics: cannot read the incidents for the duration histograms", "");
    ms->dur_busy = false;
    ms->dur_last = uv_now(&ms->loop);
    free(p);
}

static void dur_refresh(void *ud)
{
    struct main_state *ms = ud;
    if (ms->stopping || ms->dur_busy || !ms->app.storeq
        || (ms->dur_last && uv_now(&ms->loop) - ms->dur_last < DUR_REFRESH_MS))
        return;
    struct dur_pass *p = xcalloc(1, sizeof(*p));
    p->ms = ms;
    ms->dur_busy = true;
    storeq_post(ms->app.storeq, dur_slice_st, dur_slice_done, p);
}

/* ---- what the store thread's view and the handlers' context learn by
 * message ---- */

struct ident_msg {
    struct main_state *ms;
    char bot_user_id[32], bot_id[32], team_url[256];
};

static void ident_st(struct store *st, void *arg)
{
    (void)st;
    struct ident_msg *m = arg;
    struct main_state *ms = m->ms;
    memcpy(ms->st_app.bot_user_id, m->bot_user_id, sizeof(m->bot_user_id));
    memcpy(ms->st_app.bot_id, m->bot_id, sizeof(m->bot_id));
    memcpy(ms->st_app.team_url, m->team_url, sizeof(m->team_url));
    memcpy(ms->hctx.bot_user_id, m->bot_user_id, sizeof(ms->hctx.bot_user_id));
    free(m);
}

static void st_after_ident(struct store *st, void *arg)
{
    (void)st;
    struct main_state *ms = arg;
    router_replay_inbox(ms->app.router);
    if (store_begin(ms->app.store) == 0) {
        review_plan(&ms->hctx);
        retention_plan(&ms->hctx);
        if (store_commit(ms->app.store) == 0)
            scheduler_st_changed(ms->app.scheduler);
    }
}


/* The mask helper's extra patterns (mask.extra_patterns) are swapped here,
 * the one call site for a reload: compile the new set first and refuse the
 * reload (return -1, message in err) when a pattern does not compile, so
 * the running set is kept with the running config. */
static int reload_mask_patterns(const struct cfg *fresh, char *err, size_t errlen)
{
    char *merr = mask_set_extra((const char *const *)fresh->mask_extra_patterns.v,
                                fresh->mask_extra_patterns.n);
    if (!merr)
        return 0;
    snprintf(err, errlen, "mask.extra_patterns: %s", merr);
    free(merr);
    return -1;
}

/* SIGHUP: the team config file (SIRT_CONFIG) again.  The environment is not
 * re-read (a process's environment cannot change).  Valid: swapped in, with
 * everything that points into the old one rebuilt (appsec zones; the
 * scheduler re-reads the config when it fires).  Invalid: refused with the
 * reason in the log, the running config untouched.  Handlers and effects
 * only borrow app->cfg within one loop callback, so swapping between
 * callbacks is safe. */
static void reload_config(struct main_state *ms)
{
    char err[512];
    struct cfg fresh;
    if (cfg_reload_team(&ms->cfg, &fresh, err, sizeof(err)) != 0) {
        LOG_ERROR("config reload refused: keeping the running config", "path:s error:s",
                  ms->cfg.config_path, err);
        return;
    }
    if (reload_mask_patterns(&fresh, err, sizeof(err)) != 0) {
        LOG_ERROR("config reload refused: keeping the running config", "path:s error:s",
                  ms->cfg.config_path, err);
        cfg_finish(&fresh);
        return;
    }
    size_t lookups;
    char **tz = main_zones_for(&fresh, &ms->cfg, ms->zones, &lookups);
    /* The config is shared with the store thread: it is swapped while that
     * thread is parked between two items (no handler holds a pointer into
     * it then); the loop waits at most for the item in progress. */
    storeq_pause(ms->app.storeq);
    main_zones_free(ms->zones, ms->cfg.n_appsec);
    main_zones_free(ms->st_zones, ms->cfg.n_appsec);
    ms->zones = NULL;
    cfg_adopt_team(&ms->cfg, &fresh);
    cfg_finish(&fresh);
    ms->zones = tz;
    ms->st_zones = main_zones_copy(&ms->cfg, tz);
    ms->hctx.appsec_tz = ms->st_zones;
    storeq_resume(ms->app.storeq);
    for (size_t i = 0; i < ms->cfg.n_appsec; i++)
        if (!tz[i])
            main_zone_lookup(ms, ms->cfg.appsec[i].user);
    LOG_INFO("config reloaded", "path:s sirt_team:u appsec:u components:u zone_lookups:u",
             ms->cfg.config_path, ms->cfg.sirt_team.n, ms->cfg.n_appsec, ms->cfg.n_components, lookups);
    scheduler_kick(ms->app.scheduler);
    outbox_kick(ms->app.outbox);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    struct main_state *ms = h->data;
    (void)signum;
    if (ms->stopping) {
        LOG_INFO("SIGHUP during shutdown: ignored", "");
        return;
    }
    LOG_INFO("SIGHUP: reloading the team config", "path:s", ms->cfg.config_path);
    reload_config(ms);
}

static void on_fatal(void *ud, const char *msg)
{
    struct main_state *ms = ud;
    LOG_STARTUP_ERROR("%s", msg);
    begin_shutdown(ms, 1, "fatal");
}

/* Limited access: the weekly digest carries details only in a private
 * sirt_channel.  Said once at start; each digest message checks again
 * before it is posted (slack.post "private_only"). */
static void on_sirt_channel_info(void *ud, const struct api_result *r)
{
    (void)ud;
    if (r->err == API_ECANCELED)
        return;
    const cJSON *ch = r->err == API_OK ? cJSON_GetObjectItemCaseSensitive(r->json, "channel") : NULL;
    const cJSON *priv = cJSON_GetObjectItemCaseSensitive(ch, "is_private");
    if (cJSON_IsTrue(priv))
        LOG_INFO("sirt_channel is private: the weekly digest carries incident details", "");
    else if (cJSON_IsFalse(priv))
        LOG_WARN("sirt_channel is public: the weekly digest lists only ids, severities and states", "");
    else
        LOG_WARN("cannot tell whether sirt_channel is private: the digest will list only ids, severities and "
                 "states unless it is private when posted", "error:s", r->err == API_OK ? "no is_private" : r->error);
}

static void check_sirt_channel(struct main_state *ms)
{
    if (!ms->cfg.sirt_channel || !ms->cfg.sirt_channel[0])
        return;
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "channel", ms->cfg.sirt_channel);
    struct api_opts o = { .get = true };
    api_call_opts(ms->app.api, "conversations.info", args, &o, on_sirt_channel_info, ms);
    cJSON_Delete(args);
}

/* After auth.test: envelopes a crash left unhandled, then the outbox, the
 * scheduler and the weekly review timer. */
static void start_workers(struct main_state *ms)
{
    check_sirt_channel(ms);
    struct ident_msg *m = xcalloc(1, sizeof(*m));
    m->ms = ms;
    memcpy(m->bot_user_id, ms->app.bot_user_id, sizeof(m->bot_user_id));
    memcpy(m->bot_id, ms->app.bot_id, sizeof(m->bot_id));
    memcpy(m->team_url, ms->app.team_url, sizeof(m->team_url));
    storeq_post(ms->app.storeq, ident_st, NULL, m);
    storeq_post(ms->app.storeq, st_after_ident, NULL, ms);
    outbox_start(ms->app.outbox);
    scheduler_start(ms->app.scheduler);
}

static void on_auth_test(void *ud, const struct api_result *r)
{
    struct main_state *ms = ud;
    if (r->err == API_ECANCELED)
        return;
    if (r->err != API_OK) {
        if (r->err == API_ESLACK && (strcmp(r->error, "invalid_auth") == 0 || strcmp(r->error, "not_authed") == 0
                                     || strcmp(r->error, "account_inactive") == 0)) {
            char msg[200];
            snprintf(msg, sizeof(msg), "SLACK_BOT_TOKEN was rejected by Slack (%s): check the bot token (xoxb-...)", r->error);
            on_fatal(ms, msg);
            return;
        }
        LOG_WARN("auth.test failed; own messages are recognised by bot_id only", "error:s", r->error);
        if (!ms->stopping)
            start_workers(ms);
        return;
    }
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(r->json, "url");
    if (cJSON_IsString(url))
        str_lcpy(ms->app.team_url, url->valuestring, sizeof(ms->app.team_url));
    const cJSON *uid = cJSON_GetObjectItemCaseSensitive(r->json, "user_id");
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(r->json, "bot_id");
    if (cJSON_IsString(uid))
        str_lcpy(ms->app.bot_user_id, uid->valuestring, sizeof(ms->app.bot_user_id));
    if (cJSON_IsString(bid))
        str_lcpy(ms->app.bot_id, bid->valuestring, sizeof(ms->app.bot_id));
    LOG_INFO("authenticated", "bot_user_id:s bot_id:s", ms->app.bot_user_id, ms->app.bot_id);
    /* Effects need our own user id (to skip inviting ourselves, to
     * recognise our channels): the outbox starts once we know it, after
     * envelopes a crash left unhandled have been handled. */
    if (!ms->stopping)
        start_workers(ms);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Store thread, last of the queue at a clean stop: the work this replica
 * holds is given up, so another replica takes it at its next sweep rather
 * than a lease later. */
static void release_leases_st(struct store *st, void *arg)
{
    (void)arg;
    if (st && store_leases_release(st) < 0)
        LOG_WARN("leases: cannot release; other replicas take the work over when they end", "");
}

/* Frees everything in dependency order.  Clients first cancel what is in
 * flight (their callbacks see *_ECANCELED), then the lws context goes. */
static void finish_shutdown(struct main_state *ms)
{
    if (ms->closing_done)
        return;
    ms->closing_done = true;
    uv_timer_stop(&ms->grace);
    metrics_set_durations_refresh(ms->app.metrics, NULL, NULL);
    uv_timer_stop(&ms->zone_check);
    router_stop(ms->app.router);
    outbox_close(ms->app.outbox);
    scheduler_close(ms->app.scheduler);
    if (ms->app.http)
        http_close(ms->app.http);
    if (ms->app.api)
        api_close(ms->app.api);
    if (ms->app.sm)
        sm_destroy(ms->app.sm);
    ms->app.http = NULL;
    ms->app.api = NULL;
    ms->app.sm = NULL;
    /* The store thread finishes what is queued (its acks now find no
     * socket: Slack sends those envelopes again, and the inbox keeps them). */
    storeq_post(ms->app.storeq, release_leases_st, NULL, NULL);
    storeq_close(ms->app.storeq);
    ms->app.storeq = NULL;
    health_stop();
    if (ms->lws)
        lws_context_destroy(ms->lws);
    uv_close((uv_handle_t *)&ms->grace, NULL);
    uv_close((uv_handle_t *)&ms->zone_check, NULL);
    uv_close((uv_handle_t *)&ms->sigterm, NULL);
    uv_close((uv_handle_t *)&ms->sigint, NULL);
    uv_close((uv_handle_t *)&ms->sigusr1, NULL);
    uv_close((uv_handle_t *)&ms->sighup, NULL);
    signal(SIGHUP, SIG_IGN);   /* libuv restored the default action */
}

/* A placeholder id left from sirt.example.json stops the start. */
static void on_placeholder(void *ud, const char *key, const char *value)
{
    (void)ud;
    LOG_STARTUP_ERROR("%s: \"%s\" is a placeholder from sirt.example.json: put your team's id (how to find it: %s)",
                      key, value, CHECK_IDS_DOC);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return cli_main(argc, argv);
    LOG_INFO("sirtbot " SIRT_VERSION, "version:s", SIRT_VERSION);
    /* Until the loop's SIGHUP handler is up (and after it is closed at the
     * end), a SIGHUP must not kill the bot with its default action. */
    signal(SIGHUP, SIG_IGN);
    static struct main_state ms;
    char err[512];
    if (cfg_load(&ms.cfg, NULL, err, sizeof(err)) != 0) {
        LOG_STARTUP_ERROR("%s", err);
        return 1;
    }
    log_set_level((enum log_level)ms.cfg.log_level);
    if (check_placeholders(&ms.cfg, on_placeholder, NULL) > 0) {
        cfg_finish(&ms.cfg);
        return 1;
    }
    wh_init();   /* before any thread: zone switches must never move environ */
    mask_init();
    {
        char *merr = mask_set_extra((const char *const *)ms.cfg.mask_extra_patterns.v,
                                    ms.cfg.mask_extra_patterns.n);
        if (merr) {   /* cannot happen: cfg_load compiled them; kept as a guard */
            LOG_STARTUP_ERROR("mask.extra_patterns: %s", merr);
            free(merr);
            cfg_finish(&ms.cfg);
            return 1;
        }
    }
    if (!ms.cfg.config_present)
        LOG_WARN("no team config file: running with defaults (nobody to page, no components)",
                 "path:s", ms.cfg.config_path);
    if (!ms.cfg.pagerduty_routing_key)
        LOG_WARN("PAGERDUTY_ROUTING_KEY is not set: paging is disabled", "");
    else if (!ms.cfg.pagerduty_api_token)
        LOG_WARN("PAGERDUTY_API_TOKEN is not set: page acknowledgements are not followed "
                 "(no \"acknowledged by\" message, no escalation)", "");

    if (ms.cfg.clock_file && clock_load_file(ms.cfg.clock_file) != 0) {
        LOG_STARTUP_ERROR("SIRT_CLOCK_FILE %s: cannot read a time from it", ms.cfg.clock_file);
        cfg_finish(&ms.cfg);
        return 1;
    }
    if (ms.cfg.clock_file)
        LOG_WARN("SIRT_CLOCK_FILE is set: the wall clock comes from a file (drills and tests only)", "");
    if (store_open(&ms.app.store, ms.cfg.db, err, sizeof(err)) != 0) {
        LOG_STARTUP_ERROR("SIRT_DB: %s", err);
        cfg_finish(&ms.cfg);
        return 1;
    }
    /* The store reports for itself from now on (bot/db.c: lost and
     * regained database); an open store is a working one. */
    health_set_store_ok(true, NULL);
    LOG_INFO("store open", "owner:s", store_owner(ms.app.store));
    {
        int pruned = store_events_prune(ms.app.store, clock_now_ms() - 7LL * 24 * 3600 * 1000);
        if (pruned > 0)
            LOG_DEBUG("pruned old event ids", "rows:d", pruned);
    }

    /* libuv's thread pool only resolves the Socket Mode host now and then:
     * two threads are plenty (an operator's UV_THREADPOOL_SIZE wins). */
    setenv("UV_THREADPOOL_SIZE", "2", 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_init(&ms.loop);
    ms.app.loop = &ms.loop;
    ms.app.cfg = &ms.cfg;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *loops[] = { &ms.loop };
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS
                   | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.pcontext = &ms.lws;
    info.fd_limit_per_thread = 1024;   /* lws sizes its fd tables from this */
    ms.lws = lws_create_context(&info);
    if (!ms.lws) {
        LOG_STARTUP_ERROR("cannot create the libwebsockets context (is libwebsockets-evlib-uv installed?)");
        uv_loop_close(&ms.loop);
        store_close(ms.app.store);
        cfg_finish(&ms.cfg);
        curl_global_cleanup();
        return 1;
    }

    uv_signal_init(&ms.loop, &ms.sigterm);
    uv_signal_init(&ms.loop, &ms.sigint);
    ms.sigterm.data = ms.sigint.data = &ms;
    uv_signal_start(&ms.sigterm, on_signal, SIGTERM);
    uv_signal_start(&ms.sigint, on_signal, SIGINT);
    uv_signal_init(&ms.loop, &ms.sigusr1);
    ms.sigusr1.data = &ms;
    uv_signal_start(&ms.sigusr1, on_sigusr1, SIGUSR1);
    uv_signal_init(&ms.loop, &ms.sighup);
    ms.sighup.data = &ms;
    uv_signal_start(&ms.sighup, on_sighup, SIGHUP);
    uv_timer_init(&ms.loop, &ms.grace);
    uv_timer_init(&ms.loop, &ms.zone_check);
    uv_timer_start(&ms.zone_check, main_on_zone_check, ZONE_CHECK_MS, ZONE_CHECK_MS);

    ms.app.metrics = metrics_create();
    ms.app.http = http_create(&ms.loop);
    ms.app.api = api_create(&ms.loop, ms.app.http, ms.cfg.slack_api_url, ms.cfg.slack_bot_token, ms.app.metrics);
    api_set_backoff_scale(ms.app.api, ms.cfg.backoff_scale);
    ms.app.storeq = storeq_create(&ms.loop, ms.app.store, ms.app.metrics);
    ms.app.st_app = &ms.st_app;
    /* The handlers' context: the store, the config, the clock; the bot's
     * user id and the zones follow by message (ident_st, zone_st). */
    ms.hctx.store = ms.app.store;
    ms.hctx.cfg = &ms.cfg;
    ms.hctx.now_ms = clock_now_ms;
    ms.app.router = router_create(&ms.app, &handlers_router_table, &ms.hctx);
    ms.app.outbox = outbox_create(&ms.app);
    ms.app.scheduler = scheduler_create(&ms.app, &handlers_sched_kinds, &ms.hctx);
    ms.app.unames = unames_create();
    main_zones_resolve(&ms);
    ms.st_zones = main_zones_copy(&ms.cfg, ms.zones);
    ms.hctx.appsec_tz = ms.st_zones;
    {
        /* The store thread's view, for the platform: no network. */
        ms.st_app = ms.app;
        ms.st_app.loop = NULL;
        ms.st_app.http = NULL;
        ms.st_app.api = NULL;
        ms.st_app.sm = NULL;
        ms.st_app.st_app = NULL;
        ms.st_app.unames = NULL;
    }

    struct sm_config smc;
    memset(&smc, 0, sizeof(smc));
    smc.app_token = ms.cfg.slack_app_token;
    smc.ping_secs = ms.cfg.ping_secs;
    smc.hangup_secs = ms.cfg.ping_secs * 3;
    smc.backoff_scale = ms.cfg.backoff_scale;
    smc.on_envelope = router_envelope;
    smc.on_fatal = on_fatal;
    smc.fatal_ud = &ms;
    smc.ud = ms.app.router;
    ms.app.sm = sm_create(&ms.loop, ms.lws, ms.app.api, ms.app.metrics, &smc);
    if (!ms.app.sm) {
        LOG_STARTUP_ERROR("cannot create the Socket Mode client");
        ms.exit_code = 1;
        ms.stopping = true;
        finish_shutdown(&ms);
    } else {
        if (ms.cfg.http_host
            && health_start(ms.lws, &ms.loop, ms.cfg.http_host, ms.cfg.http_port, &ms.app.sm, ms.app.metrics) != 0) {
            LOG_STARTUP_ERROR("SIRT_HTTP: cannot listen on %s:%d", ms.cfg.http_host, ms.cfg.http_port);
            ms.exit_code = 1;
            ms.stopping = true;
            finish_shutdown(&ms);
        } else {
            if (storeq_start(ms.app.storeq) != 0) {
                fprintf(stderr, "sirtbot: cannot start the store thread\n");
                exit(1);
            }
            metrics_set_durations_refresh(ms.app.metrics, dur_refresh, &ms);
            api_call(ms.app.api, "auth.test", NULL, on_auth_test, &ms);
            sm_start(ms.app.sm);
            LOG_INFO("sirtbot started", "api:s", ms.cfg.slack_api_url);
        }
    }

    uv_run(&ms.loop, UV_RUN_DEFAULT);
    /* The lws context finishes its own teardown on a foreign loop in two
     * steps: destroy, run the loop dry, destroy again. */
    if (ms.lws)
        lws_context_destroy(ms.lws);
    uv_walk(&ms.loop, close_walk, NULL);
    uv_run(&ms.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&ms.loop);
    if (rc != 0)
        LOG_WARN("loop closed with handles still open", "error:s", uv_strerror(rc));
    storeq_close(ms.app.storeq);   /* when start-up failed before the shutdown ran */
    router_destroy(ms.app.router);
    outbox_destroy(ms.app.outbox);
    scheduler_destroy(ms.app.scheduler);
    unames_destroy(ms.app.unames);
    ms.app.unames = NULL;
    store_close(ms.app.store);
    main_zones_free(ms.zones, ms.cfg.n_appsec);
    ms.zones = NULL;
    main_zones_free(ms.st_zones, ms.cfg.n_appsec);
    ms.st_zones = NULL;
    ms.hctx.appsec_tz = NULL;
    metrics_destroy(ms.app.metrics);
    cfg_finish(&ms.cfg);
    curl_global_cleanup();
    LOG_INFO("bye", "exit_code:d", ms.exit_code);
    return ms.exit_code;
}
