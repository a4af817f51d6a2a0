/* review_parts: what the weekly review adds to each incident's section
 * and after them — the mishandling flags, the open process improvements
 * (one or more messages with "Mark done" buttons) and the per-severity
 * medians over the last 4 weeks.  Used by review.c inside its store
 * transaction; every string returned belongs to the caller. */
#ifndef SIRT_REVIEW_PARTS_H
#define SIRT_REVIEW_PARTS_H

#include <stddef.h>
#include <stdint.h>

struct hctx;
struct incident;
struct rf_params;

/* The flag parameters from the config (paging.ack_minutes, whether acks
 * are followed) at now. */
void review_rf_params(const struct hctx *ctx, int64_t now, struct rf_params *p);
/* The incident's flags as one line of text ("page 12m after the report;
 * …"), NULL when nothing is flagged; *n gets how many flags. */
char *review_flags_line(const struct hctx *ctx, const struct incident *inc, int64_t now, int *n);
/* "*Median times over the last 4 weeks* …" with one line per severity. */
char *review_medians_text(const struct hctx *ctx, int64_t now);
/* Open improvements (-1 when they cannot be read). */
int review_improvements_open(const struct hctx *ctx);
/* Posts the open improvements, with Mark done buttons, as ordered
 * private_only messages keyed "<key_base>/improvements-<i>", each after
 * *prev (updated).  Returns how many messages. */
size_t review_improvements_post(const struct hctx *ctx, const char *key_base, int64_t now, int64_t *prev);

#endif
