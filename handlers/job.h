/* job: the usual effects of a handler written as outbox jobs (messages in
 * the incident channel, ephemeral replies, DMs, GitLab notes, answers to a
 * button press).  Everything here runs inside the caller's store
 * transaction and never touches the network. */
#ifndef SIRT_HANDLERS_JOB_H
#define SIRT_HANDLERS_JOB_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/dispatch.h"
#include "../bot/store.h"

/* key_suffix makes the idempotency key unique per effect
 * ("SIRT-<n>/<key_suffix>"); blocks (may be NULL) is taken over.  Each
 * returns the job id, or <0 on a store error. */
int64_t job_post_incident(const struct hctx *ctx, const struct incident *inc, const char *key_suffix,
                          const char *text, cJSON *blocks);
/* The same for a request's message: key suffix "<what>/<req_id>"; text
 * (from malloc) is taken over and freed. */
int64_t job_post_incident_req(const struct hctx *ctx, const struct incident *inc, const char *what,
                              const char *req_id, char *text);
int64_t job_post_channel(const struct hctx *ctx, int64_t incident_id, const char *key, const char *channel,
                         const char *thread_ts, const char *text, cJSON *blocks);
int64_t job_ephemeral(const struct hctx *ctx, const char *key, const char *channel, const char *user,
                      const char *text);
int64_t job_dm(const struct hctx *ctx, int64_t incident_id, const char *key, const char *user, const char *text,
               cJSON *blocks);
/* A note on the incident's GitLab issue; 0 when GitLab is off. */
int64_t job_gitlab_note(const struct hctx *ctx, const struct incident *inc, const char *key_suffix, const char *body);
/* An answer to whoever pressed a button: through the message's
 * response_url (replacing the message when replace), else ephemeral in the
 * channel, else by DM.  what + the press make the idempotency key. */
int64_t job_button_notice(const struct hctx *ctx, const cJSON *payload, const cJSON *action, const char *what,
                          const char *text, bool replace);

/* Opens view (a modal, taken over) for the press or command that gave
 * trigger_id (views.open; key "views_open/<trigger_id>").  incident_id may
 * be 0.  The job id, or <0 on a store error. */
int64_t job_views_open(const struct hctx *ctx, int64_t incident_id, const char *trigger_id, cJSON *view);

/* A key unique to this delivery of a request (envelope trigger/event ids),
 * for replies: writes "<prefix>/<id>" into out. */
void job_request_key(const struct sirt_req *req, const char *prefix, char *out, size_t size);

/* What a work() returns: 0, or STORE_EIO once a write of the router's
 * transaction has failed (see store_txn_failed). */
int job_result(const struct hctx *ctx);

#endif
