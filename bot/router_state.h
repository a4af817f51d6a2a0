/* router_state: what the router's files share — the router itself, the
 * envelope on its way from the socket to its handler, and the functions one
 * file of the router calls in another (router__ prefix).  Not for use
 * outside bot/router*.c.  Which thread may touch what is said at each
 * member and in router.c's opening comment. */
#ifndef SIRT_ROUTER_STATE_H
#define SIRT_ROUTER_STATE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct hctx;
struct sirt_app;
struct router_table;
struct sm_ack;

#define VERB_MAX 32
#define RETRY_FIRST_MS 1000       /* first replay of a failed envelope */
#define RETRY_MAX_MS 60000        /* backoff cap between replays */
#define RETRY_BATCH 64            /* envelopes replayed per timer tick */

/* One envelope from the socket to its ack (and, when it needs work, on to
 * its handler).  Built on the loop, filled on the store thread, acked back
 * on the loop. */
struct env_item {
    struct env_item *next;
    struct router *rt;
    struct sm_ack *tok;
    char type[24];
    cJSON *env;               /* owned */
    cJSON *ack;               /* ack payload, owned until sent */
    bool want_work;
    bool done;                /* its work ran before its ack (router.c work_inline) */
    bool acked;               /* its ack went to the loop */
    char *notice;             /* direct notice to send from the loop, or NULL */
    cJSON *notice_payload;    /* what it answers (a copy), with notice */
};

struct router {
    struct sirt_app *app;     /* the store thread's view */
    const struct router_table *table;   /* borrowed from the composition root */
    const struct hctx *ctx;   /* what the handlers get (store thread); borrowed likewise */
    struct sirt_app *loop_app;
    struct dedup *dedup;
    pthread_mutex_t mu;       /* guards the ingest list */
    struct env_item *in_head, *in_tail;
    bool ingest_posted;
    /* Inbox rows this replica holds whose work failed, to replay (ascending ids). */
    int64_t *retry;
    size_t n_retry, cap_retry;
    uint64_t retry_delay_ms;  /* next backoff step */
    int retry_rounds;         /* replay rounds since the last success */
    bool old_pending;         /* the inbox could not be claimed from: try again */
    bool retry_armed;         /* a replay round is on its way (store thread) */
    bool stopping;            /* loop side: closing */
    uv_timer_t retry_timer;   /* loop side */
    bool timer_init;
    uv_timer_t sweep_timer;   /* loop side: leases renewed, the inbox claimed from */
    bool sweep_init;
    bool sweeping;            /* store thread: a sweep is running */
    /* Store thread: kept envelopes waiting for their handlers; what
     * gathered while the thread was busy runs as one batch (one commit). */
    struct env_item *work_head, *work_tail;
    bool work_posted;
};

/* ---- router_dispatch.c: envelope -> request -> handler ---- */

/* Store thread: the ack phase of an envelope of type (slash_commands,
 * events_api, interactive): the ack payload to send (caller owns it, NULL
 * for an empty ack); *want_work set when a work phase must follow. */
cJSON *router__ack_dispatch(struct router *rt, const char *type, const cJSON *payload, bool *want_work);
/* Loop: answers at once a slash command whose verb is store_free (see
 * bot/dispatch.h), acking it through tok.  False leaves the envelope to the
 * store thread. */
bool router__ack_store_free(struct router *rt, struct sm_ack *tok, const char *type, const cJSON *envelope);
/* The handler's store writes, its outbox jobs, the inbox row's deletion and
 * (for events) the event id commit in one transaction: all of them or none.
 * 0, or <0 when the work was rolled back (its inbox row stays).  batched:
 * inside the batch's transaction (a savepoint of it); the caller commits
 * and tells the outbox and the scheduler. */
int router__work_one(struct router *rt, const char *type, const cJSON *envelope, bool batched);

/* Envelope types whose work may run before their ack, in the commit that
 * would otherwise only keep them (events and slash commands: light
 * handlers; a form's submission is acked first). */
bool router__inline_type(const char *type);
/* Store thread, inside the caller's transaction: the work of an envelope
 * that has no inbox row, with its event id (events); the caller commits.
 * 1 handled, 0 a duplicate event (nothing to do), <0 failed (the caller
 * rolls back). */
int router__work_inline(struct router *rt, const char *type, const cJSON *envelope);

/* ---- router_keep.c: the inbox row, and notices when the store fails ---- */

/* Inside the caller's transaction: an event's id recorded (other types:
 * nothing).  0 new (or nothing to record), 1 a duplicate (counted and
 * logged: no work), <0 failed. */
int router__record_event(struct router *rt, const char *type, const cJSON *envelope);
/* Makes one envelope durable inside the caller's transaction: its event id
 * (events) and its inbox row.  Returns the inbox id, 0 for an event already
 * recorded (a duplicate: no work), or <0. */
int64_t router__keep_one(struct router *rt, const char *type, const cJSON *envelope);
/* Records the inbox row id in the envelope (member "sirt_inbox_id"). */
void router__set_inbox_id(cJSON *envelope, int64_t id);
/* router__keep_one in its own transaction.  On failure the envelope is
 * refused: *ack replaced by one that says so, or a direct notice sent, and
 * *want_work cleared. */
void router__keep_alone(struct router *rt, const char *type, cJSON *envelope, cJSON **ack, bool *want_work);
/* The sender's words for a request refused at the ack (kept false) or kept
 * to be replayed (kept true), in mrkdwn or plain text; caller frees. */
char *router__notice_text(const struct sirt_app *app, bool kept, bool mrkdwn);
/* Store thread: tells the sender of payload text, straight through the
 * Slack API from the loop (the outbox is in the failing store). */
void router__notify_direct(struct router *rt, const char *type, const cJSON *payload, const char *text);

/* ---- router_replay.c: kept envelopes replayed, claims, the sweep ---- */

/* A failed envelope: kept for the replay timer; its sender told once when
 * tell. */
void router__keep_for_replay(struct router *rt, const char *type, const cJSON *envelope, bool tell);

#endif
