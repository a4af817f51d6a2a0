/* health: see health.h.  Each HTTP transaction renders its whole body when
 * the request arrives and writes it from HTTP_WRITEABLE; the body belongs to
 * the per-session data and is freed when the transaction ends. */
#include "health.h"

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "socket_mode.h"
#include "util.h"

struct health_pss {
    char *body;        /* LWS_PRE headroom + body */
    size_t len;
};

static struct sm **health_sm;
static struct metrics *health_metrics;

/* Set by any thread (the store's); read by the loop when a probe asks. */
static atomic_bool store_ok;
static _Atomic(const char *) store_why = "not open";

/* Loop-thread only. */
static uv_timer_t beat;
static bool beat_started;
static uint64_t last_beat_ms;

static uint64_t hr_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void on_beat(uv_timer_t *t)
{
    (void)t;
    last_beat_ms = hr_ms();
}

void health_set_store_ok(bool ok, const char *why)
{
    atomic_store(&store_why, ok ? "ok" : (why && why[0] ? why : "failing"));
    atomic_store(&store_ok, ok);
}

bool health_ready(char *why, size_t n)
{
    bool slack = health_sm && *health_sm && sm_online(*health_sm);
    bool store = atomic_load(&store_ok);
    if (slack && store) {
        snprintf(why, n, "ok");
        return true;
    }
    const char *st = sm_state_name(health_sm && *health_sm ? sm_get_state(*health_sm) : SM_IDLE);
    if (!slack && !store)
        snprintf(why, n, "slack: %s; store: %s", st, atomic_load(&store_why));
    else if (!slack)
        snprintf(why, n, "slack: %s", st);
    else
        snprintf(why, n, "store: %s", atomic_load(&store_why));
    return false;
}

bool health_live(uint64_t now_ms, char *why, size_t n)
{
    uint64_t age = now_ms > last_beat_ms ? now_ms - last_beat_ms : 0;
    if (beat_started && age > HEALTH_STALL_MS) {
        snprintf(why, n, "loop stalled: no heartbeat for %llu ms", (unsigned long long)age);
        return false;
    }
    snprintf(why, n, "ok");
    return true;
}

static int respond(struct lws *wsi, struct health_pss *pss, int status, const char *ctype,
                   struct buf *body)
{
    unsigned char hdr[LWS_PRE + 512];
    unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
    if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, (lws_filepos_t)(body->len - LWS_PRE), &p, end))
        return 1;
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        return 1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    free(pss->body);
    pss->len = body->len - LWS_PRE;
    pss->body = buf_take(body);
    lws_callback_on_writable(wsi);
    return 0;
}

static int health_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct health_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        const char *path = in ? (const char *)in : "";
        struct buf b;
        buf_init(&b, 0);
        buf_append(&b, "................................................................................................................................", LWS_PRE);
        bool is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
        int status;
        const char *ctype = "text/plain; charset=utf-8";
        if (!is_get) {
            status = 405;
            buf_puts(&b, "method not allowed\n");
        } else if (strcmp(path, "/livez") == 0) {
            char why[96];
            status = health_live(hr_ms(), why, sizeof(why)) ? 200 : 503;
            buf_printf(&b, "%s\n", why);
        } else if (strcmp(path, "/readyz") == 0 || strcmp(path, "/healthz") == 0) {
            char why[160];
            status = health_ready(why, sizeof(why)) ? 200 : 503;
            buf_printf(&b, "%s\n", why);
        } else if (strcmp(path, "/metrics") == 0) {
            status = 200;
            ctype = "text/plain; version=0.0.4; charset=utf-8";
            metrics_render(health_metrics, &b);
        } else {
            status = 404;
            buf_puts(&b, "not found\n");
        }
        int rc = respond(wsi, pss, status, ctype, &b);
        buf_finish(&b);
        return rc;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!pss || !pss->body)
            break;
        if (lws_write(wsi, (unsigned char *)pss->body + LWS_PRE, pss->len, LWS_WRITE_HTTP_FINAL) < (int)pss->len) {
            free(pss->body);
            pss->body = NULL;
            return -1;
        }
        free(pss->body);
        pss->body = NULL;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols health_protocols[] = {
    { "sirt-http", health_cb, sizeof(struct health_pss), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

int health_start(struct lws_context *ctx, uv_loop_t *loop, const char *host, int port, struct sm **sm,
                 struct metrics *metrics)
{
    health_sm = sm;
    health_metrics = metrics;
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.port = port;
    /* lws binds all addresses when iface is NULL. */
    vi.iface = (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0) ? NULL : host;
    vi.protocols = health_protocols;
    vi.vhost_name = "sirt-http";
    vi.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(host, ':') == NULL);
    if (!lws_create_vhost(ctx, &vi)) {
        LOG_ERROR("cannot listen for SIRT_HTTP", "host:s port:d", host, port);
        return -1;
    }
    uv_timer_init(loop, &beat);
    uv_unref((uv_handle_t *)&beat);
    last_beat_ms = hr_ms();
    uv_timer_start(&beat, on_beat, HEALTH_BEAT_MS, HEALTH_BEAT_MS);
    beat_started = true;
    LOG_INFO("serving /livez, /readyz, /healthz and /metrics", "host:s port:d", host, port);
    return 0;
}

void health_stop(void)
{
    if (!beat_started)
        return;
    beat_started = false;
    uv_close((uv_handle_t *)&beat, NULL);
}
