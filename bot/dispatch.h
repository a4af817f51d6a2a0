/* dispatch: what the platform dispatches to, declared by the platform.  The
 * router takes a struct router_table (verbs, block actions, view
 * submissions) and the scheduler a struct sched_kinds (timer kinds) at
 * create time, with the handlers' context (struct hctx) they pass to every
 * handler; the composition root (app/main.c) passes the handlers' tables
 * in and owns the context, so nothing under bot/ includes handlers/.
 * A verb has two phases:
 *   respond(): fast, no network, no store writes (store reads are fine),
 *              fills the reply.  For a
 *              slash command the reply goes into the ack payload (ephemeral);
 *              for a mention it is posted in the channel (in the thread when
 *              the mention was in one); for a DM, in the DM.
 *   work():    side effects, run after the ack is on the wire.  May be NULL.
 *              Returns 0, or a negative STORE_E* code when a store write
 *              failed: the router then rolls the whole transaction back and
 *              keeps the envelope for a replay (so nothing after a failed
 *              step commits).  A request that is refused (not allowed,
 *              malformed, stale) is not an error: the notice to the user is
 *              its work, and it returns 0.
 * Block actions and view submissions are re-checked in work() (and a
 * view's validate()) against who may act on the incident they name, exactly
 * like the command that opened them: button values and private_metadata
 * are input, never proof.
 * The request and everything it points to are borrowed for the call. */
#ifndef SIRT_DISPATCH_H
#define SIRT_DISPATCH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct cfg;
struct sched_timer;
struct store;

/* The handlers' context: all a handler gets besides its request.  It holds
 * nothing that reaches the network (no HTTP or Web API client, socket,
 * outbox worker, scheduler or loop), so "handlers never touch the network"
 * holds by type: a handler's side effects are outbox jobs (outbox_add)
 * written in its store transaction, which the platform sends after the
 * commit.  The store thread's; owned by the composition root, which updates
 * the identity fields and the zones by message on that thread.  Handlers
 * get it const and borrow it for the call. */
struct hctx {
    struct store *store;          /* the store thread's store (NULL in tests of pure parts) */
    const struct cfg *cfg;
    int64_t (*now_ms)(void);      /* the clock: epoch ms (clock_now_ms in the bot) */
    char bot_user_id[32];         /* the bot's own Slack user id (auth.test); "" until known */
    /* Zone of cfg->appsec[i]: the config's tz, else the engineer's Slack
     * profile's, else NULL until known; the array itself may be NULL. */
    char *const *appsec_tz;
};

enum req_source { REQ_SLASH, REQ_MENTION, REQ_DM };

struct sirt_req {
    enum req_source source;
    const char *user_id;
    const char *channel_id;
    const char *thread_ts;     /* mention/DM inside a thread, else NULL */
    const char *verb;          /* lowercased, "" when none was given */
    const char *args;          /* the rest, trimmed, never NULL */
    const char *trigger_id;    /* slash commands, else NULL */
    const char *response_url;  /* slash commands, else NULL */
    const cJSON *payload;      /* the envelope's payload */
};

/* A reply: text (mrkdwn) and optional blocks, both heap-owned by the reply
 * (text from malloc, blocks a cJSON tree).  The handlers fill it; the router
 * sends it and frees both. */
struct sirt_reply {
    char *text;
    cJSON *blocks;
};

struct sirt_verb {
    const char *name;
    const char *usage;      /* e.g. "report [summary]" */
    const char *summary;    /* one line for help */
    void (*respond)(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
    int (*work)(const struct hctx *ctx, const struct sirt_req *req);
    /* True when the verb needs no store at all: work is NULL and respond
     * needs no context (it builds its reply from the request and static
     * tables).  Its slash command changes nothing and its reply travels in
     * the ack, so the router answers it on the loop at once, without the
     * store thread (nothing to make durable), calling respond with ctx
     * NULL. */
    bool store_free;
};

/* block_actions by action_id; view_submission by callback_id.  The payload
 * is the interactive payload. */
struct sirt_action {
    const char *action_id;
    int (*work)(const struct hctx *ctx, const cJSON *payload, const cJSON *action);
};
struct sirt_view {
    const char *callback_id;
    /* Pure: returns an ack payload ({"response_action":"errors",...}) or NULL if valid. */
    cJSON *(*validate)(const struct hctx *ctx, const cJSON *payload);
    int (*work)(const struct hctx *ctx, const cJSON *payload);
};

/* The router's table: lookups return NULL for a name nobody handles.  An
 * empty verb is looked up as "help"; unknown() answers a verb nobody has. */
struct router_table {
    const struct sirt_verb *(*verb)(const char *name);
    const struct sirt_action *(*action)(const char *action_id);
    const struct sirt_view *(*view)(const char *callback_id);
    void (*unknown)(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out);
};

/* Timer kinds run by the scheduler (inside a store transaction). */
struct sirt_timer_kind {
    const char *kind;
    void (*fire)(const struct hctx *ctx, const struct sched_timer *t);
};
struct sched_kinds {
    const struct sirt_timer_kind *(*find)(const char *kind);   /* NULL: unknown kind */
};

#endif
