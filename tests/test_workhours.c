/* test_workhours: zone conversion around the 2026 DST changes (US: Mar 8,
 * Nov 1; EU: Mar 29, Oct 25), working windows (weekdays, across midnight),
 * picking the next engineer along the sun, the weekly review time, and that
 * the process TZ is always restored.  Expected instants come from timegm. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/config.h"
#include "../bot/workhours.h"
#include "test.h"

#define LA "America/Los_Angeles"
#define AMS "Europe/Amsterdam"
#define H(h, m) ((h) * 60 + (m))

static int64_t utc(int y, int mon, int d, int h, int mi)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi };
    return (int64_t)timegm(&tm) * 1000;
}

static void assert_local(const char *zone, int64_t t, int y, int mon, int d, int h, int mi)
{
    struct tm tm;
    ASSERT_EQ(tz_local(zone, t, &tm), 0);
    ASSERT_EQ(tm.tm_year + 1900, y);
    ASSERT_EQ(tm.tm_mon + 1, mon);
    ASSERT_EQ(tm.tm_mday, d);
    ASSERT_EQ(tm.tm_hour, h);
    ASSERT_EQ(tm.tm_min, mi);
}

TEST(wh_tz_local_basic)
{
    assert_local(LA, utc(2026, 1, 15, 20, 0), 2026, 1, 15, 12, 0);          /* PST */
    assert_local(LA, utc(2026, 7, 15, 20, 0), 2026, 7, 15, 13, 0);          /* PDT */
    assert_local(AMS, utc(2026, 1, 15, 23, 30), 2026, 1, 16, 0, 30);        /* CET */
    assert_local(AMS, utc(2026, 7, 15, 23, 30), 2026, 7, 16, 1, 30);        /* CEST */
    assert_local(NULL, utc(2026, 7, 15, 23, 30), 2026, 7, 15, 23, 30);
    assert_local("", utc(2026, 7, 15, 23, 30), 2026, 7, 15, 23, 30);
    assert_local("UTC", utc(2026, 7, 15, 23, 30), 2026, 7, 15, 23, 30);
    /* Milliseconds before the epoch floor to the previous second. */
    assert_local(NULL, -1, 1969, 12, 31, 23, 59);
    struct tm tm;
    ASSERT_EQ(tz_local("Mars/Olympus", 0, &tm), -1);
    ASSERT_EQ(tz_local("../etc/passwd", 0, &tm), -1);
    ASSERT_EQ(tz_make("Mars/Olympus", 2026, 1, 1, 0, 0), -1);
}

TEST(wh_tz_make_plain)
{
    ASSERT_EQ(tz_make(LA, 2026, 1, 15, 12, 0), utc(2026, 1, 15, 20, 0));
    ASSERT_EQ(tz_make(LA, 2026, 7, 15, 13, 0), utc(2026, 7, 15, 20, 0));
    ASSERT_EQ(tz_make(AMS, 2026, 1, 16, 0, 30), utc(2026, 1, 15, 23, 30));
    ASSERT_EQ(tz_make(NULL, 2026, 11, 23, 16, 29), utc(2026, 11, 23, 16, 29));
    /* Fields normalise like mktime: Dec 32 = Jan 1, month 13 = next January. */
    ASSERT_EQ(tz_make(AMS, 2026, 12, 32, 9, 0), tz_make(AMS, 2027, 1, 1, 9, 0));
    ASSERT_EQ(tz_make(AMS, 2026, 13, 1, 9, 0), tz_make(AMS, 2027, 1, 1, 9, 0));
    ASSERT_EQ(tz_make(AMS, 2026, 3, 1, 24, 0), tz_make(AMS, 2026, 3, 2, 0, 0));
}

TEST(wh_tz_make_gap)
{
    /* US spring forward 2026-03-08 02:00 PST -> 03:00 PDT (10:00 UTC). */
    ASSERT_EQ(tz_make(LA, 2026, 3, 8, 1, 59), utc(2026, 3, 8, 9, 59));
    ASSERT_EQ(tz_make(LA, 2026, 3, 8, 2, 0), utc(2026, 3, 8, 10, 0));
    ASSERT_EQ(tz_make(LA, 2026, 3, 8, 2, 30), utc(2026, 3, 8, 10, 0));
    ASSERT_EQ(tz_make(LA, 2026, 3, 8, 2, 59), utc(2026, 3, 8, 10, 0));
    ASSERT_EQ(tz_make(LA, 2026, 3, 8, 3, 0), utc(2026, 3, 8, 10, 0));
    ASSERT_EQ(tz_make(LA, 2026, 3, 8, 3, 30), utc(2026, 3, 8, 10, 30));
    assert_local(LA, tz_make(LA, 2026, 3, 8, 2, 30), 2026, 3, 8, 3, 0);
    /* EU 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC). */
    ASSERT_EQ(tz_make(AMS, 2026, 3, 29, 1, 59), utc(2026, 3, 29, 0, 59));
    ASSERT_EQ(tz_make(AMS, 2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 0));
    ASSERT_EQ(tz_make(AMS, 2026, 3, 29, 3, 0), utc(2026, 3, 29, 1, 0));
    assert_local(AMS, tz_make(AMS, 2026, 3, 29, 2, 30), 2026, 3, 29, 3, 0);
}

TEST(wh_tz_make_overlap)
{
    /* US fall back 2026-11-01 02:00 PDT -> 01:00 PST: 01:30 happens at 08:30
     * and 09:30 UTC; the earlier one is meant. */
    ASSERT_EQ(tz_make(LA, 2026, 11, 1, 1, 30), utc(2026, 11, 1, 8, 30));
    ASSERT_EQ(tz_make(LA, 2026, 11, 1, 0, 59), utc(2026, 11, 1, 7, 59));
    ASSERT_EQ(tz_make(LA, 2026, 11, 1, 2, 0), utc(2026, 11, 1, 10, 0));
    assert_local(LA, utc(2026, 11, 1, 8, 30), 2026, 11, 1, 1, 30);
    assert_local(LA, utc(2026, 11, 1, 9, 30), 2026, 11, 1, 1, 30);
    /* EU 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 at 00:30 and 01:30 UTC. */
    ASSERT_EQ(tz_make(AMS, 2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30));
    ASSERT_EQ(tz_make(AMS, 2026, 10, 25, 2, 0), utc(2026, 10, 25, 0, 0));
    ASSERT_EQ(tz_make(AMS, 2026, 10, 25, 3, 0), utc(2026, 10, 25, 2, 0));
}

/* A 09:00-17:00 window ends at 17:00 local on both sides of each change. */
TEST(wh_window_end_across_dst)
{
    struct wh la = { LA, H(9, 0), H(17, 0) }, ams = { AMS, H(9, 0), H(17, 0) };
    /* US spring: Fri Mar 6 (PST) and Mon Mar 9 (PDT). */
    ASSERT_EQ(wh_window_end(&la, utc(2026, 3, 6, 20, 0)), utc(2026, 3, 7, 1, 0));
    ASSERT_EQ(wh_window_end(&la, utc(2026, 3, 9, 20, 0)), utc(2026, 3, 10, 0, 0));
    /* US fall: Fri Oct 30 (PDT) and Mon Nov 2 (PST). */
    ASSERT_EQ(wh_window_end(&la, utc(2026, 10, 30, 20, 0)), utc(2026, 10, 31, 0, 0));
    ASSERT_EQ(wh_window_end(&la, utc(2026, 11, 2, 20, 0)), utc(2026, 11, 3, 1, 0));
    /* EU spring: Fri Mar 27 (CET) and Mon Mar 30 (CEST). */
    ASSERT_EQ(wh_window_end(&ams, utc(2026, 3, 27, 12, 0)), utc(2026, 3, 27, 16, 0));
    ASSERT_EQ(wh_window_end(&ams, utc(2026, 3, 30, 12, 0)), utc(2026, 3, 30, 15, 0));
    /* EU fall: Fri Oct 23 (CEST) and Mon Oct 26 (CET). */
    ASSERT_EQ(wh_window_end(&ams, utc(2026, 10, 23, 12, 0)), utc(2026, 10, 23, 15, 0));
    ASSERT_EQ(wh_window_end(&ams, utc(2026, 10, 26, 12, 0)), utc(2026, 10, 26, 16, 0));
    /* [start, end): the first millisecond is in, the end is out. */
    ASSERT(wh_in_hours(&ams, utc(2026, 10, 26, 8, 0)));
    ASSERT(!wh_in_hours(&ams, utc(2026, 10, 26, 8, 0) - 1));
    ASSERT(wh_in_hours(&ams, utc(2026, 10, 26, 16, 0) - 1));
    ASSERT(!wh_in_hours(&ams, utc(2026, 10, 26, 16, 0)));
    ASSERT_EQ(wh_window_end(&ams, utc(2026, 10, 26, 16, 0)), -1);
    /* Between the US and EU changes LA is 8 hours behind, not 9. */
    ASSERT(wh_in_hours(&la, utc(2026, 3, 25, 16, 0)));   /* 09:00 PDT */
    ASSERT(!wh_in_hours(&la, utc(2026, 3, 25, 15, 59))); /* 08:59 PDT */
}

/* Hours across midnight in Amsterdam, November 2026 (CET): Fri 6, Sat 7,
 * Sun 8, Mon 9. */
TEST(wh_across_midnight)
{
    struct wh w = { AMS, H(22, 0), H(6, 0) };
    ASSERT(wh_in_hours(&w, tz_make(AMS, 2026, 11, 6, 23, 0)));  /* Friday night */
    ASSERT_EQ(wh_window_end(&w, tz_make(AMS, 2026, 11, 6, 23, 0)), tz_make(AMS, 2026, 11, 7, 6, 0));
    ASSERT(wh_in_hours(&w, tz_make(AMS, 2026, 11, 7, 3, 0)));   /* Friday's window */
    ASSERT_EQ(wh_window_end(&w, tz_make(AMS, 2026, 11, 7, 3, 0)), utc(2026, 11, 7, 5, 0));
    ASSERT(!wh_in_hours(&w, tz_make(AMS, 2026, 11, 7, 6, 0)));
    ASSERT(!wh_in_hours(&w, tz_make(AMS, 2026, 11, 7, 23, 0))); /* Saturday night */
    ASSERT(!wh_in_hours(&w, tz_make(AMS, 2026, 11, 8, 3, 0)));
    ASSERT(!wh_in_hours(&w, tz_make(AMS, 2026, 11, 8, 23, 0))); /* Sunday night */
    ASSERT(!wh_in_hours(&w, tz_make(AMS, 2026, 11, 9, 3, 0)));  /* Sunday's window */
    ASSERT(!wh_in_hours(&w, tz_make(AMS, 2026, 11, 9, 21, 59)));
    ASSERT(wh_in_hours(&w, tz_make(AMS, 2026, 11, 9, 22, 0)));  /* Monday night */
    ASSERT(wh_in_hours(&w, tz_make(AMS, 2026, 11, 10, 3, 0)));
    ASSERT(wh_in_hours(&w, tz_make(AMS, 2026, 11, 13, 23, 0))); /* Friday again */

    int64_t end = 0;
    ASSERT_EQ(wh_next_window(&w, tz_make(AMS, 2026, 11, 7, 12, 0), &end),
              tz_make(AMS, 2026, 11, 9, 22, 0));
    ASSERT_EQ(end, tz_make(AMS, 2026, 11, 10, 6, 0));
    /* Inside Friday's window, the next one to start is Monday's. */
    ASSERT_EQ(wh_next_window(&w, tz_make(AMS, 2026, 11, 7, 3, 0), NULL),
              tz_make(AMS, 2026, 11, 9, 22, 0));
    /* Mid-week the next window is the same evening. */
    ASSERT_EQ(wh_next_window(&w, tz_make(AMS, 2026, 11, 10, 12, 0), &end),
              tz_make(AMS, 2026, 11, 10, 22, 0));
    ASSERT_EQ(end, tz_make(AMS, 2026, 11, 11, 6, 0));
}

TEST(wh_next_window_day_hours)
{
    struct wh la = { LA, H(9, 0), H(17, 0) };
    int64_t end = 0;
    /* Friday evening -> Monday morning, across the US spring change. */
    ASSERT_EQ(wh_next_window(&la, utc(2026, 3, 7, 2, 0), &end), utc(2026, 3, 9, 16, 0));
    ASSERT_EQ(end, utc(2026, 3, 10, 0, 0));
    /* Starting exactly at a window start: the next one ("after t"). */
    ASSERT_EQ(wh_next_window(&la, utc(2026, 3, 9, 16, 0), &end), utc(2026, 3, 10, 16, 0));
    ASSERT_EQ(wh_next_window(&la, utc(2026, 3, 9, 16, 0) - 1, &end), utc(2026, 3, 9, 16, 0));
    /* Bad inputs. */
    struct wh bad_zone = { "Mars/Olympus", H(9, 0), H(17, 0) };
    struct wh bad_hours = { LA, H(9, 0), H(9, 0) };
    struct wh bad_range = { LA, -1, H(9, 0) };
    ASSERT_EQ(wh_next_window(&bad_zone, 0, &end), -1);
    ASSERT_EQ(end, -1);
    ASSERT_EQ(wh_next_window(&bad_hours, 0, NULL), -1);
    ASSERT(!wh_in_hours(&bad_range, utc(2026, 3, 9, 18, 0)));
    ASSERT(!wh_in_hours(&bad_zone, utc(2026, 3, 9, 18, 0)));
    ASSERT(!wh_in_hours(NULL, 0));
}

/* ---- wh_pick_latest ---- */

static struct cfg_appsec eng(const char *user, const char *tz, int start, int end)
{
    struct cfg_appsec a = { .user = (char *)user, .tz = (char *)tz,
                            .start_min = start, .end_min = end };
    return a;
}

static struct cfg team(struct cfg_appsec *a, size_t n)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    c.timezone = (char *)"UTC";
    c.appsec = a;
    c.n_appsec = n;
    return c;
}

TEST(wh_pick_sun)
{
    struct cfg_appsec a[2] = { eng("U0LA", LA, H(9, 0), H(17, 0)),
                               eng("U0AMS", AMS, H(9, 0), H(17, 0)) };
    struct cfg c = team(a, 2);
    /* Wednesday 2026-06-10 16:00 UTC: 09:00 PDT (in), 18:00 CEST (out). */
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, utc(2026, 6, 10, 16, 0)), 0);
    ASSERT_EQ(wh_pick_latest(&c, NULL, "U0LA", utc(2026, 6, 10, 16, 0)), -1);
    /* Wednesday 2026-11-04 16:00 UTC: 08:00 PST, 17:00 CET: nobody. */
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, utc(2026, 11, 4, 16, 0)), -1);
    /* 15:59 UTC: only Amsterdam (16:59 CET). */
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, utc(2026, 11, 4, 15, 59)), 1);
    ASSERT_EQ(wh_pick_latest(&c, NULL, "U0AMS", utc(2026, 11, 4, 15, 59)), -1);
    ASSERT_EQ(wh_pick_latest(NULL, NULL, NULL, 0), -1);
}

TEST(wh_pick_later_end_wins)
{
    /* Amsterdam first in the list so the index cannot decide. */
    struct cfg_appsec a[3] = { eng("U0AMS", AMS, H(9, 0), H(19, 0)),
                               eng("U0LA", LA, H(9, 0), H(17, 0)),
                               eng("U0LA2", LA, H(9, 0), H(17, 0)) };
    struct cfg c = team(a, 3);
    /* Wed 2026-11-04 17:30 UTC: 18:30 CET (ends 18:00 UTC), 09:30 PST
     * (ends 01:00 UTC): LA; its twin ties and loses on index. */
    int64_t t = utc(2026, 11, 4, 17, 30);
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, t), 1);
    ASSERT_EQ(wh_pick_latest(&c, NULL, "U0LA", t), 2);
    ASSERT_EQ(wh_pick_latest(&c, NULL, "U0AMS", t), 1);
    c.n_appsec = 1;
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, t), 0);
}

TEST(wh_pick_weekends)
{
    /* Sat 2026-11-07 00:30 UTC: Friday 16:30 in LA, Saturday 01:30 in
     * Amsterdam, whose long hours would otherwise cover it. */
    struct cfg_appsec a[2] = { eng("U0AMS", AMS, H(0, 30), H(23, 30)),
                               eng("U0LA", LA, H(9, 0), H(17, 0)) };
    struct cfg c = team(a, 2);
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, utc(2026, 11, 7, 0, 30)), 1);
    ASSERT_EQ(wh_pick_latest(&c, NULL, "U0LA", utc(2026, 11, 7, 0, 30)), -1);
    /* Mon 2026-11-09 07:00 UTC: Monday 08:00 in Amsterdam, Sunday 23:00 in
     * LA, whose night hours would cover it on a weekday. */
    struct cfg_appsec b[2] = { eng("U0LA", LA, H(22, 0), H(6, 0)),
                               eng("U0AMS", AMS, H(8, 0), H(17, 0)) };
    struct cfg d = team(b, 2);
    ASSERT_EQ(wh_pick_latest(&d, NULL, NULL, utc(2026, 11, 9, 7, 0)), 1);
    ASSERT_EQ(wh_pick_latest(&d, NULL, "U0AMS", utc(2026, 11, 9, 7, 0)), -1);
    /* A day later (Tuesday 08:00 CET) LA's Monday night is in hours too,
     * but ends first (06:00 PST = 14:00 UTC, Amsterdam 16:00 UTC). */
    ASSERT_EQ(wh_pick_latest(&d, NULL, NULL, utc(2026, 11, 10, 7, 0)), 1);
    ASSERT_EQ(wh_pick_latest(&d, NULL, "U0AMS", utc(2026, 11, 10, 7, 0)), 0);
}

TEST(wh_pick_resolved_zones)
{
    /* tz NULL in config: tzs[i] (from Slack) decides, else cfg->timezone. */
    struct cfg_appsec a[2] = { eng("U0A", NULL, H(9, 0), H(17, 0)),
                               eng("U0B", NULL, H(9, 0), H(17, 0)) };
    struct cfg c = team(a, 2);
    int64_t t = utc(2026, 6, 10, 16, 0);   /* 16:00 UTC, 09:00 PDT, 18:00 CEST */
    ASSERT_EQ(wh_pick_latest(&c, NULL, NULL, t), 0);          /* both UTC: tie */
    const char *tzs[2] = { AMS, LA };
    ASSERT_EQ(wh_pick_latest(&c, tzs, NULL, t), 1);
    const char *tzs2[2] = { NULL, AMS };
    ASSERT_EQ(wh_pick_latest(&c, tzs2, NULL, t), 0);          /* UTC vs out */
    c.timezone = (char *)AMS;
    ASSERT_EQ(wh_pick_latest(&c, tzs2, NULL, t), -1);
    /* A config tz is used when tzs[i] is NULL. */
    a[0].tz = (char *)LA;
    ASSERT_EQ(wh_pick_latest(&c, tzs2, NULL, t), 0);
}

/* ---- wh_next_weekly ---- */

TEST(wh_next_weekly_dst)
{
    /* Monday 09:00 Amsterdam: 08:00 UTC in CET, 07:00 UTC in CEST. */
    int64_t mar23 = utc(2026, 3, 23, 8, 0), mar30 = utc(2026, 3, 30, 7, 0);
    ASSERT_EQ(wh_next_weekly(AMS, mar23 - 1, 1, 9, 0), mar23);
    ASSERT_EQ(wh_next_weekly(AMS, mar23, 1, 9, 0), mar30);      /* strictly after */
    ASSERT_EQ(wh_next_weekly(AMS, utc(2026, 3, 28, 12, 0), 1, 9, 0), mar30);
    ASSERT_EQ(wh_next_weekly(AMS, utc(2026, 10, 19, 8, 0), 1, 9, 0), utc(2026, 10, 26, 8, 0));
    ASSERT_EQ(wh_next_weekly(AMS, utc(2026, 10, 25, 23, 0), 1, 9, 0), utc(2026, 10, 26, 8, 0));
    /* Sunday 23:30 UTC is already Monday 00:30 in Amsterdam. */
    ASSERT_EQ(wh_next_weekly(AMS, utc(2026, 11, 8, 23, 30), 1, 9, 0), utc(2026, 11, 9, 8, 0));
    /* UTC default; Sunday in a gap lands on the transition. */
    ASSERT_EQ(wh_next_weekly(NULL, utc(2026, 11, 23, 9, 0), 1, 9, 0), utc(2026, 11, 30, 9, 0));
    ASSERT_EQ(wh_next_weekly(LA, utc(2026, 3, 2, 0, 0), 0, 2, 30), utc(2026, 3, 8, 10, 0));
    ASSERT_EQ(wh_next_weekly(AMS, 0, 7, 9, 0), -1);
    ASSERT_EQ(wh_next_weekly(AMS, 0, 1, 24, 0), -1);
    ASSERT_EQ(wh_next_weekly("Mars/Olympus", 0, 1, 9, 0), -1);
}

/* ---- the process TZ is left as it was ---- */

TEST(wh_restores_tz)
{
    struct wh ams = { AMS, H(9, 0), H(17, 0) };
    struct tm tm;
    time_t t0 = (time_t)(utc(2026, 7, 15, 0, 0) / 1000);

    ASSERT_EQ(setenv("TZ", "Asia/Tokyo", 1), 0);
    tzset();
    ASSERT_EQ(tz_local(LA, utc(2026, 7, 15, 0, 0), &tm), 0);
    ASSERT_EQ(tz_make(AMS, 2026, 3, 29, 2, 30), utc(2026, 3, 29, 1, 0));
    (void)wh_in_hours(&ams, utc(2026, 7, 15, 10, 0));
    (void)wh_next_weekly(LA, 0, 1, 9, 0);
    ASSERT_STR_EQ(getenv("TZ"), "Asia/Tokyo");
    ASSERT_NOT_NULL(localtime_r(&t0, &tm));
    ASSERT_EQ(tm.tm_hour, 9);                       /* JST */
    /* A call in the process's own zone works and changes nothing. */
    assert_local("Asia/Tokyo", utc(2026, 7, 15, 0, 0), 2026, 7, 15, 9, 0);
    ASSERT_STR_EQ(getenv("TZ"), "Asia/Tokyo");

    ASSERT_EQ(unsetenv("TZ"), 0);
    tzset();
    ASSERT_EQ(tz_local(AMS, 0, &tm), 0);
    ASSERT_EQ(tz_make(LA, 2026, 11, 1, 1, 30), utc(2026, 11, 1, 8, 30));
    ASSERT_NULL(getenv("TZ"));
    /* A failed call (unknown zone) leaves it alone too. */
    ASSERT_EQ(tz_local("Mars/Olympus", 0, &tm), -1);
    ASSERT_NULL(getenv("TZ"));
}

/* Many calls, alternating zones, stay consistent. */
TEST(wh_many_calls)
{
    struct wh la = { LA, H(9, 0), H(17, 0) }, ams = { AMS, H(9, 0), H(17, 0) };
    int64_t t = utc(2026, 1, 1, 0, 0);
    int in_la = 0, in_ams = 0;
    for (int i = 0; i < 24 * 14; i++, t += 3600 * 1000LL) {
        in_la += wh_in_hours(&la, t);
        in_ams += wh_in_hours(&ams, t);
    }
    /* Two weeks from Thu 2026-01-01: 10 weekdays x 8 hours each. */
    ASSERT_EQ(in_la, 80);
    ASSERT_EQ(in_ams, 80);
}
