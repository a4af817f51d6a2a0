/* socket_mode: Slack Socket Mode client on the shared libuv loop.
 * Owns: the client vhost, one struct sm_conn per websocket (the current one
 * plus, briefly, one being retired after a "disconnect") and each conn's
 * queue of acks not yet written.  An ack token (struct sm_ack) belongs to
 * the envelope's consumer from on_envelope until sm_ack frees it.  A conn
 * is freed in LWS_CALLBACK_WSI_DESTROY; the sm is freed in the close
 * callback of its last uv handle. */
#include "socket_mode.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "slack_api.h"
#include "util.h"

#define HELLO_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 2000
#define ACKS_PER_WRITEABLE 256
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000

struct sm_item {
    struct sm_item *next;
    char *frame;              /* LWS_PRE headroom + ack JSON */
    size_t len;               /* bytes of JSON after the headroom */
    char type[24];
    uint64_t rx_us;           /* when the envelope's last byte arrived */
};

struct sm_ack {
    unsigned conn_id;         /* the socket the envelope came on */
    uint64_t rx_us;
    char type[24];
    char envelope_id[132];
};

struct sm_queue {
    struct sm_item *head, *tail;
    size_t n;
};

struct sm_conn {
    struct sm_conn *next;     /* in s->conns */
    struct sm *s;
    struct lws *wsi;
    struct buf rx;
    bool rx_discard;          /* current message overflowed: drop until final */
    bool retiring;            /* got "disconnect": close once acks are flushed */
    bool closing;             /* close frame requested */
    bool got_hello;
    struct sm_queue acks;
    unsigned pending;         /* tokens handed out and not acked yet */
    unsigned id;
};

struct sm {
    uv_loop_t *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct api_client *api;
    struct metrics *metrics;
    char *app_token;
    struct sm_config cfg;
    lws_retry_bo_t retry;

    enum sm_state state;
    struct sm_conn *cur;
    struct sm_conn *conns;    /* every live conn */
    unsigned n_conns;         /* live conns, current and retiring */
    unsigned conn_seq;
    unsigned failures;        /* consecutive failed attempts */
    bool ever_online;
    bool api_pending;         /* apps.connections.open in flight */
    bool destroyed;

    char host[256];
    char path[2048];
    int port;
    bool tls;
    uv_getaddrinfo_t gai;
    bool gai_pending;

    uv_timer_t backoff_timer;
    uv_timer_t hello_timer;
    uv_timer_t stop_timer;
    int open_handles;

    void (*stop_done)(void *);
    void *stop_ud;
};

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

/* ---- queues ---- */

static void q_push(struct sm_queue *q, struct sm_item *it)
{
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    q->n++;
}

static struct sm_item *q_pop(struct sm_queue *q)
{
    struct sm_item *it = q->head;
    if (it) {
        q->head = it->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
    }
    return it;
}

static void item_free(struct sm_item *it)
{
    if (!it)
        return;
    free(it->frame);
    free(it);
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

/* ---- frames ---- */

/* Depth of JSON nesting outside strings; stops counting past limit. */
static int json_depth_exceeds(const char *p, size_t n, int limit)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > limit)
                return 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return 0;
}

cJSON *sm_frame_parse(const char *data, size_t len, int max_depth, const char **why)
{
    *why = NULL;
    if (json_depth_exceeds(data, len, max_depth > 0 ? max_depth : 64)) {
        *why = "too_deep";
        return NULL;
    }
    cJSON *msg = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(msg)) {
        *why = "malformed";
        cJSON_Delete(msg);
        return NULL;
    }
    return msg;
}

static void queue_ack(struct sm_conn *c, const char *envelope_id, cJSON *ack_payload, const char *type,
                      uint64_t rx_us)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", LWS_PRE);
    buf_puts(&b, "{\"envelope_id\":");
    buf_json_str(&b, envelope_id);
    if (ack_payload) {
        char *p = cJSON_PrintUnformatted(ack_payload);
        if (p) {
            buf_puts(&b, ",\"payload\":");
            buf_puts(&b, p);
            cJSON_free(p);
        }
        cJSON_Delete(ack_payload);
    }
    buf_puts(&b, "}");
    struct sm_item *it = xcalloc(1, sizeof(*it));
    it->len = b.len - LWS_PRE;
    it->frame = buf_take(&b);
    it->rx_us = rx_us;
    str_lcpy(it->type, type, sizeof(it->type));
    q_push(&c->acks, it);
    lws_callback_on_writable(c->wsi);
}

bool sm_envelope_id_ok(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++)
        if (n >= 128 || (unsigned char)id[n] < 0x21 || (unsigned char)id[n] > 0x7e)
            return false;
    return n >= 1;
}

static void handle_message(struct sm_conn *c, const char *data, size_t len)
{
    struct sm *s = c->s;
    uint64_t rx_us = clock_mono_us();
    const char *drop = NULL;
    cJSON *msg = sm_frame_parse(data, len, s->cfg.max_depth, &drop);
    if (!msg) {
        if (strcmp(drop, "too_deep") == 0)
            LOG_WARN("dropping frame: JSON nested too deeply", "bytes:u limit:d", len, s->cfg.max_depth);
        else
            LOG_WARN("dropping frame: not a JSON object", "bytes:u", len);
        metrics_envelope_dropped(s->metrics, drop);
        return;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "type");
    const cJSON *eid = cJSON_GetObjectItemCaseSensitive(msg, "envelope_id");
    const char *t = cJSON_IsString(type) ? type->valuestring : NULL;

    if (cJSON_IsString(eid) && eid->valuestring[0] && !sm_envelope_id_ok(eid->valuestring)) {
        LOG_WARN("dropping frame: envelope_id is not short printable ASCII", "bytes:u type:s",
                 strlen(eid->valuestring), t);
        metrics_envelope_dropped(s->metrics, "bad_envelope_id");
        cJSON_Delete(msg);
        return;
    }
    if (cJSON_IsString(eid) && eid->valuestring[0]) {
        /* Acked whatever the content (Slack only needs the id), once the
         * consumer has made it durable. */
        metrics_envelope_received(s->metrics, t ? t : "unknown");
        struct sm_ack *tok = xcalloc(1, sizeof(*tok));
        tok->conn_id = c->id;
        tok->rx_us = rx_us;
        str_lcpy(tok->type, t ? t : "unknown", sizeof(tok->type));
        str_lcpy(tok->envelope_id, eid->valuestring, sizeof(tok->envelope_id));
        c->pending++;
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(msg, "payload");
        if (t && cJSON_IsObject(payload) && s->cfg.on_envelope) {
            s->cfg.on_envelope(s->cfg.ud, tok, t, msg);
        } else {
            LOG_WARN("envelope without a usable type or payload: acked, not handled", "type:s", t);
            sm_ack(s, tok, NULL);
            cJSON_Delete(msg);
        }
        return;
    }
    if (t && strcmp(t, "hello") == 0) {
        c->got_hello = true;
        if (c == s->cur && s->state == SM_WAIT_HELLO) {   /* a stop may have begun meanwhile */
            uv_timer_stop(&s->hello_timer);
            s->failures = 0;
            s->ever_online = true;
            set_state(s, SM_ONLINE, "hello");
            const cJSON *nc = cJSON_GetObjectItemCaseSensitive(msg, "num_connections");
            LOG_INFO("socket mode online", "conn:d num_connections:d", (int)c->id,
                     cJSON_IsNumber(nc) ? nc->valueint : -1);
        }
    } else if (t && strcmp(t, "disconnect") == 0) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
        const char *why = cJSON_IsString(reason) ? reason->valuestring : "unspecified";
        LOG_INFO("slack asked us to reconnect", "reason:s conn:d", why, (int)c->id);
        if (!c->retiring) {
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
    } else {
        LOG_WARN("dropping frame: unknown message type", "type:s", t);
        metrics_envelope_dropped(s->metrics, "unknown_type");
    }
    cJSON_Delete(msg);
}

/* Writes queued acks; returns -1 to close the connection. */
static int on_writeable(struct sm_conn *c)
{
    struct sm *s = c->s;
    for (int i = 0; i < ACKS_PER_WRITEABLE && c->acks.head; i++) {
        if (lws_send_pipe_choked(c->wsi))
            break;
        struct sm_item *it = q_pop(&c->acks);
        int n = lws_write(c->wsi, (unsigned char *)it->frame + LWS_PRE, it->len, LWS_WRITE_TEXT);
        if (n < (int)it->len) {
            LOG_WARN("ack write failed", "type:s", it->type);
            item_free(it);
            return -1;
        }
        metrics_envelope_acked(s->metrics, it->type, clock_mono_us() - it->rx_us);
        item_free(it);
    }
    if (c->acks.head || c->pending) {
        /* Acks still to write, or still being made durable: keep the
         * socket until they are out (the stop timer bounds a drain). */
        if (c->acks.head)
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    if ((c->retiring || s->state == SM_DRAINING) && !c->closing) {
        /* lws 4.1 sends the close frame set by lws_close_reason() only when
         * the close is asked from a receive callback (from here the peer
         * would see an abrupt 1006): ping, and close when the pong arrives.
         * Slack answers pings at once; the stop timer covers a peer that
         * does not. */
        c->closing = true;
        unsigned char ping[LWS_PRE + 4];
        memcpy(ping + LWS_PRE, "bye", 3);
        if (lws_write(c->wsi, ping + LWS_PRE, 3, LWS_WRITE_PING) < 3)
            return -1;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
    }
    return 0;
}

static void conn_destroyed(struct sm *s, struct sm_conn *c)
{
    /* Acks that never made it: the work still happens (the envelope is
     * in the inbox; events are de-duplicated if Slack retries them). */
    struct sm_item *it;
    while ((it = q_pop(&c->acks)))
        item_free(it);
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

static int sm_lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct sm_conn *c = lws_get_opaque_user_data(wsi);
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c)
            break;
        LOG_DEBUG("websocket established", "conn:d", (int)c->id);
        if (c == c->s->cur && c->s->state == SM_CONNECTING) {   /* not while draining */
            set_state(c->s, SM_WAIT_HELLO, "established");
            uv_timer_start(&c->s->hello_timer, on_hello_timer, HELLO_TIMEOUT_MS, 0);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        const char *e = in ? (const char *)in : "unknown";
        if (strstr(e, "SSL") || strstr(e, "ssl") || strstr(e, "tls"))
            LOG_WARN("websocket connection error: the TLS handshake failed (the certificate is not trusted by "
                     "the system CA store / SSL_CERT_FILE, or names another host); the libwebsockets error "
                     "line before this one has the reason", "error:s", e);
        else
            LOG_WARN("websocket connection error", "error:s", e);
        break;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c)
            break;
        if (lws_frame_is_binary(wsi)) {
            if (lws_is_final_fragment(wsi)) {
                LOG_WARN("dropping binary frame", "");
                c->s->metrics ? metrics_envelope_dropped(c->s->metrics, "binary") : (void)0;
            }
            break;
        }
        if (lws_is_first_fragment(wsi)) {
            buf_reset(&c->rx);
            c->rx_discard = false;
        }
        if (!c->rx_discard && buf_append(&c->rx, in, len) != 0) {
            c->rx_discard = true;
            buf_reset(&c->rx);
        }
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            if (c->rx_discard) {
                LOG_WARN("dropping message larger than the limit", "limit:u", c->s->cfg.max_message);
                metrics_envelope_dropped(c->s->metrics, "too_big");
            } else {
                handle_message(c, c->rx.data ? c->rx.data : "", c->rx.len);
            }
            buf_reset(&c->rx);
            c->rx_discard = false;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c)
            return on_writeable(c);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (c && c->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
            return -1;
        }
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c && len >= 2) {
            const unsigned char *b = in;
            LOG_INFO("slack closed the socket", "code:d conn:d", (b[0] << 8) | b[1], (int)c->id);
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c)
            LOG_INFO("websocket closed", "conn:d", (int)c->id);
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            conn_destroyed(c->s, c);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols sm_protocols[] = {
    { "sirt-socket-mode", sm_lws_cb, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

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
    vi.protocols = sm_protocols;
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
    enum sm_state prev = s->state;
    set_state(s, SM_DRAINING, "stop");
    s->stop_done = done;
    s->stop_ud = ud;
    uv_timer_stop(&s->backoff_timer);
    uv_timer_stop(&s->hello_timer);
    if (s->gai_pending)
        uv_cancel((uv_req_t *)&s->gai);
    (void)prev;
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

void sm_ack(struct sm *s, struct sm_ack *tok, cJSON *ack_payload)
{
    struct sm_conn *c = NULL;
    if (s && !s->destroyed)
        for (c = s->conns; c && c->id != tok->conn_id; c = c->next)
            ;
    if (c && c->pending)
        c->pending--;
    if (c && c->wsi && !c->closing) {
        queue_ack(c, tok->envelope_id, ack_payload, tok->type, tok->rx_us);
    } else {
        /* Its socket is gone: Slack sends the envelope again elsewhere. */
        LOG_INFO("ack not sent: its socket is gone", "type:s", tok->type);
        cJSON_Delete(ack_payload);
        if (c && c->wsi && !c->pending && !c->acks.head)
            lws_callback_on_writable(c->wsi);
    }
    free(tok);
}
