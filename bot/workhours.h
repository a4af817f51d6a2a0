/* workhours: time zones and working hours, for follow-the-sun handoffs and
 * the weekly review.  Zones are IANA names converted with the C library
 * (TZ + tzset, DST-correct); every function restores the process's TZ.
 * Pure functions of their arguments (time is passed in), so tests pin it.
 *
 * Rules: a working window is [start, end) local time on a weekday; a window
 * that crosses midnight (22:00-06:00) belongs to the day it starts, so a
 * Friday-night window runs into Saturday morning but none starts on a
 * Saturday or Sunday.  On DST days a window keeps its local clock times
 * (it is an hour shorter or longer in absolute time). */
#ifndef SIRT_WORKHOURS_H
#define SIRT_WORKHOURS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct cfg;

/* Call once at start, before any other thread exists: puts TZ in the
 * environment (":/etc/localtime" when unset, the same zone) so that later
 * zone switches only replace its value (see workhours.c). */
void wh_init(void);
/* Local civil time of epoch_ms in zone (NULL or "" = UTC). 0 or -1. */
int tz_local(const char *zone, int64_t epoch_ms, struct tm *out);
/* Epoch ms of a local civil time (mon 1-12).  In a DST gap: the first
 * instant after the gap; in an overlap: the earlier instant. */
int64_t tz_make(const char *zone, int year, int mon, int mday, int hour, int min);

struct wh {
    const char *tz;     /* IANA zone */
    int start_min;      /* minutes after local midnight */
    int end_min;        /* < start_min: across midnight */
};

/* True if t falls inside one of w's working windows. */
bool wh_in_hours(const struct wh *w, int64_t t);
/* End (epoch ms) of the window containing t; -1 if t is outside hours. */
int64_t wh_window_end(const struct wh *w, int64_t t);
/* The next window starting after t: start returned, *end set. */
int64_t wh_next_window(const struct wh *w, int64_t t, int64_t *end);

/* Among cfg->appsec (skipping `exclude`, may be NULL), the engineer in hours
 * at t whose window ends latest (the next timezone along the sun, or at
 * report time the one with most of the day left).  tzs[i] is the resolved
 * zone of appsec[i] (NULL = cfg->appsec[i].tz, else cfg->timezone).
 * Returns the index or -1 if nobody is in hours. */
int wh_pick_latest(const struct cfg *cfg, const char *const *tzs, const char *exclude, int64_t t);

/* Next moment strictly after t that is weekday wday (0 = Sunday .. 6) at
 * hour:min local time in zone (weekly review: Monday 09:00). */
int64_t wh_next_weekly(const char *zone, int64_t t, int wday, int hour, int min);

#endif
