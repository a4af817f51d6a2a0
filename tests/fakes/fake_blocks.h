/* fake_blocks: the fake Slack's Block Kit validation — what Slack refuses
 * in blocks and views (limits of protocol-facts-2 §6.8, required fields,
 * known block and element types), written independently of the bot's own
 * bot/blockkit.c so that the two check each other.  Pure functions; err
 * receives Slack's wording with a JSON pointer, e.g. "must be less than
 * 3001 characters [json-pointer:/blocks/0/text/text]". */
#ifndef SIRT_FAKE_BLOCKS_H
#define SIRT_FAKE_BLOCKS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Characters as Slack counts them (UTF-16 code units). */
size_t fake_blocks_len(const char *s);
/* A message's arguments (chat.postMessage/postEphemeral/update, a
 * response_url body): true when its "blocks" (absent, an array, or a JSON
 * string of one) would be accepted. */
bool fake_blocks_check_message(const cJSON *args, char *err, size_t errlen);
/* A view (views.open/update/push "view", object or JSON string). */
bool fake_blocks_check_view(const cJSON *view, char *err, size_t errlen);

#endif
