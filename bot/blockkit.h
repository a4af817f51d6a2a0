/* blockkit: Slack's Block Kit limits in one table and the one way text is
 * cut to fit them.  Handlers' builders (handlers/bk.c) cut what they
 * build; the Slack effects fit every payload again right before it goes on
 * the wire (after the outbox filled in {{incident.*}} placeholders), so no
 * message or view is ever refused for its size.  Pure functions on cJSON
 * trees and strings; what blockkit_cut returns belongs to the caller. */
#ifndef SIRT_BLOCKKIT_H
#define SIRT_BLOCKKIT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Slack's documented maxima (protocol-facts-2 §6.8), in characters as
 * Slack counts them (UTF-16 code units, see blockkit_len). */
enum {
    BK_MSG_BLOCKS = 50,          /* blocks per message */
    BK_VIEW_BLOCKS = 100,        /* blocks per modal */
    BK_SECTION_TEXT = 3000,      /* section text; also any other text object */
    BK_FIELDS = 10,              /* section fields */
    BK_FIELD_TEXT = 2000,
    BK_HEADER_TEXT = 150,
    BK_CONTEXT_ELEMENTS = 10,
    BK_ACTIONS_ELEMENTS = 25,
    BK_BUTTON_TEXT = 75,
    BK_BUTTON_VALUE = 2000,
    BK_URL = 3000,
    BK_OPTION_TEXT = 75,         /* option text and description */
    BK_OPTION_VALUE = 75,        /* SDK says 75, docs 150: keep the lower */
    BK_OPTIONS = 100,            /* static select options / option groups */
    BK_PLACEHOLDER = 150,
    BK_LABEL = 2000,             /* input label and hint */
    BK_INPUT_VALUE = 3000,       /* plain_text_input initial_value (max_length ceiling) */
    BK_CONFIRM_TITLE = 100,
    BK_CONFIRM_TEXT = 300,
    BK_CONFIRM_BUTTON = 30,
    BK_VIEW_TITLE = 24,          /* modal title, submit, close */
    BK_PRIVATE_METADATA = 3000,
    BK_ID = 255,                 /* block_id, action_id, callback_id */
};

/* What a cut long text ends with (short limits get a lone "…"). */
#define BK_TRUNCATED_MARKER "(truncated — full text in the GitLab issue)"
/* Limits at least this long carry the marker when cut. */
#define BK_MARKER_MIN_LIMIT 500

/* Length of UTF-8 s as Slack counts it: UTF-16 code units (characters
 * outside the BMP count 2).  Never less than the code point count. */
size_t blockkit_len(const char *s);

/* Copy of s (already escaped for its context) of at most max characters:
 * unchanged when it fits, else cut at a UTF-8 boundary and ended with
 * "\n" BK_TRUNCATED_MARKER (max >= BK_MARKER_MIN_LIMIT) or "…".  With
 * mrkdwn, the cut never splits an &entity; or a <link|mention>, and an
 * open ``` block is closed.  Caller frees. */
char *blockkit_cut(const char *s, size_t max, bool mrkdwn);

/* Fits a blocks array in place: every text, element and count within its
 * limit; more than max_blocks blocks become the first ones, a marker
 * section and, when the last block is an actions block, that block (its
 * buttons survive).  Returns how many things were cut (0: it fitted). */
int blockkit_fit_blocks(cJSON *blocks, int max_blocks);
/* Same for a modal view (title/submit/close, blocks up to BK_VIEW_BLOCKS). */
int blockkit_fit_view(cJSON *view);
/* Same for a message's arguments or a response_url body: its "blocks"
 * array (a JSON string of blocks is left to Slack). */
int blockkit_fit_message(cJSON *args);

#endif
