/* config: what a struct cfg is worth to its readers — the lookups
 * handlers use (components, appsec engineers, GitLab users, id lists) and
 * the rules its values follow, shared by the environment and the team file:
 * the one-line error writer, user values quoted safely in messages,
 * character classes, Slack ids, time zones (a TZif file under TZDIR) and
 * working hours.  Loading is in config_load.c.  Nothing here allocates. */
#include "config.h"
#include "config_shared.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void cfg__set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *cfg__show(const char *s, char out[SHOW_MAX + 8])
{
    size_t o = 0, i = 0;
    for (; s && s[i] && o < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else {
            out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        }
    }
    if (s && s[i]) {            /* cut: at most SHOW_MAX + 1 bytes so far */
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* ---- small validators shared by the environment and the team file ---- */

bool cfg__all_chars(const char *s, bool (*ok)(unsigned char))
{
    for (; *s; s++)
        if (!ok((unsigned char)*s))
            return false;
    return true;
}

static bool upper_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool cfg__alnum(unsigned char c)
{
    return upper_alnum(c) || (c >= 'a' && c <= 'z');
}

static bool zone_char(unsigned char c)
{
    return cfg__alnum(c) || c == '/' || c == '_' || c == '+' || c == '-';
}

bool cfg__component_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool cfg__gitlab_user_char(unsigned char c)
{
    return cfg__alnum(c) || c == '_' || c == '.' || c == '-';
}

bool cfg__printable_nonspace(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

bool cfg__slack_id(const char *s, const char *first)
{
    size_t n = strlen(s);
    return n >= 3 && n <= 32 && strchr(first, s[0]) && cfg__all_chars(s + 1, upper_alnum);
}

bool cfg_zone_exists(const char *zone)
{
    if (!zone || !*zone || strlen(zone) > ZONE_MAX || zone[0] == '/' || strstr(zone, "..") ||
        !cfg__all_chars(zone, zone_char))
        return false;
    if (strcmp(zone, "UTC") == 0)
        return true;            /* glibc knows UTC even without tzdata */
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[PATH_MAX_LEN + ZONE_MAX + 2];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, zone) >= sizeof(path))
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    char magic[4];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

static int two_digits(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static int parse_hhmm(const char *s)
{
    int h = two_digits(s), m = two_digits(s + 3);
    if (h < 0 || s[2] != ':' || m < 0 || h > 23 || m > 59)
        return -1;
    return h * 60 + m;
}

int cfg_parse_hours(const char *s, int *start_min, int *end_min)
{
    if (!s || strlen(s) != 11 || s[5] != '-')
        return -1;
    int a = parse_hhmm(s), b = parse_hhmm(s + 6);
    if (a < 0 || b < 0 || a == b)
        return -1;
    if (start_min)
        *start_min = a;
    if (end_min)
        *end_min = b;
    return 0;
}

/* ---- lookups ---- */

const struct cfg_component *cfg_component(const struct cfg *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->n_components; i++)
        if (c->components[i].name && strcmp(c->components[i].name, name) == 0)
            return &c->components[i];
    return NULL;
}

const struct cfg_appsec *cfg_appsec_user(const struct cfg *c, const char *user)
{
    if (!c || !user)
        return NULL;
    for (size_t i = 0; i < c->n_appsec; i++)
        if (c->appsec[i].user && strcmp(c->appsec[i].user, user) == 0)
            return &c->appsec[i];
    return NULL;
}

const char *cfg_gitlab_user(const struct cfg *c, const char *user)
{
    const struct cfg_appsec *a = cfg_appsec_user(c, user);
    if (a && a->gitlab)
        return a->gitlab;
    for (size_t i = 0; c && user && i < c->n_gitlab_users; i++)
        if (strcmp(c->gitlab_users[i].user, user) == 0)
            return c->gitlab_users[i].gitlab;
    return NULL;
}

bool cfg_strv_has(const struct cfg_strv *v, const char *s)
{
    if (!v || !s)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i] && strcmp(v->v[i], s) == 0)
            return true;
    return false;
}
