/* outbox_dispatch: picking the due jobs of a tick (outbox_dispatch.c). */
#ifndef SIRT_OUTBOX_DISPATCH_H
#define SIRT_OUTBOX_DISPATCH_H

#include <stdbool.h>

struct outbox;

/* Store thread, inside the caller's open transaction: up to four rounds of
 * due jobs are failed, dropped, or marked sending and put on o->starts
 * (sent once the transaction committed).  False when the store refused a
 * write. */
bool outbox__pick_rounds(struct outbox *o);

#endif
