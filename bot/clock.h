/* clock: the one source of time.  Wall time can be pinned or offset by tests
 * (unit tests call clock_set_*; the binary honours nothing but real time in
 * this version).  Monotonic time is for latencies and timeouts only. */
#ifndef SIRT_CLOCK_H
#define SIRT_CLOCK_H

#include <stdint.h>

int64_t clock_now_ms(void);      /* Unix epoch milliseconds (possibly faked) */
uint64_t clock_mono_us(void);    /* CLOCK_MONOTONIC microseconds */
uint64_t clock_mono_ms(void);
void clock_set_fixed_ms(int64_t epoch_ms); /* freeze wall time at this value */
void clock_set_real(void);                  /* back to the system clock */
/* Writes an RFC 3339 UTC timestamp with milliseconds ("2026-11-23T03:38:09.123Z"). */
void clock_fmt_iso(int64_t epoch_ms, char out[32]);

#endif
