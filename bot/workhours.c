/* workhours: IANA zone conversion and working windows (see workhours.h).
 * Each public call switches the process TZ to the zone once (setenv + tzset),
 * does all its conversions, and restores the previous TZ (or unsets it).
 * The C library answers instant -> local; local -> instant is solved here,
 * with DST gaps and overlaps resolved explicitly.  Threads: one switch at a
 * time (a lock from zone_enter to zone_leave), and TZ must already be in the
 * environment before any thread starts (wh_init), so that setenv only
 * replaces the value of an existing entry and never moves `environ` under a
 * concurrent getenv (libcurl's, say).  Nothing is allocated. */
#include "workhours.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"

#define DAY_S 86400
#define ZONE_NAME_MAX 128       /* longer names are refused */
#define ZONE_CACHE 16
#define SEARCH_DAYS 14          /* every forward search stops here */
#define BAD INT64_MIN

/* Civil-date arithmetic on day numbers (days since 1970-01-01, proleptic
 * Gregorian; the other way is clock_days_from_civil), so dates can be
 * stepped without going through the zone. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int weekday_of(int64_t day)     /* 0 = Sunday; 1970-01-01 was a Thursday */
{
    int64_t w = (day + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Local seconds (civil time counted as if it were UTC) must stay where
 * time_t, struct tm and the *1000 to milliseconds cannot overflow:
 * years 1..9999. */
#define LOCAL_MIN (-62135596800LL)
#define LOCAL_MAX (253402300799LL)

/* ---- switching the zone ---- */

/* Zones already checked against the zoneinfo files, so a lookup does not
 * open a file every call. */
static char zone_ok[ZONE_CACHE][ZONE_NAME_MAX];
static unsigned zone_ok_next;

/* The TZ value tzset() last ran with on our behalf ("" = unset/unknown). */
static char tz_loaded[ZONE_NAME_MAX];

/* Held from zone_enter to zone_leave: the process zone, the caches above. */
static pthread_mutex_t zone_lock = PTHREAD_MUTEX_INITIALIZER;

void wh_init(void)
{
    /* ":/etc/localtime" means what an unset TZ means to glibc. */
    if (!getenv("TZ"))
        setenv("TZ", ":/etc/localtime", 1);
}

static bool zone_valid(const char *zone)
{
    if (strlen(zone) >= ZONE_NAME_MAX)
        return false;
    for (size_t i = 0; i < ZONE_CACHE; i++)
        if (strcmp(zone_ok[i], zone) == 0)
            return true;
    if (!cfg_zone_exists(zone))
        return false;
    memcpy(zone_ok[zone_ok_next % ZONE_CACHE], zone, strlen(zone) + 1);
    zone_ok_next = (zone_ok_next + 1) % ZONE_CACHE;
    return true;
}

struct tzsave {
    bool changed;               /* TZ was switched and must be restored */
    bool had_old;
    char old[ZONE_NAME_MAX];
};

static void note_loaded(const char *v)
{
    if (v && strlen(v) < sizeof(tz_loaded))
        memcpy(tz_loaded, v, strlen(v) + 1);
    else
        tz_loaded[0] = '\0';
}

/* Makes `zone` (NULL or "" = UTC) the process's zone.  0 or -1 (unknown
 * zone, or a current TZ value too long to restore). */
static int zone_enter_locked(const char *zone, struct tzsave *s);

/* Takes zone_lock; on success zone_leave releases it. */
static int zone_enter(const char *zone, struct tzsave *s)
{
    pthread_mutex_lock(&zone_lock);
    int ret = zone_enter_locked(zone, s);
    if (ret != 0)
        pthread_mutex_unlock(&zone_lock);
    return ret;
}

static int zone_enter_locked(const char *zone, struct tzsave *s)
{
    const char *want = zone && *zone ? zone : "UTC";
    s->changed = false;
    if (!zone_valid(want))
        return -1;
    const char *cur = getenv("TZ");
    if (cur && strcmp(cur, want) == 0) {
        /* Already the process's zone: nothing to restore, and no tzset if
         * it is the one we last loaded. */
        if (strcmp(tz_loaded, want) != 0) {
            tzset();
            note_loaded(want);
        }
        return 0;
    }
    s->had_old = cur != NULL;
    if (cur) {
        size_t n = strlen(cur);
        if (n >= sizeof(s->old))
            return -1;
        memcpy(s->old, cur, n + 1);
    }
    if (setenv("TZ", want, 1) != 0)
        return -1;
    tzset();
    note_loaded(want);
    s->changed = true;
    return 0;
}

static void zone_leave(const struct tzsave *s)
{
    if (s->changed) {
        if (s->had_old)
            setenv("TZ", s->old, 1);
        else
            unsetenv("TZ");
        tzset();
        note_loaded(s->had_old ? s->old : NULL);
    }
    pthread_mutex_unlock(&zone_lock);
}

/* ---- conversions in the current zone ---- */

static bool local_at(int64_t t, struct tm *out)
{
    time_t tt = (time_t)t;
    return localtime_r(&tt, out) != NULL;
}

static bool offset_at(int64_t t, long *off)
{
    struct tm tm;
    if (!local_at(t, &tm))
        return false;
    *off = tm.tm_gmtoff;
    return true;
}

/* Day number of the local date of instant t (seconds), or BAD. */
static int64_t local_day(int64_t t)
{
    struct tm tm;
    if (!local_at(t, &tm))
        return BAD;
    return clock_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void add_offset(long *v, size_t *n, long o)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i] == o)
            return;
    v[(*n)++] = o;
}

/* Instant (seconds) of local civil time L (local seconds).  An instant t
 * shows L exactly when t + offset(t) == L, so each candidate offset o gives
 * t = L - o, kept if converting back agrees.  The candidates are the zone's
 * offsets a day either side (a DST change lies between them) and the one
 * mktime chose.  Two solutions: overlap, take the earlier.  None: gap, take
 * the transition itself, found by bisection (mktime would instead shift by
 * the gap's length, e.g. 02:30 -> 03:30). */
static int64_t make_local(int64_t L)
{
    if (L < LOCAL_MIN + 2 * DAY_S || L > LOCAL_MAX - 2 * DAY_S)
        return BAD;
    long cand[3];
    size_t n = 0;
    long before, after;
    if (!offset_at(L - DAY_S, &before) || !offset_at(L + DAY_S, &after))
        return BAD;
    add_offset(cand, &n, before);
    add_offset(cand, &n, after);

    int64_t y;
    int mon, mday;
    int64_t day = floor_div(L, DAY_S), sec = L - day * DAY_S;
    civil_from_days(day, &y, &mon, &mday);
    struct tm tm = {
        .tm_year = (int)(y - 1900), .tm_mon = mon - 1, .tm_mday = mday,
        .tm_hour = (int)(sec / 3600), .tm_min = (int)(sec / 60 % 60), .tm_sec = (int)(sec % 60),
        .tm_isdst = -1,
    };
    if (mktime(&tm) != (time_t)-1)
        add_offset(cand, &n, tm.tm_gmtoff);

    int64_t best = BAD;
    for (size_t i = 0; i < n; i++) {
        int64_t t = L - cand[i];
        long o;
        if (offset_at(t, &o) && o == cand[i] && (best == BAD || t < best))
            best = t;
    }
    if (best != BAD)
        return best;

    /* Gap: the clock jumped from `before` to a larger `after`.  Invariant:
     * offset(a) == before, offset(b) != before; b ends as the transition. */
    if (after <= before)
        return BAD;
    int64_t a = L - after, b = L - before;
    for (int i = 0; i < 64 && b - a > 1; i++) {
        int64_t mid = a + (b - a) / 2;
        long o;
        if (!offset_at(mid, &o))
            return BAD;
        if (o == before)
            a = mid;
        else
            b = mid;
    }
    return b;
}

static int64_t make_day(int64_t day, int64_t min_of_day)
{
    if (day < LOCAL_MIN / DAY_S || day > LOCAL_MAX / DAY_S)
        return BAD;
    return make_local(day * DAY_S + min_of_day * 60);
}

/* ---- public: zones ---- */

int tz_local(const char *zone, int64_t epoch_ms, struct tm *out)
{
    struct tzsave s;
    if (!out || zone_enter(zone, &s) != 0)
        return -1;
    bool ok = local_at(floor_div(epoch_ms, 1000), out);
    zone_leave(&s);
    return ok ? 0 : -1;
}

int64_t tz_make(const char *zone, int year, int mon, int mday, int hour, int min)
{
    /* Out-of-range fields normalise as in mktime (mon 13 = next January). */
    int64_t m0 = (int64_t)mon - 1;
    int64_t y = (int64_t)year + floor_div(m0, 12);
    m0 -= floor_div(m0, 12) * 12;
    if (y < 1 || y > 9999)
        return -1;
    int64_t L = (clock_days_from_civil(y, m0 + 1, 1) + (int64_t)mday - 1) * DAY_S +
                (int64_t)hour * 3600 + (int64_t)min * 60;
    struct tzsave s;
    if (zone_enter(zone, &s) != 0)
        return -1;
    int64_t t = make_local(L);
    zone_leave(&s);
    return t == BAD ? -1 : t * 1000;
}

/* ---- public: working windows ---- */

static bool wh_valid(const struct wh *w)
{
    return w && w->start_min >= 0 && w->start_min < 1440 && w->end_min >= 0 &&
           w->end_min < 1440 && w->start_min != w->end_min;
}

/* The window that starts on local day `day`, in ms; false on a weekend. */
static bool day_window(const struct wh *w, int64_t day, int64_t *start, int64_t *end)
{
    int wd = weekday_of(day);
    if (wd == 0 || wd == 6)
        return false;
    int64_t s = make_day(day, w->start_min);
    int64_t e = make_day(w->end_min > w->start_min ? day : day + 1, w->end_min);
    if (s == BAD || e == BAD || e <= s)
        return false;
    *start = s * 1000;
    *end = e * 1000;
    return true;
}

/* End of the window containing t, or -1; the zone is already entered.  A
 * window containing t starts on t's local date or, across midnight, the
 * day before. */
static int64_t window_end_cur(const struct wh *w, int64_t t)
{
    int64_t d = local_day(floor_div(t, 1000));
    if (d == BAD)
        return -1;
    for (int64_t k = -1; k <= 0; k++) {
        int64_t s, e;
        if (day_window(w, d + k, &s, &e) && s <= t && t < e)
            return e;
    }
    return -1;
}

bool wh_in_hours(const struct wh *w, int64_t t)
{
    return wh_window_end(w, t) >= 0;
}

int64_t wh_window_end(const struct wh *w, int64_t t)
{
    struct tzsave s;
    if (!wh_valid(w) || zone_enter(w->tz, &s) != 0)
        return -1;
    int64_t e = window_end_cur(w, t);
    zone_leave(&s);
    return e;
}

int64_t wh_next_window(const struct wh *w, int64_t t, int64_t *end)
{
    struct tzsave s;
    if (end)
        *end = -1;
    if (!wh_valid(w) || zone_enter(w->tz, &s) != 0)
        return -1;
    int64_t found = -1, fend = -1;
    int64_t d = local_day(floor_div(t, 1000));
    for (int64_t k = -1; d != BAD && k <= SEARCH_DAYS; k++) {
        int64_t st, e;
        if (day_window(w, d + k, &st, &e) && st > t) {
            found = st;
            fend = e;
            break;
        }
    }
    zone_leave(&s);
    if (end)
        *end = fend;
    return found;
}

int wh_pick_latest(const struct cfg *cfg, const char *const *tzs, const char *exclude, int64_t t)
{
    if (!cfg || !cfg->appsec)
        return -1;
    int best = -1;
    int64_t best_end = -1;
    for (size_t i = 0; i < cfg->n_appsec && i < (size_t)INT_MAX; i++) {
        const struct cfg_appsec *a = &cfg->appsec[i];
        if (exclude && a->user && strcmp(a->user, exclude) == 0)
            continue;
        const char *zone = tzs && tzs[i] ? tzs[i] : a->tz ? a->tz : cfg->timezone;
        struct wh w = { .tz = zone, .start_min = a->start_min, .end_min = a->end_min };
        int64_t e = wh_window_end(&w, t);
        if (e >= 0 && e > best_end) {
            best = (int)i;
            best_end = e;
        }
    }
    return best;
}

int64_t wh_next_weekly(const char *zone, int64_t t, int wday, int hour, int min)
{
    if (wday < 0 || wday > 6 || hour < 0 || hour > 23 || min < 0 || min > 59)
        return -1;
    struct tzsave s;
    if (zone_enter(zone, &s) != 0)
        return -1;
    int64_t found = -1;
    int64_t d = local_day(floor_div(t, 1000));
    for (int64_t k = 0; d != BAD && k <= SEARCH_DAYS; k++) {
        if (weekday_of(d + k) != wday)
            continue;
        int64_t c = make_day(d + k, (int64_t)hour * 60 + min);
        if (c != BAD && c * 1000 > t) {
            found = c * 1000;
            break;
        }
    }
    zone_leave(&s);
    return found;
}
