/* socket_mode: the Slack Socket Mode client.  apps.connections.open (app
 * token) -> websocket (libwebsockets client on the shared libuv loop) ->
 * wait for "hello" -> online.  Every frame with an envelope_id is handed to
 * the consumer and acked when it says so (sm_ack).  Reconnects
 * with a fresh URL and jittered exponential backoff after a "disconnect"
 * message, a closed/failed socket, or a silent one (no pong within
 * hangup_secs of a ping; lws pings every ping_secs).
 *
 * Ownership: the client owns each parsed envelope until its work callback
 * has returned; callbacks must not keep pointers into it. */
#ifndef SIRT_SOCKET_MODE_H
#define SIRT_SOCKET_MODE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct lws_context;
struct api_client;
struct metrics;

enum sm_state {
    SM_IDLE,         /* created, not started */
    SM_OPENING,      /* apps.connections.open in flight */
    SM_CONNECTING,   /* websocket handshake */
    SM_WAIT_HELLO,   /* socket up, waiting for hello */
    SM_ONLINE,
    SM_BACKOFF,      /* waiting before the next attempt */
    SM_DRAINING,     /* sm_stop(): closing */
    SM_STOPPED,
};

struct sm_ack;
/* Called on the loop for every envelope that carries an envelope_id, in
 * arrival order.  The envelope (owned, passed on) and tok go to the
 * consumer, which must call sm_ack(tok, ...) exactly once, later, on the
 * loop, when the envelope is safe to acknowledge (durable). */
typedef void (*sm_envelope_fn)(void *ud, struct sm_ack *tok, const char *type, cJSON *envelope);

struct sm_config {
    const char *app_token;   /* copied */
    int ping_secs;           /* 0 = 10 */
    int hangup_secs;         /* 0 = 30; must exceed ping_secs */
    size_t max_message;      /* 0 = 1 MiB; larger messages are dropped */
    int max_depth;           /* 0 = 64; deeper JSON is dropped */
    double backoff_scale;    /* 0 = 1; SIRT_TEST_BACKOFF_SCALE: the reconnect backoff times this */
    sm_envelope_fn on_envelope;
    /* Slack rejected the app token before we were ever online: the bot
     * cannot work; msg is one line for the operator. May be NULL. */
    void (*on_fatal)(void *fatal_ud, const char *msg);
    void *fatal_ud;
    void *ud;                /* for on_envelope */
};

struct sm;

struct sm *sm_create(uv_loop_t *loop, struct lws_context *ctx, struct api_client *api,
                     struct metrics *metrics, const struct sm_config *cfg);
int sm_start(struct sm *s);
/* Closes the socket cleanly (close frame 1000) and stops reconnecting.
 * done() is called once the socket is gone. */
void sm_stop(struct sm *s, void (*done)(void *ud), void *ud);
/* Frees the client once its handles, pending lookups and sockets are gone;
 * the loop must keep running.  Tokens still out stay valid: sm_ack(NULL,
 * tok, ...) (the caller forgets s at destroy) frees them. */
void sm_destroy(struct sm *s);
/* Sends the ack of tok's envelope with an optional payload (owned) on the
 * socket it came on, and frees tok.  When that socket is gone (or s is
 * NULL) the ack is dropped: Slack redelivers unacked envelopes. */
void sm_ack(struct sm *s, struct sm_ack *tok, cJSON *ack_payload);
bool sm_online(const struct sm *s);
enum sm_state sm_get_state(const struct sm *s);
const char *sm_state_name(enum sm_state st);

/* One text frame -> its JSON object (caller frees), or NULL with *why =
 * "too_deep" (nested deeper than max_depth, 0 = 64) or "malformed" (not a
 * JSON object).  The frame path before any envelope handling; exposed for
 * fuzz/fuzz_envelope.c. */
cJSON *sm_frame_parse(const char *data, size_t len, int max_depth, const char **why);
/* True when id may be echoed in an ack: 1-128 bytes of printable ASCII
 * (0x21-0x7e), as Slack's envelope ids are.  Anything else (not UTF-8,
 * control bytes, spaces, kilobytes) is dropped with a log line instead. */
bool sm_envelope_id_ok(const char *id);

/* Reconnect delay for consecutive failure n (0-based): min(cap, base*2^n)
 * scaled by a jitter factor in [0.5, 1.0] taken from rnd. Exposed for tests. */
uint64_t sm_backoff_ms(unsigned n, uint64_t rnd);

#endif
