/* dedup: a bounded set of ids seen (see dedup.h): an open-addressing hash
 * set of borrowed pointers over a FIFO ring that owns the strings, so the
 * oldest id is evicted when it is full.  The set owns every string it holds;
 * dedup_destroy frees them. */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct dedup {
    char **ring;          /* insertion order; ring[i] owns the string */
    size_t cap, head, n;
    char **slots;         /* hash table of borrowed pointers into ring */
    size_t nslots;        /* power of two, >= 2 * cap */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct dedup *dedup_create(size_t capacity)
{
    struct dedup *d = xcalloc(1, sizeof(*d));
    d->cap = capacity ? capacity : 1;
    d->ring = xcalloc(d->cap, sizeof(char *));
    d->nslots = 16;
    while (d->nslots < d->cap * 2)
        d->nslots *= 2;
    d->slots = xcalloc(d->nslots, sizeof(char *));
    return d;
}

void dedup_destroy(struct dedup *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cap; i++)
        free(d->ring[i]);
    free(d->ring);
    free(d->slots);
    free(d);
}

static size_t dedup_find(const struct dedup *d, const char *id, bool *found)
{
    size_t mask = d->nslots - 1;
    size_t i = hash_str(id) & mask;
    for (size_t probes = 0; probes < d->nslots; probes++, i = (i + 1) & mask) {
        if (!d->slots[i]) {
            *found = false;
            return i;
        }
        if (strcmp(d->slots[i], id) == 0) {
            *found = true;
            return i;
        }
    }
    *found = false;
    return (size_t)-1;
}

/* Backward-shift deletion keeps linear probing chains intact. */
static void dedup_remove_slot(struct dedup *d, size_t i)
{
    size_t mask = d->nslots - 1;
    size_t j = i;
    d->slots[i] = NULL;
    for (;;) {
        j = (j + 1) & mask;
        if (!d->slots[j])
            return;
        size_t k = hash_str(d->slots[j]) & mask;
        /* Move slots[j] to i if its home k is not cyclically in (i, j]. */
        bool in_range = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!in_range) {
            d->slots[i] = d->slots[j];
            d->slots[j] = NULL;
            i = j;
        }
    }
}

bool dedup_seen(struct dedup *d, const char *id)
{
    bool found;
    dedup_find(d, id, &found);
    if (found)
        return true;
    if (d->n == d->cap) {
        /* Evict the oldest: ring[head]. */
        char *old = d->ring[d->head];
        bool f2;
        size_t os = dedup_find(d, old, &f2);
        if (f2)
            dedup_remove_slot(d, os);
        free(old);
        d->ring[d->head] = NULL;
        d->head = (d->head + 1) % d->cap;
        d->n--;
    }
    size_t slot = dedup_find(d, id, &found);
    size_t pos = (d->head + d->n) % d->cap;
    d->ring[pos] = xstrdup(id);
    d->slots[slot] = d->ring[pos];
    d->n++;
    return false;
}
