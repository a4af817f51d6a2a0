/* outbox_outcome: what an effect's outcome writes (outbox_outcome.c). */
#ifndef SIRT_OUTBOX_OUTCOME_H
#define SIRT_OUTBOX_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

struct outbox;
struct outbox_inflight;
struct outbox_outcome;
struct effect_result;

/* Backoff before retry number `attempts` (1 = after the first failure):
 * base_ms doubled per attempt up to cap_ms, then "equal jitter" from rnd:
 * a value in [d/2, d], so never above cap_ms.  Pure, for tests. */
uint64_t outbox_backoff_ms(int attempts, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd);

/* Store thread, inside the caller's transaction: records r for the job of
 * f and says in c what the queue in memory learns once it committed
 * (final_state, next_at_ms, new_payload).  closing: a stop canceled it. */
void outbox__apply_outcome(struct outbox *o, struct outbox_inflight *f, const struct effect_result *r,
                           bool closing, struct outbox_outcome *c);
/* Store thread: unlinks f from o's in-flight list and frees it. */
void outbox__finish_inflight(struct outbox *o, struct outbox_inflight *f);

#endif
