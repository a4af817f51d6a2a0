/* clock: the one source of time.  Wall time can be pinned by unit tests
 * (clock_set_*) or, in the binary, taken from SIRT_CLOCK_FILE for drills
 * and end-to-end tests (clock_load_file).  Monotonic time is for latencies
 * and timeouts only. */
#ifndef SIRT_CLOCK_H
#define SIRT_CLOCK_H

#include <stdint.h>

int64_t clock_now_ms(void);      /* Unix epoch milliseconds (possibly faked) */
/* The system's wall clock, never faked: for what processes compare with
 * one another (the leases of replicas), which a drill's clock must not move. */
int64_t clock_real_ms(void);
uint64_t clock_mono_us(void);    /* CLOCK_MONOTONIC microseconds */
uint64_t clock_mono_ms(void);
void clock_set_fixed_ms(int64_t epoch_ms); /* freeze wall time at this value */
void clock_set_real(void);                  /* back to the system clock */
/* Drills and tests (SIRT_CLOCK_FILE): the file holds the wall time to use,
 * as epoch milliseconds or RFC 3339 ("2026-11-23T16:29:00Z"); from the
 * moment it is read, time runs on from there at normal speed.  Re-read on
 * SIGUSR1.  Returns 0, or -1 (unreadable file: the clock is unchanged). */
int clock_load_file(const char *path);

/* Writes an RFC 3339 UTC timestamp with milliseconds ("2026-11-23T03:38:09.123Z"). */
void clock_fmt_iso(int64_t epoch_ms, char out[32]);

/* Day number (days since 1970-01-01, proleptic Gregorian) of the civil date
 * y-m-d (m 1..12, d 1..31); pure, any year. */
int64_t clock_days_from_civil(int64_t y, int64_t m, int64_t d);

#endif
