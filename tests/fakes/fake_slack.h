/* fake_slack: a loopback Slack for tests and benchmarks, on the caller's
 * libuv loop (libwebsockets server vhost, foreign loop).  One port serves:
 *   POST /api/<method>     Web API with Slack's response shapes; checks
 *                          Authorization: Bearer (xapp- for
 *                          apps.connections.open, xoxb- for the rest) and
 *                          answers {"ok":false,"error":"invalid_auth"} /
 *                          "not_authed" like Slack.  GET /api/<method>?... too.
 *   GET  /link/?ticket=T   the Socket Mode websocket. Tickets come from
 *                          apps.connections.open and are single-use; on
 *                          connect the fake sends "hello".
 *   POST /commands/<n>     a response_url; recorded like a method call
 *                          with method "response_url".
 * Every HTTP call and every websocket frame received is recorded in order.
 * Knobs: fail the next call(s) of a method with an HTTP status / Slack error
 * / Retry-After; send any envelope or raw frame; send "disconnect"; drop the
 * TCP connection abruptly; go silent (stop answering pings). */
#ifndef SIRT_FAKE_SLACK_H
#define SIRT_FAKE_SLACK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct fake_slack;

struct fake_call {
    char *method;          /* "chat.postMessage", "response_url", ... */
    char *http_method;     /* "POST"/"GET" */
    char *auth;            /* Authorization header value, "" if none */
    char *content_type;
    char *body;            /* raw request body (or query string for GET) */
    cJSON *json;           /* parsed JSON body, or the form/query as a flat object */
    int status;            /* HTTP status answered */
    uint64_t t_us;         /* clock_mono_us() when the request completed */
};

struct fake_ack {
    char *envelope_id;
    cJSON *json;           /* the whole ack frame */
    uint64_t sent_us;      /* when the envelope was written */
    uint64_t acked_us;     /* when the ack was read */
};

/* port 0 picks a free one. Returns NULL on failure. */
struct fake_slack *fake_slack_create(uv_loop_t *loop, int port);
/* Starts the async close; the loop must run on (fake_slack_closed tells). */
void fake_slack_destroy(struct fake_slack *f);
int fake_slack_port(const struct fake_slack *f);
const char *fake_slack_api_url(const struct fake_slack *f);   /* "http://127.0.0.1:P/api" */

/* --- websocket side --- */
int fake_slack_ws_count(const struct fake_slack *f);         /* open sockets that got hello */
int fake_slack_ws_total(const struct fake_slack *f);         /* sockets ever accepted */
/* Sends {"envelope_id":<new id>,"type":type,"payload":payload,
 * "accepts_response_payload":<type != events_api>} (+ retry_attempt /
 * retry_reason for events_api) to the newest socket.  payload is borrowed.
 * Returns the envelope id (owned by the fake) or NULL when no socket. */
const char *fake_slack_send_envelope(struct fake_slack *f, const char *type, const cJSON *payload);
const char *fake_slack_send_event(struct fake_slack *f, const cJSON *event, const char *event_id,
                                  int retry_attempt);
/* Convenience builders; return the envelope id. */
const char *fake_slack_send_slash(struct fake_slack *f, const char *user, const char *channel,
                                  const char *text);
int fake_slack_send_raw(struct fake_slack *f, const void *data, size_t len, bool binary);
int fake_slack_send_disconnect(struct fake_slack *f, const char *reason);
void fake_slack_drop(struct fake_slack *f);                 /* abrupt close of every socket */
void fake_slack_set_silent(struct fake_slack *f, bool on);  /* no pongs, no frames */
/* Sends a websocket ping; the round trip is recorded (fake_slack_last_pong_us). */
int fake_slack_ping(struct fake_slack *f);
uint64_t fake_slack_pongs(const struct fake_slack *f);
uint64_t fake_slack_last_rtt_us(const struct fake_slack *f);
/* Ack for an envelope id, NULL if not (yet) acked. */
const struct fake_ack *fake_slack_ack(const struct fake_slack *f, const char *envelope_id);
size_t fake_slack_ack_count(const struct fake_slack *f);
/* Non-ack text frames received from the bot (should be none). */
size_t fake_slack_bad_frames(const struct fake_slack *f);
/* Keep memory flat in benchmarks: stop recording acks (counts and the
 * callback still work). */
void fake_slack_set_record_acks(struct fake_slack *f, bool on);
/* Called on each ack as it arrives. */
void fake_slack_on_ack(struct fake_slack *f, void (*cb)(void *ud, const struct fake_ack *a), void *ud);

/* --- Web API side --- */
/* The next `times` calls of method get this answer: http_status 200 with
 * slack_error set answers {"ok":false,"error":slack_error}; 429 answers
 * {"ok":false,"error":"ratelimited"} with Retry-After: retry_after; other
 * statuses answer an HTML-ish error body. */
void fake_slack_fail(struct fake_slack *f, const char *method, int times, int http_status,
                     const char *slack_error, int retry_after);
size_t fake_slack_call_count(const struct fake_slack *f, const char *method); /* NULL = all */
/* The idx-th call of method (NULL = any), in arrival order; NULL if none. */
const struct fake_call *fake_slack_call(const struct fake_slack *f, const char *method, size_t idx);
const struct fake_call *fake_slack_last_call(const struct fake_slack *f, const char *method);
/* Users the fake knows (users.info, users.lookupByEmail): id, tz. */
void fake_slack_add_user(struct fake_slack *f, const char *id, const char *name, const char *email,
                         const char *tz);

#endif
