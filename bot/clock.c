/* clock: wall time (real, pinned by tests through clock_set_fixed_ms, or
 * started from a file by clock_load_file and running on) and monotonic time.
 * Everything that needs "now" asks here, so a test can move the world by
 * setting one value.  No allocation; nothing to free. */
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum clock_mode { CLOCK_REAL, CLOCK_FIXED, CLOCK_FILE };

/* Read by every thread (the loop and the store thread), changed by the loop
 * (SIGUSR1) and by unit tests: guarded by one lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum clock_mode mode = CLOCK_REAL;
static int64_t fixed_ms;        /* CLOCK_FIXED: the time; CLOCK_FILE: time at load */
static uint64_t loaded_mono_us; /* CLOCK_FILE: monotonic time at load */

int64_t clock_now_ms(void)
{
    pthread_mutex_lock(&lock);
    enum clock_mode m = mode;
    int64_t f = fixed_ms;
    uint64_t l = loaded_mono_us;
    pthread_mutex_unlock(&lock);
    if (m == CLOCK_FIXED)
        return f;
    if (m == CLOCK_FILE)
        return f + (int64_t)((clock_mono_us() - l) / 1000u);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_real_ms(void)
{
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
    pthread_mutex_lock(&lock);
    mode = CLOCK_FIXED;
    fixed_ms = epoch_ms;
    pthread_mutex_unlock(&lock);
}

void clock_set_real(void)
{
    pthread_mutex_lock(&lock);
    mode = CLOCK_REAL;
    pthread_mutex_unlock(&lock);
}

#define CLOCK_FILE_MAX 64

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n digits at s as a number, or -1. */
static int64_t digits(const char *s, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int64_t clock_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int64_t y, int64_t m)
{
    static const int md[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : md[m - 1];
}

/* Epoch milliseconds ("1795451340000") or RFC 3339 ("2026-11-23T16:29:00Z",
 * "2026-11-23T16:29:00.123Z", "2026-11-23T17:29:00+01:00"; fraction digits
 * past milliseconds are dropped).  0 or -1. */
static int parse_time(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    while (i < n && is_digit(s[i]))
        i++;
    if (i == n) {
        if (n == 0 || n > 15)   /* 15 digits: past year 30000, and no overflow */
            return -1;
        *out = digits(s, (int)n);
        return 0;
    }
    /* YYYY-MM-DDTHH:MM:SS */
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    int64_t y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int64_t h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 59 || d > month_days(y, mo))
        return -1;
    i = 19;
    int64_t ms = 0;
    if (i < n && s[i] == '.') {
        i++;
        size_t f0 = i;
        while (i < n && is_digit(s[i]) && i - f0 < 9)
            i++;
        if (i == f0)
            return -1;
        for (size_t k = 0; k < 3; k++)
            ms = ms * 10 + (f0 + k < i ? s[f0 + k] - '0' : 0);
    }
    int64_t off_s = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 <= n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int64_t oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        off_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t t = clock_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *out = t * 1000 + ms;
    return 0;
}

int clock_load_file(const char *path)
{
    if (!path)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    char text[CLOCK_FILE_MAX + 1];
    size_t n = 0;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    /* One byte more than allowed, to tell a full file from a too-long one;
     * each successful read makes progress, so this ends. */
    for (int tries = 0; ok && n < sizeof(text) && tries < 100; tries++) {
        ssize_t r = read(fd, text + n, sizeof(text) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ok = false;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!ok || n > CLOCK_FILE_MAX)
        return -1;
    size_t a = 0;
    while (a < n && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r' || text[a] == '\n'))
        a++;
    while (n > a && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r' ||
                     text[n - 1] == '\n'))
        n--;
    int64_t ms;
    if (parse_time(text + a, n - a, &ms) != 0)
        return -1;
    pthread_mutex_lock(&lock);
    fixed_ms = ms;
    loaded_mono_us = clock_mono_us();
    mode = CLOCK_FILE;
    pthread_mutex_unlock(&lock);
    return 0;
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
