/* socket_mode: the Socket Mode client's connection state machine and its
 * lifecycle (see socket_mode.h): apps.connections.open, the resolve and the
 * connect, hello, disconnect and backoff, stop and destroy.  Owns the client
 * vhost and one struct sm_conn per websocket (the current one plus, briefly,
 * one being retired after a "disconnect"); a conn is freed when lws destroys
 * its socket (sm__conn_destroyed), the sm in the close callback of its last
 * uv handle.  The frames and the acks: socket_mode_frames.c. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "slack_api.h"
#include "socket_mode_state.h"

#define HELLO_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000

static void start_attempt(struct sm *s);
static void on_backoff_timer(uv_timer_t *t);
static void maybe_free(struct sm *s);
static void conn_lost(struct sm *s, struct sm_conn *c, const char *why);

const char *sm_state_name(enum sm_state st)
{
    switch (st) {
    case SM_IDLE: return "idle";
    case SM_OPENING: return "opening";
    case SM_CONNECTING: return "connecting";
    case SM_WAIT_HELLO: return "waiting_hello";
    case SM_ONLINE: return "online";
    case SM_BACKOFF: return "backoff";
    case SM_DRAINING: return "draining";
    case SM_STOPPED: return "stopped";
    }
    return "?";
}

/* The one place the state changes (logged, and the connected gauge kept). */
static void set_state(struct sm *s, enum sm_state st, const char *why)
{
    if (s->state == st)
        return;
    LOG_DEBUG("socket mode state", "from:s to:s why:s", sm_state_name(s->state), sm_state_name(st), why);
    if (st == SM_ONLINE || s->state == SM_ONLINE)
        metrics_set_connected(s->metrics, st == SM_ONLINE);
    s->state = st;
}

uint64_t sm_backoff_ms(unsigned n, uint64_t rnd)
{
    uint64_t d = BACKOFF_BASE_MS;
    for (unsigned i = 0; i < n && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    /* Jitter: uniformly in [d/2, d] so many bots never reconnect in step. */
    return d / 2 + rnd % (d / 2 + 1);
}

static void conn_unlink(struct sm *s, struct sm_conn *c)
{
    struct sm_conn **pp = &s->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
}

/* ---- connection setup ---- */

/* Splits ws[s]://host[:port]/path?query. Returns 0 or -1. */
static int parse_ws_url(struct sm *s, const char *url)
{
    const char *p;
    if (str_starts(url, "wss://")) {
        s->tls = true;
        s->port = 443;
        p = url + 6;
    } else if (str_starts(url, "ws://")) {
        s->tls = false;
        s->port = 80;
        p = url + 5;
    } else {
        return -1;
    }
    size_t hl = strcspn(p, ":/?");
    if (hl == 0 || hl >= sizeof(s->host))
        return -1;
    memcpy(s->host, p, hl);
    s->host[hl] = '\0';
    p += hl;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535)
            return -1;
        s->port = (int)port;
        p = end;
    }
    if (*p == '?')
        snprintf(s->path, sizeof(s->path), "/%s", p);
    else if (*p == '/')
        str_lcpy(s->path, p, sizeof(s->path));
    else if (*p == '\0')
        str_lcpy(s->path, "/", sizeof(s->path));
    else
        return -1;
    if (strlen(p) + 2 > sizeof(s->path))
        return -1;
    return 0;
}

static void schedule_retry(struct sm *s, const char *why, long min_delay_ms)
{
    if (s->state == SM_DRAINING || s->state == SM_STOPPED || s->destroyed)
        return;
    uint64_t d = sm_backoff_ms(s->failures, util_rand64());
    if (s->cfg.backoff_scale < 1.0)
        d = (uint64_t)((double)d * s->cfg.backoff_scale) + 1;
    if (min_delay_ms > 0 && d < (uint64_t)min_delay_ms)
        d = (uint64_t)min_delay_ms;
    s->failures++;
    set_state(s, SM_BACKOFF, why);
    LOG_INFO("socket mode reconnect scheduled", "why:s delay_ms:l failures:d",
             why, (long long)d, (int)s->failures);
    uv_timer_start(&s->backoff_timer, on_backoff_timer, d, 0);
}

static void on_backoff_timer(uv_timer_t *t)
{
    struct sm *s = container_of(t, struct sm, backoff_timer);
    start_attempt(s);
}

static void on_hello_timer(uv_timer_t *t)
{
    struct sm *s = container_of(t, struct sm, hello_timer);
    if (s->state == SM_WAIT_HELLO && s->cur && s->cur->wsi) {
        LOG_WARN("no hello from Slack in time: dropping the socket", "timeout_ms:d", HELLO_TIMEOUT_MS);
        lws_set_timeout(s->cur->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    }
}

static void connect_ws(struct sm *s, const char *ip)
{
    struct sm_conn *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->id = ++s->conn_seq;
    buf_init(&c->rx, s->cfg.max_message);

    struct lws_client_connect_info i;
    memset(&i, 0, sizeof(i));
    i.context = s->ctx;
    i.vhost = s->vh;
    i.address = ip;
    i.port = s->port;
    i.path = s->path;
    i.host = s->host;
    i.origin = s->host;
    i.ssl_connection = s->tls ? LCCSCF_USE_SSL : 0;
    i.protocol = NULL;
    i.local_protocol_name = "sirt-socket-mode";
    i.retry_and_idle_policy = &s->retry;
    i.opaque_user_data = c;
    i.pwsi = &c->wsi;

    set_state(s, SM_CONNECTING, "url ready");
    s->cur = c;
    s->n_conns++;
    c->next = s->conns;
    s->conns = c;
    if (!lws_client_connect_via_info(&i)) {
        /* No destroy callback fires in this case: clean up here. */
        conn_unlink(s, c);
        s->n_conns--;
        s->cur = NULL;
        buf_finish(&c->rx);
        free(c);
        LOG_WARN("websocket connect failed to start", "host:s port:d", s->host, s->port);
        schedule_retry(s, "connect failed", 0);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct sm *s = container_of(req, struct sm, gai);
    s->gai_pending = false;
    if (s->state != SM_CONNECTING || s->destroyed) {
        uv_freeaddrinfo(res);
        maybe_free(s);
        return;
    }
    char ip[64] = "";
    if (status == 0 && res)
        uv_ip_name(res->ai_addr, ip, sizeof(ip));
    uv_freeaddrinfo(res);
    if (!ip[0]) {
        LOG_WARN("cannot resolve the Socket Mode host", "host:s error:s", s->host,
                 status ? uv_strerror(status) : "no address");
        schedule_retry(s, "dns", 0);
        return;
    }
    connect_ws(s, ip);
}

static bool fatal_auth_error(const char *e)
{
    static const char *const fatal[] = { "invalid_auth", "not_authed", "account_inactive",
                                         "user_removed_from_team", "team_disabled", "missing_args" };
    for (size_t i = 0; i < ARRAY_LEN(fatal); i++)
        if (strcmp(e, fatal[i]) == 0)
            return true;
    return false;
}

static void on_connections_open(void *ud, const struct api_result *r)
{
    struct sm *s = ud;
    s->api_pending = false;
    if (s->destroyed) {
        maybe_free(s);
        return;
    }
    if (r->err == API_ECANCELED || s->state != SM_OPENING)
        return;
    if (r->err != API_OK) {
        if (r->err == API_ESLACK && fatal_auth_error(r->error) && !s->ever_online && s->cfg.on_fatal) {
            char msg[256];
            snprintf(msg, sizeof(msg), "SLACK_APP_TOKEN was rejected by Slack (%s): check the app-level token and its connections:write scope", r->error);
            s->cfg.on_fatal(s->cfg.fatal_ud, msg);
            return;
        }
        LOG_WARN("apps.connections.open failed", "error:s http_status:l", r->error, (long long)r->http_status);
        schedule_retry(s, "apps.connections.open failed", r->retry_after_s > 0 ? r->retry_after_s * 1000 : 0);
        return;
    }
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(r->json, "url");
    if (!cJSON_IsString(url) || parse_ws_url(s, url->valuestring) != 0) {
        LOG_WARN("apps.connections.open returned no usable url", "");
        schedule_retry(s, "bad url", 0);
        return;
    }
    set_state(s, SM_CONNECTING, "got url");
    /* lws in Debian resolves synchronously on the loop: resolve here first. */
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof(port), "%d", s->port);
    if (uv_getaddrinfo(s->loop, &s->gai, on_resolved, s->host, port, &hints) == 0)
        s->gai_pending = true;
    else
        schedule_retry(s, "dns", 0);
}

static void start_attempt(struct sm *s)
{
    if (s->state == SM_DRAINING || s->state == SM_STOPPED || s->destroyed)
        return;
    set_state(s, SM_OPENING, "attempt");
    struct api_opts o;
    memset(&o, 0, sizeof(o));
    o.token = s->app_token;
    o.no_retry = true;
    o.timeout_ms = 10000;
    s->api_pending = true;
    if (api_call_opts(s->api, "apps.connections.open", NULL, &o, on_connections_open, s) != 0) {
        s->api_pending = false;
        schedule_retry(s, "api unavailable", 0);
    }
}

/* ---- what the socket tells ---- */

void sm__established(struct sm_conn *c)
{
    struct sm *s = c->s;
    LOG_DEBUG("websocket established", "conn:d", (int)c->id);
    if (c == s->cur && s->state == SM_CONNECTING) {   /* not while draining */
        set_state(s, SM_WAIT_HELLO, "established");
        uv_timer_start(&s->hello_timer, on_hello_timer, HELLO_TIMEOUT_MS, 0);
    }
}

void sm__hello(struct sm_conn *c, int num_connections)
{
    struct sm *s = c->s;
    if (c == s->cur && s->state == SM_WAIT_HELLO) {   /* a stop may have begun meanwhile */
        uv_timer_stop(&s->hello_timer);
        s->failures = 0;
        s->ever_online = true;
        set_state(s, SM_ONLINE, "hello");
        LOG_INFO("socket mode online", "conn:d num_connections:d", (int)c->id, num_connections);
    }
}

void sm__disconnect(struct sm_conn *c, const char *why)
{
    struct sm *s = c->s;
    LOG_INFO("slack asked us to reconnect", "reason:s conn:d", why, (int)c->id);
    if (c->retiring)
        return;
    c->retiring = true;
    lws_callback_on_writable(c->wsi);   /* flush acks, then close */
    if (c == s->cur) {
        s->cur = NULL;
        metrics_reconnect(s->metrics);
        if (strcmp(why, "link_disabled") == 0)
            schedule_retry(s, "link_disabled", 0);   /* don't hot-loop */
        else
            start_attempt(s);
    }
}

void sm__conn_destroyed(struct sm_conn *c)
{
    struct sm *s = c->s;
    /* Acks that never made it: the work still happens (the envelope is
     * in the inbox; events are de-duplicated if Slack retries them). */
    sm__acks_drop(c);
    conn_unlink(s, c);
    buf_finish(&c->rx);
    bool was_cur = (c == s->cur);
    s->n_conns--;
    free(c);
    if (s->destroyed) {
        maybe_free(s);
        return;
    }
    if (was_cur) {
        s->cur = NULL;
        conn_lost(s, NULL, "socket closed");
    }
    if (s->state == SM_DRAINING && s->n_conns == 0) {
        uv_timer_stop(&s->stop_timer);
        set_state(s, SM_STOPPED, "closed");
        if (s->stop_done) {
            void (*done)(void *) = s->stop_done;
            s->stop_done = NULL;
            done(s->stop_ud);
        }
    }
}

static void conn_lost(struct sm *s, struct sm_conn *c, const char *why)
{
    (void)c;
    uv_timer_stop(&s->hello_timer);
    if (s->state == SM_DRAINING || s->state == SM_STOPPED)
        return;
    metrics_reconnect(s->metrics);
    schedule_retry(s, why, 0);
}

/* ---- lifecycle ---- */

struct sm *sm_create(uv_loop_t *loop, struct lws_context *ctx, struct api_client *api,
                     struct metrics *metrics, const struct sm_config *cfg)
{
    struct sm *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->ctx = ctx;
    s->api = api;
    s->metrics = metrics;
    s->cfg = *cfg;
    s->app_token = xstrdup(cfg->app_token);
    s->cfg.app_token = s->app_token;
    if (s->cfg.ping_secs <= 0)
        s->cfg.ping_secs = 10;
    if (s->cfg.hangup_secs <= s->cfg.ping_secs)
        s->cfg.hangup_secs = s->cfg.ping_secs * 3;
    if (!s->cfg.max_message)
        s->cfg.max_message = 1u << 20;
    if (s->cfg.max_depth <= 0)
        s->cfg.max_depth = 64;
    if (!(s->cfg.backoff_scale > 0 && s->cfg.backoff_scale <= 1))
        s->cfg.backoff_scale = 1.0;
    s->retry.secs_since_valid_ping = (uint16_t)s->cfg.ping_secs;
    s->retry.secs_since_valid_hangup = (uint16_t)s->cfg.hangup_secs;

    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof(vi));
    vi.port = CONTEXT_PORT_NO_LISTEN;
    vi.protocols = sm__protocols;
    vi.vhost_name = "slack-client";
    vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* No client_ssl_ca_filepath: lws then uses OpenSSL's default verify
     * paths (the system store, /etc/ssl/certs, honouring SSL_CERT_FILE /
     * SSL_CERT_DIR), which load a CA certificate only when a handshake needs
     * it instead of parsing the whole bundle (~0.8 MiB) at start. */
    s->vh = lws_create_vhost(ctx, &vi);
    if (!s->vh) {
        free(s->app_token);
        free(s);
        return NULL;
    }
    uv_timer_init(loop, &s->backoff_timer);
    uv_timer_init(loop, &s->hello_timer);
    uv_timer_init(loop, &s->stop_timer);
    s->open_handles = 3;
    s->state = SM_IDLE;
    return s;
}

int sm_start(struct sm *s)
{
    if (s->state != SM_IDLE)
        return -1;
    start_attempt(s);
    return 0;
}

static void on_stop_timer(uv_timer_t *t)
{
    struct sm *s = container_of(t, struct sm, stop_timer);
    /* The peer never answered our close: drop whatever is left. */
    if (s->cur && s->cur->wsi)
        lws_set_timeout(s->cur->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void sm_stop(struct sm *s, void (*done)(void *ud), void *ud)
{
    set_state(s, SM_DRAINING, "stop");
    s->stop_done = done;
    s->stop_ud = ud;
    uv_timer_stop(&s->backoff_timer);
    uv_timer_stop(&s->hello_timer);
    if (s->gai_pending)
        uv_cancel((uv_req_t *)&s->gai);
    if (s->n_conns == 0) {
        set_state(s, SM_STOPPED, "no socket");
        s->stop_done = NULL;
        if (done)
            done(ud);
        return;
    }
    if (s->cur && s->cur->wsi)
        lws_callback_on_writable(s->cur->wsi);
    uv_timer_start(&s->stop_timer, on_stop_timer, STOP_TIMEOUT_MS, 0);
}

/* The sm is freed only when nothing can call back into it any more. */
static void maybe_free(struct sm *s)
{
    if (!s->destroyed || s->open_handles || s->gai_pending || s->api_pending || s->n_conns)
        return;
    free(s->app_token);
    free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct sm *s = h->data;
    s->open_handles--;
    maybe_free(s);
}

void sm_destroy(struct sm *s)
{
    if (!s)
        return;
    s->destroyed = true;
    uv_handle_t *hs[] = { (uv_handle_t *)&s->backoff_timer, (uv_handle_t *)&s->hello_timer,
                          (uv_handle_t *)&s->stop_timer };
    for (size_t i = 0; i < ARRAY_LEN(hs); i++) {
        hs[i]->data = s;
        uv_close(hs[i], on_handle_closed);
    }
}

bool sm_online(const struct sm *s)
{
    return s && s->state == SM_ONLINE;
}

enum sm_state sm_get_state(const struct sm *s)
{
    return s->state;
}

