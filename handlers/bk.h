/* bk: Block Kit builders for handlers' messages and modals, and reading a
 * modal's inputs.  The caller owns a builder's result until it is added to
 * a parent. */
#ifndef SIRT_HANDLERS_BK_H
#define SIRT_HANDLERS_BK_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Every text goes in already escaped for its kind and is cut to Slack's
 * limit for its place with blockkit_cut (bot/blockkit.h): long text ends
 * with "(truncated — full text in the GitLab issue)", short labels with
 * "…"; nothing a builder makes is refused for its size. */
cJSON *bk_plain(const char *text);                      /* plain_text, at most BK_SECTION_TEXT */
cJSON *bk_plain_max(const char *text, size_t max);      /* plain_text, at most max */
cJSON *bk_section(const char *mrkdwn);                  /* section, text at most BK_SECTION_TEXT */
cJSON *bk_header(const char *text);                     /* header, at most BK_HEADER_TEXT */
cJSON *bk_context(const char *mrkdwn);                  /* context with one mrkdwn element */
cJSON *bk_button(const char *text, const char *action_id, const char *value, const char *style);
cJSON *bk_actions(const char *block_id);   /* add buttons to its "elements" */
cJSON *bk_option(const char *text, const char *value);  /* option: text and value at most 75 */
/* A modal's title/submit/close (each cut to 24) on an object with "type":"modal". */
cJSON *bk_modal(const char *title, const char *submit, const char *close);
/* A form: bk_modal(title, submit, "Cancel") with callback_id,
 * private_metadata meta (JSON text) and a "blocks" array, returned in
 * *blocks (the modal owns it), that starts with intro as a mrkdwn section
 * when intro is not NULL. */
cJSON *bk_form(const char *title, const char *submit, const char *callback_id, const char *meta,
               const char *intro, cJSON **blocks);
/* Fits a finished blocks array (at most max_blocks) in place, as the
 * effects will: for builders that assemble many blocks. */
void bk_fit(cJSON *blocks, int max_blocks);

/* A modal input's value (block_id, action_id "value"): plain text or the
 * selected option's value; NULL when empty.  Points into view. */
const char *bk_view_input(const cJSON *view, const char *block);
/* A view submission's ack refusing it: {"response_action":"errors",
 * "errors":errors}, errors ({block_id: message}) taken over; NULL for NULL.
 * bk_view_error: the same for one block's message. */
cJSON *bk_view_errors(cJSON *errors);
cJSON *bk_view_error(const char *block, const char *msg);

#endif
