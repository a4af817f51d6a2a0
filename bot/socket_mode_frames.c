/* socket_mode_frames: the Socket Mode client's websocket (see
 * socket_mode.h): the lws callback, each text frame parsed and checked, an
 * envelope handed to the consumer with an ack token (struct sm_ack, the
 * consumer's from on_envelope until sm_ack frees it), and the conn's queue
 * of acks written when the socket is writeable.  What Slack says about the
 * connection (hello, disconnect) goes to the state machine in socket_mode.c. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "socket_mode_state.h"

#define ACKS_PER_WRITEABLE 256

/* ---- the ack queue ---- */

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

void sm__acks_drop(struct sm_conn *c)
{
    struct sm_item *it;
    while ((it = q_pop(&c->acks)))
        item_free(it);
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
        const cJSON *nc = cJSON_GetObjectItemCaseSensitive(msg, "num_connections");
        sm__hello(c, cJSON_IsNumber(nc) ? nc->valueint : -1);
    } else if (t && strcmp(t, "disconnect") == 0) {
        const cJSON *reason = cJSON_GetObjectItemCaseSensitive(msg, "reason");
        sm__disconnect(c, cJSON_IsString(reason) ? reason->valuestring : "unspecified");
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

static int sm_lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct sm_conn *c = lws_get_opaque_user_data(wsi);
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!c)
            break;
        sm__established(c);
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
            sm__conn_destroyed(c);
        }
        break;
    default:
        break;
    }
    return 0;
}

const struct lws_protocols sm__protocols[] = {
    { "sirt-socket-mode", sm_lws_cb, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- acks ---- */

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
