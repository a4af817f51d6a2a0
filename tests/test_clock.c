/* test_clock: fixed and real wall time, and clock_load_file (epoch ms or
 * RFC 3339, running on from the moment it is read; a bad file changes
 * nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../bot/clock.h"
#include "test.h"

static int64_t utc_ms(int y, int mon, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };
    return (int64_t)timegm(&tm) * 1000;
}

/* Writes text to a fresh temp file; path out; caller unlinks. */
static void write_tmp(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/sirt_clock_XXXXXX");
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    size_t n = strlen(text);
    ASSERT_EQ(write(fd, text, n), (long long)n);
    close(fd);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int load_text(const char *text)
{
    char path[64];
    write_tmp(path, text);
    int rc = clock_load_file(path);
    unlink(path);
    return rc;
}

TEST(clock_fixed_and_real)
{
    clock_set_fixed_ms(1234);
    ASSERT_EQ(clock_now_ms(), 1234);
    clock_set_real();
    int64_t now = clock_now_ms();
    ASSERT_GE(now, utc_ms(2024, 1, 1, 0, 0, 0));
    char iso[32];
    clock_fmt_iso(utc_ms(2026, 11, 23, 3, 38, 9) + 123, iso);
    ASSERT_STR_EQ(iso, "2026-11-23T03:38:09.123Z");
}

TEST(clock_load_epoch_ms)
{
    int64_t want = utc_ms(2026, 11, 23, 16, 29, 0);
    char text[32];
    snprintf(text, sizeof(text), "%lld\n", (long long)want);
    ASSERT_EQ(load_text(text), 0);
    int64_t now = clock_now_ms();
    ASSERT_GE(now, want);
    ASSERT_LE(now, want + 1000);
    /* Surrounding whitespace is fine. */
    ASSERT_EQ(load_text("  1000\r\n"), 0);
    ASSERT_GE(clock_now_ms(), 1000);
    ASSERT_LE(clock_now_ms(), 2000);
}

TEST(clock_load_rfc3339)
{
    int64_t want = utc_ms(2026, 11, 23, 16, 29, 0);
    ASSERT_EQ(load_text("2026-11-23T16:29:00Z\n"), 0);
    ASSERT_GE(clock_now_ms(), want);
    ASSERT_LE(clock_now_ms(), want + 1000);
    ASSERT_EQ(load_text("2026-11-23T16:29:00.123Z"), 0);
    ASSERT_GE(clock_now_ms(), want + 123);
    ASSERT_LE(clock_now_ms(), want + 1123);
    ASSERT_EQ(load_text("2026-11-23T17:29:00+01:00"), 0);
    ASSERT_GE(clock_now_ms(), want);
    ASSERT_LE(clock_now_ms(), want + 1000);
    ASSERT_EQ(load_text("2024-02-29t00:00:00.5z"), 0);
    ASSERT_GE(clock_now_ms(), utc_ms(2024, 2, 29, 0, 0, 0) + 500);
    ASSERT_LE(clock_now_ms(), utc_ms(2024, 2, 29, 0, 0, 0) + 1500);
}

TEST(clock_file_time_runs_on)
{
    int64_t want = utc_ms(2026, 11, 23, 16, 29, 0);
    ASSERT_EQ(load_text("2026-11-23T16:29:00Z"), 0);
    int64_t a = clock_now_ms();
    sleep_ms(120);
    int64_t b = clock_now_ms();
    ASSERT_GE(b - a, 100);
    ASSERT_LE(b - want, 5000);
    /* Tests can still pin or release it. */
    clock_set_fixed_ms(42);
    ASSERT_EQ(clock_now_ms(), 42);
    clock_set_real();
    ASSERT_GE(clock_now_ms(), utc_ms(2024, 1, 1, 0, 0, 0));
}

TEST(clock_load_bad_file)
{
    static const char *const bad[] = {
        "", "\n", "abc", "12x", "-5", "2026-11-23", "2026-11-23T16:29:00",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-23T24:00:00Z",
        "2026-11-23T16:60:00Z", "2026-11-23T16:29:00.Z", "2026-11-23T16:29:00Zjunk",
        "2026-11-23T16:29:00+1:00", "1234567890123456",
        "0000000000000000000000000000000000000000000000000000000000000000001",
    };
    clock_set_fixed_ms(1234);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (load_text(bad[i]) != -1)
            TEST_FAIL("accepted \"%s\"", bad[i]);
        ASSERT_EQ(clock_now_ms(), 1234);
    }
    ASSERT_EQ(clock_load_file("/nonexistent/sirt-clock"), -1);
    ASSERT_EQ(clock_load_file("/tmp"), -1);     /* a directory */
    ASSERT_EQ(clock_load_file(NULL), -1);
    ASSERT_EQ(clock_now_ms(), 1234);
    clock_set_real();
}
