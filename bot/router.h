/* router: envelope -> handler.  slash_commands -> "/sirt <verb> [args]";
 * events_api -> app_mention and direct messages (message, channel_type im,
 * not from a bot, not edited); interactive -> block_actions by action_id,
 * view_submission by callback_id.  De-duplicates events_api by event_id.
 *
 * router_ack/router_work have the socket_mode callback signatures: the ack
 * phase is pure (it may only compute a reply for the ack payload); replies
 * to mentions and DMs are posted in the work phase.  Envelopes are borrowed. */
#ifndef SIRT_ROUTER_H
#define SIRT_ROUTER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct hctx;
struct sirt_app;
struct router;
struct router_table;
struct sm_ack;

/* table (bot/dispatch.h): the verbs, actions and views to dispatch to;
 * ctx: the context every handler is called with (on the store thread).
 * Both borrowed for the router's life (the composition root passes the
 * handlers' table and owns the context). */
struct router *router_create(struct sirt_app *app, const struct router_table *table, const struct hctx *ctx);
void router_destroy(struct router *r);

/* The socket's consumer (sm_envelope_fn), on the loop: queues the envelope
 * for the store thread, which takes everything queued at once, runs the
 * ack phase, writes the inbox rows and event ids in one commit, posts the
 * acks back to the loop, then runs each envelope's work in its own
 * transaction.  Needs app->storeq. */
void router_envelope(void *router, struct sm_ack *tok, const char *type, cJSON *envelope);
/* Loop: no replay timer is armed from now on (shutdown). */
void router_stop(struct router *r);

/* The same phases inline, on the calling thread (unit tests, fallback).
 * For an envelope that needs work, router_ack writes it to the store's inbox
 * before the ack goes out (member "sirt_inbox_id" is added to it) and
 * router_work deletes that row in the work's transaction. */
cJSON *router_ack(void *router, const char *type, cJSON *envelope, bool *want_work);
void router_work(void *router, const char *type, const cJSON *envelope);
/* Store thread, once at start: claims and handles the envelopes nobody
 * holds (acked by an earlier run, or by a replica that died, whose work
 * never committed).  On a shared store it then starts the sweep: every
 * third of a lease this replica's leases are renewed and envelopes whose
 * replica's lease ended are claimed and handled.  Returns how many. */
int router_replay_inbox(struct router *r);

/* Splits command text into a lowercased verb and the trimmed rest.
 * "  Help  me " -> verb "help", *args "me".  Empty text -> verb "". */
void router_split(const char *text, char *verb, size_t verblen, const char **args);
/* Skips a leading "<@U123>" (or "<@U123|name>") mention of user_id and
 * whitespace; returns a pointer into text. */
const char *router_strip_mention(const char *text, const char *user_id);

#endif
