/* clock: wall time (real, or pinned by tests through clock_set_fixed_ms) and
 * monotonic time.  Everything that needs "now" asks here, so a test can move
 * the world by setting one value.  No allocation; nothing to free. */
#include "clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

static bool fixed;
static int64_t fixed_ms;

int64_t clock_now_ms(void)
{
    if (fixed)
        return fixed_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_mono_ms(void)
{
    return clock_mono_us() / 1000u;
}

void clock_set_fixed_ms(int64_t epoch_ms)
{
    fixed = true;
    fixed_ms = epoch_ms;
}

void clock_set_real(void)
{
    fixed = false;
}

void clock_fmt_iso(int64_t epoch_ms, char out[32])
{
    /* Floor division so times before 1970 still get 0..999 milliseconds. */
    int64_t sec = epoch_ms / 1000;
    int64_t ms = epoch_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* RFC 3339 has four-digit years; clamp, and give the compiler ranges. */
    long year = (long)tm.tm_year + 1900;
    if (year < 0)
        year = 0;
    if (year > 9999)
        year = 9999;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)year % 10000u, (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
             (unsigned)ms % 1000u);
}
