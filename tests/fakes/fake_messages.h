/* fake_messages: the fake Slack's message store — what chat.postMessage
 * posted, per channel, and the read side Slack gives apps over it:
 * conversations.history and conversations.replies (newest first / thread
 * order, oldest/latest/inclusive/limit/cursor, metadata only with
 * include_all_metadata=true), plus the validation of chat.postMessage's
 * "metadata" argument.  Pure data, no I/O; owned by one fake_slack, which
 * frees it (and every message) in fake_messages_destroy. */
#ifndef SIRT_FAKE_MESSAGES_H
#define SIRT_FAKE_MESSAGES_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "fake_slack.h"

struct fake_messages;

struct fake_messages *fake_messages_create(void);
void fake_messages_destroy(struct fake_messages *m);   /* NULL: no-op */

/* chat.postMessage's "metadata" argument (absent; an object in a JSON body;
 * a JSON string in a form post): NULL when acceptable, with *md a copy to
 * store (NULL when absent), or "invalid_metadata_format" when it is not
 * {"event_type": non-empty string, "event_payload": object} (*md NULL). */
const char *fake_messages_check_metadata(const cJSON *args, cJSON **md);
/* Stores a posted message; md is taken over (may be NULL).  Returns the
 * stored message (owned by m). */
const struct fake_message *fake_messages_add(struct fake_messages *m, const char *channel, const char *ts,
                                             const char *thread_ts, const char *user, const char *bot_id,
                                             const char *text, cJSON *md);
size_t fake_messages_count(const struct fake_messages *m, const char *channel);   /* NULL = all */
const struct fake_message *fake_messages_get(const struct fake_messages *m, const char *channel, size_t idx);
/* The method bodies: args as the request gave them; fill out, return NULL
 * or Slack's error code (invalid_cursor, thread_not_found, ...). */
const char *fake_messages_history(const struct fake_messages *m, const cJSON *args, cJSON *out);
const char *fake_messages_replies(const struct fake_messages *m, const cJSON *args, cJSON *out);

#endif
