/* fuzz_envelope: one Socket Mode text frame through the bot's whole
 * envelope path without a network: sm_frame_parse (depth limit, JSON
 * object), the ack frame for its envelope_id, router_ack (which may make the
 * envelope durable in the inbox) and router_work (the handlers, their store
 * writes and outbox rows).  The app and the handlers' context are built
 * once: a fixed team config, an in-memory SQLite store, metrics, and no
 * outbox worker, scheduler or Slack client, so nothing is ever sent.  The store grows across inputs and is
 * reopened every STORE_REOPEN inputs to keep runs fast and bounded. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/app.h"
#include "../bot/clock.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/metrics.h"
#include "../bot/router.h"
#include "../bot/socket_mode.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"

#define STORE_REOPEN 2000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char team_json[] =
    "{\"timezone\":\"UTC\",\"sirt_channel\":\"C0SIRT0001\","
    "\"sirt_team\":[\"U0SIRT001\",\"U0SIRT002\"],\"severity1_responders\":[\"U0SIRT001\"],"
    "\"directors\":[\"U0DIRSEC1\"],"
    "\"appsec\":[{\"user\":\"U0APPSEC1\",\"tz\":\"America/Los_Angeles\",\"hours\":\"09:00-17:00\",\"gitlab\":\"alice\"},"
    "{\"user\":\"U0APPSEC2\",\"tz\":\"Europe/Amsterdam\",\"hours\":\"22:00-06:00\"}],"
    "\"secops_oncall\":{\"pagerduty_schedule\":\"PSCHED1\",\"fallback_user\":\"U0SECOPS1\"},"
    "\"components\":[{\"name\":\"gitaly\",\"em\":\"U0EM00001\",\"pm\":\"U0PM00001\",\"channel\":\"C0GITALY1\","
    "\"gitlab_em\":\"em-gitaly\",\"gitlab_pm\":\"pm-gitaly\"}],"
    "\"handoff\":{\"lead_minutes\":30},\"gitlab\":{\"namespace_id\":42}}";

static struct cfg cfg;
static struct sirt_app app;
static struct hctx hctx;
static char **zones;
static unsigned inputs;

static void open_store(void)
{
    char err[256];
    store_close(app.store);
    app.store = NULL;
    if (store_open(&app.store, ":memory:", err, sizeof(err)) != 0)
        abort();
    hctx.store = app.store;
    if (app.router)
        router_destroy(app.router);
    app.router = router_create(&app, &handlers_router_table, &hctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_LVL_ERROR);
    char err[512];
    if (cfg_parse_team(&cfg, "fuzz.json", team_json, sizeof(team_json) - 1, err, sizeof(err)) != 0)
        abort();
    cfg.slack_api_url = xstrdup("http://127.0.0.1:1/api");
    cfg.gitlab_url = xstrdup("http://127.0.0.1:1");
    cfg.pagerduty_routing_key = xstrdup("FUZZ_ROUTING_KEY");
    app.cfg = &cfg;
    app.metrics = metrics_create();
    zones = xcalloc(cfg.n_appsec + 1, sizeof(char *));
    hctx.cfg = &cfg;
    hctx.now_ms = clock_now_ms;
    hctx.appsec_tz = zones;
    str_lcpy(hctx.bot_user_id, "U0BOT0001", sizeof(hctx.bot_user_id));
    str_lcpy(app.bot_user_id, "U0BOT0001", sizeof(app.bot_user_id));
    str_lcpy(app.bot_id, "B0BOT0001", sizeof(app.bot_id));
    str_lcpy(app.team_url, "https://fuzz.slack.com/", sizeof(app.team_url));
    open_store();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (++inputs % STORE_REOPEN == 0)
        open_store();
    const char *why = NULL;
    cJSON *msg = sm_frame_parse((const char *)data, size, 64, &why);
    if (!msg)
        return 0;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    const cJSON *eid = cJSON_GetObjectItemCaseSensitive(msg, "envelope_id");
    const char *t = cJSON_IsString(type) ? type->valuestring : NULL;
    if (!cJSON_IsString(eid) || !eid->valuestring[0] || !sm_envelope_id_ok(eid->valuestring)) {
        cJSON_Delete(msg);
        return 0;
    }
    /* The ack frame as socket_mode builds it: it must be JSON again. */
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"envelope_id\":");
    buf_json_str(&b, eid->valuestring);
    buf_puts(&b, "}");
    cJSON *ack_frame = cJSON_ParseWithLength(b.data, b.len);
    if (!ack_frame)
        __builtin_trap();
    cJSON_Delete(ack_frame);
    buf_finish(&b);

    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(msg, "payload");
    if (t && cJSON_IsObject(payload)) {
        bool want_work = false;
        cJSON *ack = router_ack(app.router, t, msg, &want_work);
        if (ack) {
            char *p = cJSON_PrintUnformatted(ack);
            if (!p)
                __builtin_trap();
            cJSON_free(p);
            cJSON_Delete(ack);
        }
        if (want_work)
            router_work(app.router, t, msg);
    }
    cJSON_Delete(msg);
    return 0;
}
