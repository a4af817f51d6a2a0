/* fuzz_workhours: the working-hours parser and the zone arithmetic behind
 * follow-the-sun handoffs.  Input text: "<zone> <HH:MM-HH:MM> <epoch ms>"
 * (whitespace separated; missing parts take a default).  The hours go
 * through cfg_parse_hours, the zone through cfg_zone_exists (as the config
 * loader does), then every workhours entry point runs at that instant,
 * including wh_pick_latest over a one-engineer config.  Owns nothing
 * across inputs (workhours keeps a small zone cache of its own). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/util.h"
#include "../bot/workhours.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Next whitespace-separated word of *p (advanced), copied into out. */
static const char *word(const char **p, char *out, size_t outlen)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != '\t' && s[n] != '\n' && s[n] != '\r')
        n++;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
        s++;
    *p = s;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    if (size > 4096)
        return 0;
    char *text = xstrndup((const char *)data, size);
    const char *p = text;
    char zone[300], hours[64], when[64];
    word(&p, zone, sizeof(zone));
    word(&p, hours, sizeof(hours));
    word(&p, when, sizeof(when));
    int64_t t = when[0] ? (int64_t)strtoll(when, NULL, 10) : 1700000000000LL;

    int a = 9 * 60, b = 17 * 60;
    if (hours[0] && cfg_parse_hours(hours, &a, &b) != 0) {
        free(text);
        return 0;
    }
    if (a < 0 || a >= 1440 || b < 0 || b >= 1440 || a == b)
        __builtin_trap();      /* the parser's contract */
    if (!cfg_zone_exists(zone)) {
        free(text);
        return 0;
    }
    struct wh w = { .tz = zone, .start_min = a, .end_min = b };
    struct tm tm;
    (void)tz_local(zone, t, &tm);
    bool in = wh_in_hours(&w, t);
    int64_t end = wh_window_end(&w, t);
    if (in != (end >= 0) || (in && end <= t))
        __builtin_trap();
    int64_t nend = -1;
    int64_t next = wh_next_window(&w, t, &nend);
    if (next >= 0 && (next <= t || nend <= next))
        __builtin_trap();
    int64_t weekly = wh_next_weekly(zone, t, 1, a / 60, a % 60);
    if (weekly >= 0 && weekly <= t)
        __builtin_trap();
    (void)tz_make(zone, 2024, 3, 31, a / 60, a % 60);

    /* The same engineer through the config-level picker. */
    struct cfg c;
    memset(&c, 0, sizeof(c));
    struct cfg_appsec one = { .user = "U0APPSEC1", .tz = zone, .start_min = a, .end_min = b };
    c.appsec = &one;
    c.n_appsec = 1;
    c.timezone = "UTC";
    int pick = wh_pick_latest(&c, NULL, NULL, t);
    if (pick != (in ? 0 : -1))
        __builtin_trap();
    free(text);
    return 0;
}
