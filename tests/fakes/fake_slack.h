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
 * TCP connection abruptly; go silent (stop answering pings).
 * Loop thread only.  Ids: team T0FAKE001, app A0FAKE001, bot user U0BOT0001,
 * bot id B0BOT0001.  Everything returned (calls, acks, ids) is owned by the
 * fake and valid until fake_slack_destroy() (envelope ids: see set_record_acks).
 * users.info tz_label/tz_offset come from a small table of standard-time
 * offsets (no DST); the IANA name in "tz" is exact.
 * Channels: conversations.create remembers channels (members start with the
 * bot); conversations.list/info/invite, pins.add work on them (see the
 * channel section below). */
#ifndef SIRT_FAKE_SLACK_H
#define SIRT_FAKE_SLACK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct fake_slack;

struct fake_call {
    char *method;          /* "chat.postMessage", "response_url", or the path for unknown URLs (404) */
    char *http_method;     /* "POST"/"GET" */
    char *auth;            /* Authorization header value, "" if none */
    char *content_type;
    char *body;            /* raw request body (or query string for GET) */
    cJSON *json;           /* parsed JSON body, or the form/query as a flat object (query args
                              fill in keys the body lacks); NULL if the JSON body did not parse */
    int status;            /* HTTP status answered */
    uint64_t t_us;         /* CLOCK_MONOTONIC microseconds when the request completed */
    char *client;          /* the tag of a fake_slack_client_api_url URL, "" without one */
    char *error;           /* the Slack error answered ("name_taken", "ratelimited"; "http_503" for
                              a non-JSON answer), NULL when the answer was ok */
};

/* A channel the fake remembers (conversations.create, fake_slack_add_channel)
 * or has only seen by id (conversations.invite to an unknown C/G id:
 * known == false, name ""). */
struct fake_channel {
    char *id;
    char *name;
    bool is_private;
    bool known;
    char *creator;         /* "U0BOT0001" for created channels */
    long created;          /* unix seconds */
    char **members;        /* user ids, in the order they joined */
    size_t n_members;
};

/* A message chat.postMessage posted (ok answers only), as the fake keeps it
 * for conversations.history / conversations.replies.  metadata: the
 * "metadata" argument as posted (validated), NULL without one. */
struct fake_message {
    char *channel;
    char *ts;
    char *thread_ts;       /* NULL for a top-level message */
    char *user;            /* U0BOT0001 */
    char *bot_id;          /* B0BOT0001 */
    char *text;            /* "" when only blocks were given */
    cJSON *metadata;
};

struct fake_ack {
    char *envelope_id;
    cJSON *json;           /* the whole ack frame */
    uint64_t sent_us;      /* when the envelope was written */
    uint64_t acked_us;     /* when the ack was read */
    unsigned conn;         /* the connection the ack came on (fake_slack_conns ids) */
};

/* One envelope sent, in send order (kept while acks are recorded). */
struct fake_delivery {
    const char *envelope_id;
    const char *type;          /* "events_api", "slash_commands", "interactive" */
    const char *event_id;      /* payload.event_id, "" if none */
    int retry_attempt;         /* events_api: 0, or n for the n-th redelivery */
    unsigned conn;             /* connection it was queued on */
    const char *conn_tag;      /* that connection's client tag ("" none) */
    bool written;              /* the frame was written (not lost with its socket) */
    bool redelivered;          /* not acked in time: sent again as a new envelope */
    unsigned acked_by;         /* connection the ack came on, 0 while unacked */
    uint64_t sent_us, acked_us;
};

/* port 0 picks a free one. Returns NULL on failure (the half-built fake
 * still frees itself on the loop, as after fake_slack_destroy). */
struct fake_slack *fake_slack_create(uv_loop_t *loop, int port);
/* Starts the async close: closes every socket (peers see an abrupt close),
 * then lws finishes on the loop and the fake frees itself; f must not be
 * used after this call.  The caller must keep running the loop until the
 * fake is gone: either uv_run(loop, UV_RUN_DEFAULT) until it returns 0 (the
 * fake holds a referenced timer until it is freed), or run it until
 * fake_slack_live_count() drops.  Typically < 50 ms.  NULL is a no-op. */
void fake_slack_destroy(struct fake_slack *f);
/* --- TLS ---
 * fake_slack_create_tls: everything fake_slack_create does (the Web API
 * URL, response URLs and fake_slack_port stay plain http), plus a second
 * listener on 127.0.0.1:tls->port (0 picks a free one) that speaks only TLS
 * with the given server certificate and key (PEM files; the certificate
 * file may carry the chain) and answers exactly what the plain one does:
 * https://.../api and the wss:// socket.  apps.connections.open then
 * returns wss://<ws_host>:<tls port>/link/?ticket=... (ws_host NULL means
 * "127.0.0.1"; it only names the host in the URL, for SNI and the bot's
 * hostname check: the listener is on 127.0.0.1 whatever it says, so pick a
 * name that resolves there, or an address the certificate names).  The
 * plain listener's ws:// socket keeps working for anyone who dials it.
 * The lws context gets LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT only here.
 * Returns NULL on failure (bad certificate or key, port busy). */
struct fake_slack_tls {
    const char *cert_pem;
    const char *key_pem;
    const char *ws_host;
    int port;
};
struct fake_slack *fake_slack_create_tls(uv_loop_t *loop, int port, const struct fake_slack_tls *tls);
int fake_slack_tls_port(const struct fake_slack *f);            /* 0 without TLS */
const char *fake_slack_tls_api_url(const struct fake_slack *f); /* "https://<ws_host>:Q/api", "" without TLS */
/* Websockets ever accepted over TLS (counted in ws_total too). */
int fake_slack_ws_tls_total(const struct fake_slack *f);

/* Fakes created and not yet freed in this process. */
int fake_slack_live_count(void);
int fake_slack_port(const struct fake_slack *f);
const char *fake_slack_api_url(const struct fake_slack *f);   /* "http://127.0.0.1:P/api" */

/* --- websocket side --- */
/* Open sockets that got hello and are neither silent nor being dropped. */
int fake_slack_ws_count(const struct fake_slack *f);
int fake_slack_ws_open(const struct fake_slack *f);          /* every open socket, silent ones too (not those past the limit) */
int fake_slack_ws_total(const struct fake_slack *f);         /* sockets ever accepted */
/* Upgrades refused: unknown, reused or missing ticket, or not /link. */
int fake_slack_ws_refused(const struct fake_slack *f);
/* Sends {"envelope_id":<new id>,"type":type,"payload":payload,
 * "accepts_response_payload":<type != events_api>} (+ retry_attempt /
 * retry_reason for events_api) to one socket, chosen by the spread mode
 * (fake_slack_set_spread; default the newest).  payload is borrowed.
 * Returns the envelope id (owned by the fake) or NULL when no socket.
 * "Newest socket" = the newest one that is online (hello written, not
 * silent, not dropping), else the newest open one (frames then wait in its
 * queue, e.g. until silence ends).  Frames are queued and written in order
 * from LWS_CALLBACK_SERVER_WRITEABLE; fake_ack.sent_us is the write time.
 * send_event: event_id NULL generates "Ev0FAKE<n>"; retry_attempt > 0 sets
 * retry_reason "timeout". */
const char *fake_slack_send_envelope(struct fake_slack *f, const char *type, const cJSON *payload);
const char *fake_slack_send_event(struct fake_slack *f, const cJSON *event, const char *event_id,
                                  int retry_attempt);
/* send_envelope("interactive", payload): block_actions, view_submission... */
const char *fake_slack_send_interactive(struct fake_slack *f, const cJSON *payload);
/* Convenience builders; return the envelope id.  send_slash: command
 * "/sirt", response_url http://127.0.0.1:<port>/commands/..., a fresh
 * trigger_id (fake_slack_last_trigger_id), user_name from add_user. */
const char *fake_slack_send_slash(struct fake_slack *f, const char *user, const char *channel,
                                  const char *text);
const char *fake_slack_last_trigger_id(const struct fake_slack *f);   /* "" before any */
/* Any bytes as one text or binary frame (garbage welcome).  0 or -1 (no socket). */
int fake_slack_send_raw(struct fake_slack *f, const void *data, size_t len, bool binary);
/* {"type":"disconnect","reason":reason,"debug_info":{"host":"applink-fake-1"}};
 * the socket stays open (the bot is expected to reconnect and close it). */
int fake_slack_send_disconnect(struct fake_slack *f, const char *reason);
/* Abrupt close of every open socket: queued frames are discarded, the fd is
 * shutdown() (the peer reads EOF, never a close frame: lws clients see 1006)
 * and lws frees the connection.  Sockets stop counting in ws_count at once. */
void fake_slack_drop(struct fake_slack *f);
/* on: every open socket, and every socket accepted while on, goes silent:
 * the fake stops reading it (lws_rx_flow_control) so pings get no pong and
 * acks are not read, and writes nothing (queued frames, even hello, wait).
 * lws 4.1.6 answers pings itself when it reads them (no callback can stop
 * it), hence no reading at all.  Silent sockets do not count in ws_count; a
 * silent socket whose peer hangs up is noticed within ~50 ms and closed.
 * off: every socket resumes; what the peer sent meanwhile is read then. */
void fake_slack_set_silent(struct fake_slack *f, bool on);
/* Text frames longer than chunk bytes are sent as several ws fragments of
 * at most chunk bytes (0 = off, the default). */
void fake_slack_set_fragment(struct fake_slack *f, size_t chunk);
/* Sends a websocket ping (payload "fake-ping-<n>") on the newest socket; the
 * matching pong's round trip (write to pong read) is recorded.  -1: no socket. */
int fake_slack_ping(struct fake_slack *f);
uint64_t fake_slack_pongs(const struct fake_slack *f);
uint64_t fake_slack_last_rtt_us(const struct fake_slack *f);
/* Ack for an envelope id, NULL if not (yet) acked. */
const struct fake_ack *fake_slack_ack(const struct fake_slack *f, const char *envelope_id);
size_t fake_slack_ack_count(const struct fake_slack *f);
/* Frames from the bot that are not a valid ack (should be none): not JSON,
 * no envelope_id, unknown or already acked id, binary, over 4 MiB. */
size_t fake_slack_bad_frames(const struct fake_slack *f);
/* Close frames the bot sent (a clean websocket close), and the status code
 * of the last one (1000 = normal; 0 = none given). */
int fake_slack_close_frames(const struct fake_slack *f);
int fake_slack_last_close_code(const struct fake_slack *f);
/* The idx-th bad frame's first 1 KiB (first 100 kept), NULL if none. */
const char *fake_slack_bad_frame(const struct fake_slack *f, size_t idx);
/* Keep memory flat in benchmarks: stop recording acks (counts and the
 * callback still work).  While off, an envelope's entry (and the id string
 * send_* returned) is freed when its ack arrives; fake_slack_ack() then
 * returns NULL for it.  Default on. */
void fake_slack_set_record_acks(struct fake_slack *f, bool on);
/* Called on each ack as it arrives; a is valid during the call only. */
void fake_slack_on_ack(struct fake_slack *f, void (*cb)(void *ud, const struct fake_ack *a), void *ud);

/* --- Web API side --- */
/* The next `times` calls of method get this answer: http_status 200 with
 * slack_error set answers {"ok":false,"error":slack_error}; 429 answers
 * {"ok":false,"error":"ratelimited"} with Retry-After: retry_after; other
 * statuses answer an HTML-ish error body (text/html, with Retry-After when
 * retry_after > 0).  Applies before the auth check.  method "response_url"
 * targets POSTs to response URLs.  Rules add up, oldest first. */
void fake_slack_fail(struct fake_slack *f, const char *method, int times, int http_status,
                     const char *slack_error, int retry_after);
/* Outage of the Web API: every call of every method (apps.connections.open
 * included, response URLs not) gets the answer above (e.g. 503, or 200 with
 * slack_error) for ms from now, or until fake_slack_outage_end when ms <= 0.
 * The socket stays up. */
void fake_slack_outage(struct fake_slack *f, int http_status, const char *slack_error, int ms);
void fake_slack_outage_end(struct fake_slack *f);
size_t fake_slack_call_count(const struct fake_slack *f, const char *method); /* NULL = all */
/* The idx-th call of method (NULL = any), in arrival order; NULL if none. */
const struct fake_call *fake_slack_call(const struct fake_slack *f, const char *method, size_t idx);
const struct fake_call *fake_slack_last_call(const struct fake_slack *f, const char *method);
/* Users the fake knows (users.info, users.lookupByEmail); adding an id
 * again replaces it.  tz NULL = "UTC". */
void fake_slack_add_user(struct fake_slack *f, const char *id, const char *name, const char *email,
                         const char *tz);
/* The next `times` answers to method (as in fake_slack_fail, "response_url"
 * too) are written ms later.  The call takes effect at once (a channel is
 * created, a message posted); only the answer waits, so a bot killed during
 * the delay never learns of it.  Rules add up, oldest first. */
void fake_slack_delay(struct fake_slack *f, const char *method, int times, int ms);
/* Ends every delay rule (answers already held still wait their time). */
void fake_slack_delay_clear(struct fake_slack *f);

/* --- channels ---
 * conversations.create: name required (invalid_name_required), <= 80
 *   chars (invalid_name_maxlength), only [a-z0-9_-] (invalid_name_specials),
 *   unique (name_taken); creator U0BOT0001, members [U0BOT0001].
 * conversations.list: types (public_channel, private_channel; default
 *   public_channel), limit (default 100, max 1000), cursor; next_cursor in
 *   response_metadata ("" on the last page); invalid_cursor.
 * conversations.info: channel_not_found unless remembered.
 * conversations.invite: channel (ids not starting with C/G:
 *   channel_not_found; an unknown C/G id is accepted and remembered as
 *   "seen", known == false), users (comma list; no_user when empty).  Per
 *   user: the bot itself -> cant_invite_self; an id not starting with U or W
 *   -> user_not_found; already a member -> skipped.  Without force any
 *   error fails the call and nobody is added; with force=true the valid
 *   users are added and the answer is {"ok":false,"error":<first>,
 *   "errors":[{"user","ok":false,"error"}]}.  All users already members ->
 *   already_in_channel.  Success returns the channel.
 * pins.add: channel + timestamp (no_item_specified); the same pair again ->
 *   already_pinned. */
size_t fake_slack_channel_count(const struct fake_slack *f);      /* remembered (known) channels */
const struct fake_channel *fake_slack_channel(const struct fake_slack *f, size_t idx);  /* creation order */
const struct fake_channel *fake_slack_channel_by_name(const struct fake_slack *f, const char *name);
const struct fake_channel *fake_slack_channel_by_id(const struct fake_slack *f, const char *id); /* seen too */
bool fake_slack_channel_has_member(const struct fake_channel *c, const char *user);
/* A pre-existing channel (e.g. the SIRT channel): members [U0BOT0001]. */
void fake_slack_add_channel(struct fake_slack *f, const char *id, const char *name, bool is_private);
/* A member leaves a remembered channel (e.g. the bot, to test "not in channel"). */
void fake_slack_channel_remove_member(struct fake_slack *f, const char *id, const char *user);
/* From now on only this bot token is valid (others: invalid_auth, as for a
 * revoked token); NULL = any xoxb- token again. */
void fake_slack_only_bot_token(struct fake_slack *f, const char *token);
size_t fake_slack_pin_count(const struct fake_slack *f);
/* --- Block Kit validation (tests/fakes/fake_blocks.c) ---
 * chat.postMessage, chat.postEphemeral, chat.update and response_url POSTs
 * with blocks Slack would refuse answer {"ok":false,"error":"invalid_blocks",
 * "errors":["<message> [json-pointer:/blocks/..]"],"response_metadata":
 * {"messages":["[ERROR] <message> [json-pointer:..]"]}} (a response_url with
 * HTTP 400); views.open/push/update answer "invalid_arguments" with the
 * pointer under /view in response_metadata.messages.  Counted here; the
 * harness fails a test in which any was refused unless the test expected
 * it (harness_expect_block_refusals). */
size_t fake_slack_block_refusals(const struct fake_slack *f);
const char *fake_slack_last_refusal(const struct fake_slack *f);   /* "" if none */
bool fake_slack_is_pinned(const struct fake_slack *f, const char *channel, const char *ts);

/* --- messages (tests/fakes/fake_messages.c) ---
 * Message ts are wall-clock "<unix seconds>.<microseconds>", unique and
 * increasing per fake (Slack's shape: history's oldest/latest compare them
 * with the client's clock).
 * chat.postMessage: "metadata" (an object, or a JSON string in a form post)
 *   must be {"event_type": non-empty string, "event_payload": object}, else
 *   invalid_metadata_format and nothing is posted; the message is stored
 *   with it, and the answer's "message" carries it.
 * conversations.history: channel (channel_not_found unless remembered, a
 *   D id, or posted to); top-level messages only (thread replies are not
 *   listed; parents carry thread_ts and reply_count), newest first; oldest
 *   / latest (exclusive unless inclusive=true), limit (default 100, max
 *   999), cursor (next_cursor in response_metadata, "" on the last page;
 *   invalid_cursor), has_more.  "metadata" only with
 *   include_all_metadata=true, as Slack.
 * conversations.replies: channel + ts of the thread (thread_not_found when
 *   neither the parent nor a reply is known); the parent and its replies,
 *   oldest first, same window, paging and metadata rules. */
size_t fake_slack_message_count(const struct fake_slack *f, const char *channel);   /* NULL = all */
/* The idx-th message posted to channel (NULL = any), in post order. */
const struct fake_message *fake_slack_message(const struct fake_slack *f, const char *channel, size_t idx);

/* --- files (tests/fakes/fake_files.c, see fake_files.h) ---
 * files.getUploadURLExternal, the upload URL (POST /upload/v1/<id>; calls
 * recorded as method "upload", knobs too) and files.completeUploadExternal
 * (channel_id: channel_not_found unless remembered, not_in_channel unless
 * the bot is a member). */
struct fake_file;
size_t fake_slack_file_count(const struct fake_slack *f);
const struct fake_file *fake_slack_file(const struct fake_slack *f, size_t idx);   /* creation order */

/* --- several connections (one app, several bot processes) ---
 * Slack allows up to 10 concurrent Socket Mode connections per app and
 * delivers each envelope to one of them (protocol-facts.md §1.4,
 * protocol-facts-2.md §6.1).  Every apps.connections.open call gets its own
 * single-use ticket, so each process gets its own connection.
 * Client tags: a process given SLACK_API_URL = fake_slack_client_api_url(f,
 * "r1") is recorded as client "r1" on each call (fake_call.client), and the
 * socket it opens with its ticket carries the tag too (fake_slack_conn_tag,
 * fake_delivery.conn_tag): tests see which process got, acked and acted on
 * what.  tag: 1-31 characters, no '/'.  0, or -1 (bad tag or too small). */
int fake_slack_client_api_url(const struct fake_slack *f, const char *tag, char *out, size_t n);
/* Which live socket gets the next envelope: the newest (default, what the
 * one-connection tests expect), round robin by connection id, or a seeded
 * random pick (seed 0 = a fixed default; the same seed and the same
 * sockets give the same sequence). */
enum fake_slack_spread {
    FAKE_SLACK_SPREAD_NEWEST = 0,
    FAKE_SLACK_SPREAD_ROUND_ROBIN,
    FAKE_SLACK_SPREAD_RANDOM,
};
void fake_slack_set_spread(struct fake_slack *f, enum fake_slack_spread mode, uint64_t seed);
/* Live sockets (hello written, not silent, not dropping), oldest first:
 * writes up to max ids, returns how many there are. */
int fake_slack_conns(const struct fake_slack *f, unsigned *ids, int max);
const char *fake_slack_conn_tag(const struct fake_slack *f, unsigned id);   /* NULL once closed */
int fake_slack_ws_count_tag(const struct fake_slack *f, const char *tag);   /* live sockets of a client */
/* Abrupt close of one socket (as fake_slack_drop).  0, or -1 if not open. */
int fake_slack_drop_conn(struct fake_slack *f, unsigned id);
/* Envelopes queued on connection id (and, in *acked_there, how many of them
 * were acked on that same connection). */
size_t fake_slack_conn_deliveries(const struct fake_slack *f, unsigned id, size_t *acked_there);
size_t fake_slack_delivery_count(const struct fake_slack *f);
const struct fake_delivery *fake_slack_delivery(const struct fake_slack *f, size_t idx);
const struct fake_delivery *fake_slack_delivery_by_id(const struct fake_slack *f, const char *envelope_id);
/* The connection limit (default 10, Slack's).  Slack documents the limit and
 * a disconnect {"type":"disconnect","reason":"too_many_websockets",
 * "num_connections":n,...} but not which socket gets it nor what
 * apps.connections.open answers past the limit.  The fake: the call still
 * returns a URL; the socket past the limit is accepted, gets that
 * disconnect instead of hello, never an envelope, and is closed by the fake
 * 2 s later if the client has not closed it.  Counted here. */
void fake_slack_set_max_connections(struct fake_slack *f, int n);
int fake_slack_ws_over_limit(const struct fake_slack *f);
/* Redelivery of events_api envelopes, as Slack does for the Events API
 * (protocol-facts.md §1.5/§1.6): an envelope not acked within timeout_ms of
 * being queued (its socket died, or the bot was too slow) is sent again as
 * a NEW envelope (new envelope_id, same payload and event_id) with
 * retry_attempt + 1 and retry_reason "timeout", to the socket the spread
 * mode picks (possibly another connection; with none, as soon as one is
 * up), at most max_retries times (Slack: 3).  Acks of the old envelope are
 * still taken.  Off by default (timeout_ms 0); Slack's own timeout is 3 s. */
void fake_slack_set_redelivery(struct fake_slack *f, int timeout_ms, int max_retries);
size_t fake_slack_redeliveries(const struct fake_slack *f);

#endif
