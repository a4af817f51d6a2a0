/* handoff_internal: what handoff.c (end-of-day prompts, the handoff itself)
 * and handoff_accept.c (offers that wait for Accept, the hand-back from the
 * secops on-call) share.  Everything runs inside the caller's store
 * transaction; strings returned are the caller's to free unless noted. */
#ifndef SIRT_HANDOFF_INTERNAL_H
#define SIRT_HANDOFF_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/workhours.h"

struct hctx;
struct incident;

/* handoff.c */
/* Index of user in cfg->appsec, or -1. */
int handoff_appsec_index(const struct hctx *ctx, const char *user);
/* Working hours of cfg->appsec[i] in their resolved zone (borrowed). */
struct wh handoff_appsec_wh(const struct hctx *ctx, size_t i);
/* Hands inc to the secops on-call (paged in a new page round), or says
 * nobody is configured; plans the hand-back to appsec. */
void handoff_to_secops(const struct hctx *ctx, const struct incident *inc, const char *by, const char *reason);

/* handoff_accept.c */
enum handoff_offer_kind { OFFER_HANDOFF, OFFER_HANDBACK };
/* Offers inc to `to`: invited, a DM with the brief and Accept, a note in
 * the channel, timeline handoff_offered, and the accept deadline
 * (handoff.accept_minutes).  tried (may be NULL): receivers already tried
 * for this handoff, copied. */
void handoff_offer(const struct hctx *ctx, const struct incident *inc, const char *to, const char *by,
                   const char *reason, enum handoff_offer_kind kind, const cJSON *tried);
/* Cancels a pending offer and the hand-back timer of incident id. */
void handoff_offer_cancel(const struct hctx *ctx, int64_t id);
/* Plans the hand-back of incident id to appsec at the earliest start of an
 * appsec working day after now (DST-correct: workhours.h). */
void handoff_handback_plan(const struct hctx *ctx, int64_t id);

#endif
