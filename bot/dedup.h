/* dedup: a bounded set of ids, to drop what was seen already (the router's
 * event ids).  Capacity entries; when full the oldest is evicted.  Not
 * thread-safe: one owner (the router's store-thread side).
 * dedup_destroy(NULL) is a no-op. */
#ifndef SIRT_DEDUP_H
#define SIRT_DEDUP_H

#include <stdbool.h>
#include <stddef.h>

struct dedup;
struct dedup *dedup_create(size_t capacity);
void dedup_destroy(struct dedup *d);
/* True if id was seen already; records it (a copy) otherwise. */
bool dedup_seen(struct dedup *d, const char *id);

#endif
