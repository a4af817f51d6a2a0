/* config: the environment table and the team config file (docs/configuration.md).  Both
 * are described by tables (name, field, default, validator) so the message
 * for a bad value is written once.  Every string in struct cfg is owned by it
 * and freed by cfg_finish().  Error messages never contain a secret: token
 * variables are named, never quoted. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "mask.h"
#include "util.h"

#define DEFAULT_CONFIG_PATH "sirt.json"
#define CONFIG_MAX_BYTES (1024 * 1024)
#define ZONE_MAX 255
#define PATH_MAX_LEN 256
#define SHOW_MAX 64

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A user-supplied value made safe to quote in a one-line message:
 * printable ASCII only, quotes and backslashes escaped, cut at SHOW_MAX. */
static const char *show(const char *s, char out[SHOW_MAX + 8])
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

static bool all_chars(const char *s, bool (*ok)(unsigned char))
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

static bool alnum(unsigned char c)
{
    return upper_alnum(c) || (c >= 'a' && c <= 'z');
}

static bool zone_char(unsigned char c)
{
    return alnum(c) || c == '/' || c == '_' || c == '+' || c == '-';
}

static bool component_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool gitlab_user_char(unsigned char c)
{
    return alnum(c) || c == '_' || c == '.' || c == '-';
}

static bool printable_nonspace(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

static bool slack_id(const char *s, const char *first)
{
    size_t n = strlen(s);
    return n >= 3 && n <= 32 && strchr(first, s[0]) && all_chars(s + 1, upper_alnum);
}

bool cfg_zone_exists(const char *zone)
{
    if (!zone || !*zone || strlen(zone) > ZONE_MAX || zone[0] == '/' || strstr(zone, "..") ||
        !all_chars(zone, zone_char))
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

/* ---- environment ---- */

struct env_spec;
typedef int (*env_check_fn)(struct cfg *c, const struct env_spec *e, char **val,
                            char *err, size_t errlen);

struct env_spec {
    const char *name;
    size_t off;             /* char * field in struct cfg, or SIZE_MAX */
    const char *def;        /* NULL = unset */
    bool required;
    env_check_fn check;     /* may rewrite *val; NULL = no check */
    const char *prefix;     /* for check_token */
    const char *what;       /* for check_token: "an app-level token" */
    const char *unset_help; /* for required variables */
};

static int check_secret(struct cfg *c, const struct env_spec *e, char **val,
                        char *err, size_t errlen)
{
    (void)c;
    if (!all_chars(*val, printable_nonspace)) {
        set_err(err, errlen, "%s contains whitespace or control characters "
                "(check for a trailing newline)", e->name);
        return -1;
    }
    return 0;
}

static int check_token(struct cfg *c, const struct env_spec *e, char **val,
                       char *err, size_t errlen)
{
    if (!str_starts(*val, e->prefix)) {
        /* Only the well-known prefix of the other token kind is named. */
        const char *other = str_starts(*val, "xoxb-") ? ", not a bot token (xoxb-...)"
                          : str_starts(*val, "xapp-") ? ", not an app-level token (xapp-...)"
                          : str_starts(*val, "xoxp-") ? ", not a user token (xoxp-...)" : "";
        set_err(err, errlen, "%s must be %s (%s...)%s", e->name, e->what, e->prefix, other);
        return -1;
    }
    return check_secret(c, e, val, err, errlen);
}

/* http:// or https:// with a host; trailing '/' removed. */
static int check_url(struct cfg *c, const struct env_spec *e, char **val,
                     char *err, size_t errlen)
{
    (void)c;
    char *v = *val;
    const char *rest = str_starts(v, "https://") ? v + 8 : str_starts(v, "http://") ? v + 7 : NULL;
    if (!rest || !*rest || *rest == '/' || !all_chars(v, printable_nonspace)) {
        set_err(err, errlen, "%s must be an http:// or https:// URL, e.g. %s", e->name,
                e->def ? e->def : "https://gitlab.example.com");
        return -1;
    }
    size_t n = strlen(v);
    while (n > (size_t)(rest - v) && v[n - 1] == '/')
        v[--n] = '\0';
    return 0;
}

/* host:port, host:port with host = name or IPv4, or [v6]:port. */
static int check_http(struct cfg *c, const struct env_spec *e, char **val,
                      char *err, size_t errlen)
{
    const char *v = *val;
    char shown[SHOW_MAX + 8];
    const char *host = v, *host_end, *port;
    if (v[0] == '[') {
        host = v + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            goto bad;
        port = host_end + 2;
    } else {
        host_end = strrchr(v, ':');
        if (!host_end || memchr(v, ':', (size_t)(host_end - v)))
            goto bad;
        port = host_end + 1;
    }
    if (host_end == host || !*port || strlen(port) > 5)
        goto bad;
    for (const char *h = host; h < host_end; h++)
        if (!alnum((unsigned char)*h) && *h != '.' && *h != '-' && *h != ':')
            goto bad;
    long p = 0;
    for (const char *q = port; *q; q++) {
        if (*q < '0' || *q > '9')
            goto bad;
        p = p * 10 + (*q - '0');
    }
    if (p < 1 || p > 65535) {
        set_err(err, errlen, "%s \"%s\": port must be 1..65535", e->name, show(v, shown));
        return -1;
    }
    c->http_host = xstrndup(host, (size_t)(host_end - host));
    c->http_port = (int)p;
    return 0;
bad:
    set_err(err, errlen, "%s \"%s\": expected host:port, e.g. 127.0.0.1:9102", e->name,
            show(v, shown));
    return -1;
}

static int check_log(struct cfg *c, const struct env_spec *e, char **val,
                     char *err, size_t errlen)
{
    char shown[SHOW_MAX + 8];
    int l = log_level_parse(*val);
    if (l < 0) {
        set_err(err, errlen, "%s \"%s\": expected debug, info, warn or error", e->name,
                show(*val, shown));
        return -1;
    }
    c->log_level = l;
    return 0;
}

/* A file path (SQLite) or a libpq URI (PostgreSQL).  Another scheme is a
 * mistake, not a file name: say so instead of creating a file named like it.
 * The value may hold a password: it is never repeated here. */
static int check_db(struct cfg *c, const struct env_spec *e, char **val, char *err, size_t errlen)
{
    (void)c;
    if (str_starts(*val, "postgres://") || str_starts(*val, "postgresql://"))
        return 0;
    if (strstr(*val, "://")) {
        set_err(err, errlen, "%s: expected a SQLite file path or a postgres:// (postgresql://) URI",
                e->name);
        return -1;
    }
    return 0;
}

/* Socket Mode keepalive: ping every N seconds, drop the socket after 3N
 * without a pong.  Only operators with unusual networks need to touch it. */
static int check_ping(struct cfg *c, const struct env_spec *e, char **val,
                      char *err, size_t errlen)
{
    char shown[SHOW_MAX + 8];
    char *end;
    long v = strtol(*val, &end, 10);
    if (end == *val || *end || v < 1 || v > 300) {
        set_err(err, errlen, "%s \"%s\": expected whole seconds 1..300", e->name, show(*val, shown));
        return -1;
    }
    c->ping_secs = (int)v;
    return 0;
}

/* Tests and drills only: multiplies the outbox's own delays (backoff, its
 * caps, the page announcement, give-up) so an outage plays out in seconds. */
static int check_backoff_scale(struct cfg *c, const struct env_spec *e, char **val,
                               char *err, size_t errlen)
{
    char shown[SHOW_MAX + 8];
    char *end;
    double v = strtod(*val, &end);
    if (end == *val || *end || !(v >= 0.0001 && v <= 1.0)) {
        set_err(err, errlen, "%s \"%s\": expected a factor from 0.0001 to 1 (tests and drills only)",
                e->name, show(*val, shown));
        return -1;
    }
    c->backoff_scale = v;
    return 0;
}

#define CFG_FIELD(f) offsetof(struct cfg, f)
#define NO_FIELD SIZE_MAX

static const struct env_spec env_table[] = {
    { "SLACK_APP_TOKEN", CFG_FIELD(slack_app_token), NULL, true, check_token,
      "xapp-", "an app-level token",
      "create an app-level token with connections:write (xapp-...) and export it" },
    { "SLACK_BOT_TOKEN", CFG_FIELD(slack_bot_token), NULL, true, check_token,
      "xoxb-", "a bot token",
      "install the app to the workspace and export its bot token (xoxb-...)" },
    { "SLACK_API_URL", CFG_FIELD(slack_api_url), "https://slack.com/api", false, check_url,
      NULL, NULL, NULL },
    { "PAGERDUTY_ROUTING_KEY", CFG_FIELD(pagerduty_routing_key), NULL, false, check_secret,
      NULL, NULL, NULL },
    { "PAGERDUTY_EVENTS_URL", CFG_FIELD(pagerduty_events_url),
      "https://events.pagerduty.com/v2/enqueue", false, check_url, NULL, NULL, NULL },
    { "PAGERDUTY_API_TOKEN", CFG_FIELD(pagerduty_api_token), NULL, false, check_secret,
      NULL, NULL, NULL },
    { "PAGERDUTY_API_URL", CFG_FIELD(pagerduty_api_url), "https://api.pagerduty.com", false,
      check_url, NULL, NULL, NULL },
    { "PAGERDUTY_ESCALATION_ROUTING_KEY", CFG_FIELD(pagerduty_escalation_routing_key), NULL, false,
      check_secret, NULL, NULL, NULL },
    { "GITLAB_URL", CFG_FIELD(gitlab_url), NULL, false, check_url, NULL, NULL, NULL },
    { "GITLAB_TOKEN", CFG_FIELD(gitlab_token), NULL, false, check_secret, NULL, NULL, NULL },
    { "SIRT_CONFIG", CFG_FIELD(config_path), DEFAULT_CONFIG_PATH, false, NULL, NULL, NULL, NULL },
    { "SIRT_DB", CFG_FIELD(db), CFG_DEFAULT_DB, false, check_db, NULL, NULL, NULL },
    { "SIRT_HTTP", NO_FIELD, NULL, false, check_http, NULL, NULL, NULL },
    { "SIRT_LOG", NO_FIELD, "info", false, check_log, NULL, NULL, NULL },
    { "SIRT_PING_SECS", NO_FIELD, "10", false, check_ping, NULL, NULL, NULL },
    { "SIRT_CLOCK_FILE", CFG_FIELD(clock_file), NULL, false, NULL, NULL, NULL, NULL },
    { "SIRT_TEST_BACKOFF_SCALE", NO_FIELD, "1", false, check_backoff_scale, NULL, NULL, NULL },
};

static int load_env(struct cfg *c, cfg_getenv_fn env, char *err, size_t errlen)
{
    for (size_t i = 0; i < ARRAY_LEN(env_table); i++) {
        const struct env_spec *e = &env_table[i];
        const char *raw = env(e->name);
        if (raw && !*raw)
            raw = NULL;         /* empty counts as unset */
        if (!raw && e->required) {
            set_err(err, errlen, "%s is not set: %s", e->name, e->unset_help);
            return -1;
        }
        if (!raw)
            raw = e->def;
        if (!raw)
            continue;
        char *val = xstrdup(raw);
        if (e->check && e->check(c, e, &val, err, errlen) < 0) {
            free(val);
            return -1;
        }
        if (e->off == NO_FIELD) {
            free(val);
        } else {
            char **field = (char **)(void *)((char *)c + e->off);
            free(*field);
            *field = val;
        }
    }
    return 0;
}

/* ---- team config ---- */

enum kind {
    K_ZONE, K_CHANNEL, K_USER, K_USERS, K_HOURS, K_NAME, K_GITLAB_USER, K_PD_ID,
    K_LEAD, K_WAIT, K_NSID, K_GIVE_UP, K_DAYS, K_OBJECT, K_OBJARRAY, K_USERMAP, K_PATTERNS,
};

static const char *const expect[] = {
    [K_ZONE] = "expected a time zone name like \"Europe/Amsterdam\"",
    [K_CHANNEL] = "expected a Slack channel id like \"C0123ABCD\"",
    [K_USER] = "expected a Slack user id like \"U0123ABCD\"",
    [K_USERS] = "expected an array of Slack user ids like [\"U0123ABCD\"]",
    [K_HOURS] = "expected a string like \"09:00-17:00\"",
    [K_NAME] = "expected a component name like \"gitaly\" (lowercase letters, digits, '_' or '-')",
    [K_GITLAB_USER] = "expected a GitLab username like \"alice\"",
    [K_PD_ID] = "expected a PagerDuty schedule id like \"PABC123\"",
    [K_LEAD] = "expected an integer from 0 to 720 (minutes)",
    [K_WAIT] = "expected an integer from 1 to 720 (minutes)",
    [K_NSID] = "expected a positive integer (the GitLab group id)",
    [K_GIVE_UP] = "expected an integer from 1 to 8760 (hours)",
    [K_DAYS] = "expected an integer from 1 to 36500 (days)",
    [K_OBJECT] = "expected an object",
    [K_OBJARRAY] = "expected an array of objects",
    [K_USERMAP] = "expected an object of Slack user ids to GitLab usernames, like {\"U0123ABCD\": \"alice\"}",
    [K_PATTERNS] = "expected an array of PCRE2 patterns like [\"ACME-[A-Z0-9]{24}\"]",
};

struct table;

struct key_spec {
    const char *key;
    enum kind kind;
    size_t off;                 /* into the record this table describes */
    size_t off2;                /* K_HOURS: end_min; K_OBJARRAY, K_USERMAP: count */
    bool required;
    const char *def;            /* K_ZONE, K_HOURS default when absent */
    long long idef;             /* K_LEAD default when absent */
    const struct table *sub;    /* K_OBJECT (same record), K_OBJARRAY (elements) */
};

struct table {
    const struct key_spec *keys;
    size_t n;
    size_t elem_size;           /* for K_OBJARRAY elements */
};

#define APPSEC(f) offsetof(struct cfg_appsec, f)
#define COMP(f) offsetof(struct cfg_component, f)

static const struct key_spec appsec_keys[] = {
    { "user", K_USER, APPSEC(user), 0, true, NULL, 0, NULL },
    { "tz", K_ZONE, APPSEC(tz), 0, false, NULL, 0, NULL },
    { "hours", K_HOURS, APPSEC(start_min), APPSEC(end_min), false, "09:00-17:00", 0, NULL },
    { "gitlab", K_GITLAB_USER, APPSEC(gitlab), 0, false, NULL, 0, NULL },
};
static const struct table appsec_table = { appsec_keys, ARRAY_LEN(appsec_keys),
                                           sizeof(struct cfg_appsec) };

static const struct key_spec component_keys[] = {
    { "name", K_NAME, COMP(name), 0, true, NULL, 0, NULL },
    { "em", K_USER, COMP(em), 0, false, NULL, 0, NULL },
    { "pm", K_USER, COMP(pm), 0, false, NULL, 0, NULL },
    { "channel", K_CHANNEL, COMP(channel), 0, false, NULL, 0, NULL },
    { "gitlab_em", K_GITLAB_USER, COMP(gitlab_em), 0, false, NULL, 0, NULL },
    { "gitlab_pm", K_GITLAB_USER, COMP(gitlab_pm), 0, false, NULL, 0, NULL },
};
static const struct table component_table = { component_keys, ARRAY_LEN(component_keys),
                                              sizeof(struct cfg_component) };

static const struct key_spec secops_keys[] = {
    { "pagerduty_schedule", K_PD_ID, CFG_FIELD(secops_schedule), 0, false, NULL, 0, NULL },
    { "fallback_user", K_USER, CFG_FIELD(secops_fallback_user), 0, false, NULL, 0, NULL },
};
static const struct table secops_table = { secops_keys, ARRAY_LEN(secops_keys), 0 };

static const struct key_spec handoff_keys[] = {
    { "lead_minutes", K_LEAD, CFG_FIELD(handoff_lead_minutes), 0, false, NULL, 30, NULL },
    { "accept_minutes", K_WAIT, CFG_FIELD(handoff_accept_minutes), 0, false, NULL, 30, NULL },
};
static const struct table handoff_table = { handoff_keys, ARRAY_LEN(handoff_keys), 0 };

static const struct key_spec decisions_keys[] = {
    { "validate_after_minutes", K_LEAD, CFG_FIELD(validate_after_minutes), 0, false, NULL, 240, NULL },
};
static const struct table decisions_table = { decisions_keys, ARRAY_LEN(decisions_keys), 0 };

static const struct key_spec gitlab_keys[] = {
    { "namespace_id", K_NSID, CFG_FIELD(gitlab_namespace_id), 0, false, NULL, 0, NULL },
};
static const struct table gitlab_table = { gitlab_keys, ARRAY_LEN(gitlab_keys), 0 };

static const struct key_spec outbox_keys[] = {
    { "give_up_hours", K_GIVE_UP, CFG_FIELD(outbox_give_up_hours), 0, false, NULL, 168, NULL },
};
static const struct table outbox_table = { outbox_keys, ARRAY_LEN(outbox_keys), 0 };
static const struct key_spec paging_keys[] = {
    { "ack_minutes", K_WAIT, CFG_FIELD(paging_ack_minutes), 0, false, NULL, 15, NULL },
};
static const struct table paging_table = { paging_keys, ARRAY_LEN(paging_keys), 0 };
/* retention.days: absent = keep forever (0). */
static const struct key_spec retention_keys[] = {
    { "days", K_DAYS, CFG_FIELD(retention_days), 0, false, NULL, 0, NULL },
};
static const struct table retention_table = { retention_keys, ARRAY_LEN(retention_keys), 0 };
static const struct key_spec mask_keys[] = {
    { "extra_patterns", K_PATTERNS, CFG_FIELD(mask_extra_patterns), 0, false, NULL, 0, NULL },
};
static const struct table mask_table = { mask_keys, ARRAY_LEN(mask_keys), 0 };

static const struct key_spec top_keys[] = {
    { "timezone", K_ZONE, CFG_FIELD(timezone), 0, false, "UTC", 0, NULL },
    { "sirt_channel", K_CHANNEL, CFG_FIELD(sirt_channel), 0, false, NULL, 0, NULL },
    { "sirt_team", K_USERS, CFG_FIELD(sirt_team), 0, false, NULL, 0, NULL },
    { "severity1_responders", K_USERS, CFG_FIELD(severity1_responders), 0, false, NULL, 0, NULL },
    { "directors", K_USERS, CFG_FIELD(directors), 0, false, NULL, 0, NULL },
    { "appsec", K_OBJARRAY, CFG_FIELD(appsec), CFG_FIELD(n_appsec), false, NULL, 0,
      &appsec_table },
    { "secops_oncall", K_OBJECT, 0, 0, false, NULL, 0, &secops_table },
    { "components", K_OBJARRAY, CFG_FIELD(components), CFG_FIELD(n_components), false, NULL, 0,
      &component_table },
    { "handoff", K_OBJECT, 0, 0, false, NULL, 0, &handoff_table },
    { "decisions", K_OBJECT, 0, 0, false, NULL, 0, &decisions_table },
    { "gitlab", K_OBJECT, 0, 0, false, NULL, 0, &gitlab_table },
    { "outbox", K_OBJECT, 0, 0, false, NULL, 0, &outbox_table },
    { "paging", K_OBJECT, 0, 0, false, NULL, 0, &paging_table },
    { "gitlab_users", K_USERMAP, CFG_FIELD(gitlab_users), CFG_FIELD(n_gitlab_users), false, NULL, 0, NULL },
    { "mask", K_OBJECT, 0, 0, false, NULL, 0, &mask_table },
    { "retention", K_OBJECT, 0, 0, false, NULL, 0, &retention_table },
};
static const struct table top_table = { top_keys, ARRAY_LEN(top_keys), 0 };

struct pctx {
    const char *name;           /* file name for messages */
    char *err;
    size_t errlen;
};

static int perr(struct pctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct pctx *x, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    set_err(x->err, x->errlen, "%s: %s", x->name, msg);
    return -1;
}

static void path_key(char *out, const char *parent, const char *key)
{
    char shown[SHOW_MAX + 8];
    if (snprintf(out, PATH_MAX_LEN, "%s%s%s", parent, *parent ? "." : "", show(key, shown)) < 0)
        out[0] = '\0';         /* paths are short; a cut one is still useful */
}

static void path_index(char *out, const char *parent, size_t i)
{
    if (snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i) < 0)
        out[0] = '\0';
}

static char **str_field(void *rec, size_t off)
{
    return (char **)(void *)((char *)rec + off);
}

static int bad_value(struct pctx *x, const char *path, enum kind k, const char *v)
{
    char shown[SHOW_MAX + 8];
    if (k == K_ZONE)
        return perr(x, "key \"%s\": unknown time zone \"%s\"", path, show(v, shown));
    return perr(x, "key \"%s\": invalid value \"%s\": %s", path, show(v, shown), expect[k]);
}

static bool string_ok(enum kind k, const char *v)
{
    switch (k) {
    case K_ZONE: return cfg_zone_exists(v);
    case K_CHANNEL: return slack_id(v, "CG");
    case K_USER: return slack_id(v, "UW");
    case K_HOURS: return cfg_parse_hours(v, NULL, NULL) == 0;
    case K_NAME: return *v && strlen(v) <= 64 && all_chars(v, component_char);
    case K_GITLAB_USER: return *v && strlen(v) <= 255 && all_chars(v, gitlab_user_char);
    case K_PD_ID: return *v && strlen(v) <= 32 && all_chars(v, alnum);
    default: return false;
    }
}

/* Integral number in [lo, hi]; doubles that are not whole numbers fail. */
static bool int_in(const cJSON *it, double lo, double hi, long long *out)
{
    if (!cJSON_IsNumber(it))
        return false;
    double d = it->valuedouble;
    if (!isfinite(d) || d < lo || d > hi || floor(d) != d)
        return false;
    *out = (long long)d;
    return true;
}

static int parse_object(struct pctx *x, const cJSON *obj, const struct table *t, void *rec,
                        const char *path);

static int parse_users(struct pctx *x, const cJSON *it, struct cfg_strv *sv, const char *path)
{
    if (!cJSON_IsArray(it))
        return perr(x, "key \"%s\": %s", path, expect[K_USERS]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    sv->v = xcalloc(n ? n : 1, sizeof(char *));
    sv->n = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        char p[PATH_MAX_LEN];
        path_index(p, path, sv->n);
        if (!cJSON_IsString(el))
            return perr(x, "key \"%s\": %s", p, expect[K_USER]);
        if (!string_ok(K_USER, el->valuestring))
            return bad_value(x, p, K_USER, el->valuestring);
        if (sv->n >= n)
            break;
        sv->v[sv->n++] = xstrdup(el->valuestring);
    }
    return 0;
}

/* mask.extra_patterns: strings that compile as PCRE2 patterns (checked
 * here, so a bad one stops the bot at start or is refused on reload). */
static int parse_patterns(struct pctx *x, const cJSON *it, struct cfg_strv *sv, const char *path)
{
    if (!cJSON_IsArray(it))
        return perr(x, "key \"%s\": %s", path, expect[K_PATTERNS]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    sv->v = xcalloc(n ? n : 1, sizeof(char *));
    sv->n = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        char p[PATH_MAX_LEN], shown[SHOW_MAX + 8];
        path_index(p, path, sv->n);
        if (!cJSON_IsString(el) || !el->valuestring[0])
            return perr(x, "key \"%s\": %s", p, expect[K_PATTERNS]);
        char *perr_msg = mask_pattern_check(el->valuestring);
        if (perr_msg) {
            perr(x, "key \"%s\": invalid pattern \"%s\": PCRE2: %s", p, show(el->valuestring, shown),
                 perr_msg);
            free(perr_msg);
            return -1;
        }
        if (sv->n >= n)
            break;
        sv->v[sv->n++] = xstrdup(el->valuestring);
    }
    return 0;
}

static int parse_objarray(struct pctx *x, const cJSON *it, const struct key_spec *ks, void *rec,
                          const char *path)
{
    if (!cJSON_IsArray(it))
        return perr(x, "key \"%s\": %s", path, expect[K_OBJARRAY]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    char *elems = xcalloc(n ? n : 1, ks->sub->elem_size);
    *(void **)(void *)((char *)rec + ks->off) = elems;
    *(size_t *)(void *)((char *)rec + ks->off2) = n;   /* zeroed elements free cleanly */
    size_t i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        if (i >= n)
            break;
        char p[PATH_MAX_LEN];
        path_index(p, path, i);
        if (!cJSON_IsObject(el))
            return perr(x, "key \"%s\": expected an object", p);
        if (parse_object(x, el, ks->sub, elems + i * ks->sub->elem_size, p) < 0)
            return -1;
        i++;
    }
    return 0;
}

/* {"U0123ABCD": "alice", ...}: each key a Slack user id (once), each value
 * a GitLab username. */
static int parse_usermap(struct pctx *x, const cJSON *it, const struct key_spec *ks, void *rec,
                         const char *path)
{
    if (!cJSON_IsObject(it))
        return perr(x, "key \"%s\": %s", path, expect[K_USERMAP]);
    size_t n = (size_t)cJSON_GetArraySize(it);
    struct cfg_gitlab_user *v = xcalloc(n ? n : 1, sizeof(*v));
    size_t *count = (size_t *)(void *)((char *)rec + ks->off2);
    *(struct cfg_gitlab_user **)(void *)((char *)rec + ks->off) = v;
    *count = 0;                 /* entries are counted as they are filled: the rest frees cleanly */
    const cJSON *el;
    cJSON_ArrayForEach(el, it) {
        char p[PATH_MAX_LEN];
        path_key(p, path, el->string);
        if (*count >= n)
            break;
        if (!string_ok(K_USER, el->string))
            return perr(x, "key \"%s\": not a Slack user id: %s", p, expect[K_USER]);
        for (size_t j = 0; j < *count; j++)
            if (strcmp(v[j].user, el->string) == 0)
                return perr(x, "duplicate key \"%s\"", p);
        if (!cJSON_IsString(el))
            return perr(x, "key \"%s\": %s", p, expect[K_GITLAB_USER]);
        if (!string_ok(K_GITLAB_USER, el->valuestring))
            return bad_value(x, p, K_GITLAB_USER, el->valuestring);
        v[*count].user = xstrdup(el->string);
        v[*count].gitlab = xstrdup(el->valuestring);
        (*count)++;
    }
    return 0;
}

static int parse_value(struct pctx *x, const cJSON *it, const struct key_spec *ks, void *rec,
                       const char *path)
{
    long long v;
    switch (ks->kind) {
    case K_ZONE: case K_CHANNEL: case K_USER: case K_NAME: case K_GITLAB_USER: case K_PD_ID:
        if (!cJSON_IsString(it))
            return perr(x, "key \"%s\": %s", path, expect[ks->kind]);
        if (!string_ok(ks->kind, it->valuestring))
            return bad_value(x, path, ks->kind, it->valuestring);
        free(*str_field(rec, ks->off));
        *str_field(rec, ks->off) = xstrdup(it->valuestring);
        return 0;
    case K_HOURS: {
        int a, b;
        if (!cJSON_IsString(it))
            return perr(x, "key \"%s\": %s", path, expect[K_HOURS]);
        if (cfg_parse_hours(it->valuestring, &a, &b) < 0)
            return bad_value(x, path, K_HOURS, it->valuestring);
        *(int *)(void *)((char *)rec + ks->off) = a;
        *(int *)(void *)((char *)rec + ks->off2) = b;
        return 0;
    }
    case K_USERS:
        return parse_users(x, it, (struct cfg_strv *)(void *)((char *)rec + ks->off), path);
    case K_PATTERNS:
        return parse_patterns(x, it, (struct cfg_strv *)(void *)((char *)rec + ks->off), path);
    case K_LEAD:
        if (!int_in(it, 0, 720, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[K_LEAD]);
            return perr(x, "key \"%s\": %s", path, expect[K_LEAD]);
        }
        *(int *)(void *)((char *)rec + ks->off) = (int)v;
        return 0;
    case K_WAIT:
        if (!int_in(it, 1, 720, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[K_WAIT]);
            return perr(x, "key \"%s\": %s", path, expect[K_WAIT]);
        }
        *(int *)(void *)((char *)rec + ks->off) = (int)v;
        return 0;
    case K_GIVE_UP:
    case K_DAYS: {
        long long max = ks->kind == K_GIVE_UP ? 8760 : 36500;
        if (!int_in(it, 1, (double)max, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[ks->kind]);
            return perr(x, "key \"%s\": %s", path, expect[ks->kind]);
        }
        *(int *)(void *)((char *)rec + ks->off) = (int)v;
        return 0;
    }
    case K_NSID:
        if (!int_in(it, 1, 9007199254740992.0, &v)) {
            if (cJSON_IsNumber(it))
                return perr(x, "key \"%s\": invalid value %g: %s", path, it->valuedouble,
                            expect[K_NSID]);
            return perr(x, "key \"%s\": %s", path, expect[K_NSID]);
        }
        *(long long *)(void *)((char *)rec + ks->off) = v;
        return 0;
    case K_OBJECT:
        if (!cJSON_IsObject(it))
            return perr(x, "key \"%s\": %s", path, expect[K_OBJECT]);
        return parse_object(x, it, ks->sub, rec, path);
    case K_OBJARRAY:
        return parse_objarray(x, it, ks, rec, path);
    case K_USERMAP:
        return parse_usermap(x, it, ks, rec, path);
    }
    return perr(x, "key \"%s\": unsupported", path);
}

/* Applies the default of an absent key. */
static void apply_default(const struct key_spec *ks, void *rec)
{
    switch (ks->kind) {
    case K_ZONE:
        if (ks->def && !*str_field(rec, ks->off))
            *str_field(rec, ks->off) = xstrdup(ks->def);
        break;
    case K_HOURS:
        cfg_parse_hours(ks->def, (int *)(void *)((char *)rec + ks->off),
                        (int *)(void *)((char *)rec + ks->off2));
        break;
    case K_LEAD:
    case K_WAIT:
    case K_GIVE_UP:
    case K_DAYS:
        *(int *)(void *)((char *)rec + ks->off) = (int)ks->idef;
        break;
    default:
        break;
    }
}

/* Levenshtein distance capped at 3, for "did you mean" on unknown keys. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 99;
    int row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int sub = diag + (a[i - 1] != b[j - 1]);
            int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

/* obj may be NULL: the object is absent, only defaults apply. */
static int parse_object(struct pctx *x, const cJSON *obj, const struct table *t, void *rec,
                        const char *path)
{
    bool seen[32] = { false };
    if (t->n > ARRAY_LEN(seen))
        return perr(x, "internal error: a key table has more than %zu keys", ARRAY_LEN(seen));
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        size_t k = 0;
        while (k < t->n && strcmp(t->keys[k].key, it->string) != 0)
            k++;
        char p[PATH_MAX_LEN];
        path_key(p, path, it->string);
        if (k == t->n) {
            const char *hint = NULL;
            for (size_t j = 0; j < t->n && !hint; j++)
                if (edit_distance(it->string, t->keys[j].key) <= 2)
                    hint = t->keys[j].key;
            if (hint)
                return perr(x, "unknown key \"%s\" (did you mean \"%s\"?)", p, hint);
            return perr(x, "unknown key \"%s\"", p);
        }
        if (seen[k])
            return perr(x, "duplicate key \"%s\"", p);
        seen[k] = true;
    }
    for (size_t k = 0; k < t->n; k++) {
        const struct key_spec *ks = &t->keys[k];
        char p[PATH_MAX_LEN];
        path_key(p, path, ks->key);
        it = obj ? cJSON_GetObjectItemCaseSensitive(obj, ks->key) : NULL;
        if (it && cJSON_IsNull(it))
            it = NULL;          /* null = absent */
        if (!it) {
            if (ks->required)
                return perr(x, "key \"%s\" is missing (it is required)", p);
            if (ks->kind == K_OBJECT) {
                if (parse_object(x, NULL, ks->sub, rec, p) < 0)
                    return -1;
            } else {
                apply_default(ks, rec);
            }
            continue;
        }
        if (parse_value(x, it, ks, rec, p) < 0)
            return -1;
    }
    return 0;
}

/* Cross-element rules: unique component names and appsec users. */
static int check_unique(struct pctx *x, const struct cfg *c)
{
    char shown[SHOW_MAX + 8];
    for (size_t i = 0; i < c->n_components; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->components[i].name, c->components[j].name) == 0)
                return perr(x, "key \"components[%zu].name\": duplicate component \"%s\"", i,
                            show(c->components[i].name, shown));
    for (size_t i = 0; i < c->n_appsec; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->appsec[i].user, c->appsec[j].user) == 0)
                return perr(x, "key \"appsec[%zu].user\": duplicate appsec user \"%s\"", i,
                            show(c->appsec[i].user, shown));
    return 0;
}

static void strv_finish(struct cfg_strv *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    v->v = NULL;
    v->n = 0;
}

static void team_finish(struct cfg *c)
{
    free(c->timezone);
    free(c->sirt_channel);
    strv_finish(&c->sirt_team);
    strv_finish(&c->severity1_responders);
    strv_finish(&c->directors);
    strv_finish(&c->mask_extra_patterns);
    for (size_t i = 0; i < c->n_appsec; i++) {
        free(c->appsec[i].user);
        free(c->appsec[i].tz);
        free(c->appsec[i].gitlab);
    }
    free(c->appsec);
    free(c->secops_schedule);
    free(c->secops_fallback_user);
    for (size_t i = 0; i < c->n_components; i++) {
        struct cfg_component *k = &c->components[i];
        free(k->name); free(k->em); free(k->pm); free(k->channel);
        free(k->gitlab_em); free(k->gitlab_pm);
    }
    free(c->components);
    for (size_t i = 0; i < c->n_gitlab_users; i++) {
        free(c->gitlab_users[i].user);
        free(c->gitlab_users[i].gitlab);
    }
    free(c->gitlab_users);
}

/* Zeroes the team part of the struct (the fields after log_level). */
static void team_zero(struct cfg *c)
{
    size_t from = offsetof(struct cfg, timezone);
    memset((char *)c + from, 0, sizeof(*c) - from);
}

static void team_defaults(struct cfg *c)
{
    team_zero(c);
    struct pctx x = { "", NULL, 0 };
    parse_object(&x, NULL, &top_table, c, "");
}

static void line_col(const char *json, size_t len, const char *at, size_t *line, size_t *col)
{
    size_t off = at && at >= json ? (size_t)(at - json) : 0;
    if (off > len)
        off = len;
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int cfg_parse_team(struct cfg *c, const char *name, const char *json, size_t len,
                   char *err, size_t errlen)
{
    struct pctx x = { name ? name : "config", err, errlen };
    team_zero(c);
    if (!json) {
        json = "";
        len = 0;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root && end) {
        /* cJSON accepts trailing text when not asked to require NUL; we don't. */
        size_t off = (size_t)(end - json);
        while (off < len && (json[off] == ' ' || json[off] == '\t' || json[off] == '\n' ||
                             json[off] == '\r'))
            off++;
        if (off < len) {
            cJSON_Delete(root);
            root = NULL;
            end = json + off;
        }
    }
    if (!root) {
        size_t line, col;
        line_col(json, len, end, &line, &col);
        perr(&x, "not valid JSON near line %zu col %zu", line, col);
        return -1;
    }
    int rc;
    if (!cJSON_IsObject(root))
        rc = perr(&x, "the top level must be a JSON object ({ ... })");
    else
        rc = parse_object(&x, root, &top_table, c, "");
    if (rc == 0)
        rc = check_unique(&x, c);
    cJSON_Delete(root);
    if (rc < 0) {
        team_finish(c);
        team_zero(c);
    }
    return rc;
}

/* Reads a whole file (capped).  Returns 0, or -errno / -EFBIG. */
static int read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    }
    if (st.st_size > CONFIG_MAX_BYTES) {
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size + 1;
    char *data = xmalloc(cap);
    size_t n = 0;
    for (int tries = 0; n < cap - 1 && tries < 1000; tries++) {
        ssize_t r = read(fd, data + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(data);
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}

/* Reads and parses the team file at path into c's team fields.  Returns 0,
 * -ENOENT when the file does not exist (nothing said yet), or -1 with the
 * message in err. */
static int read_team(struct cfg *c, const char *path, bool path_from_env, char *err, size_t errlen)
{
    char *json = NULL;
    size_t len = 0;
    int rc = read_file(path, &json, &len);
    if (rc == -ENOENT && !path_from_env)
        return -ENOENT;
    if (rc == -EFBIG) {
        set_err(err, errlen, "%s: team config is larger than %d bytes", path, CONFIG_MAX_BYTES);
        return -1;
    }
    if (rc < 0) {
        set_err(err, errlen, "%s: cannot read team config: %s%s", path, strerror(-rc),
                path_from_env ? " (check SIRT_CONFIG)" : "");
        return -1;
    }
    rc = cfg_parse_team(c, path, json, len, err, errlen);
    free(json);
    return rc;
}

static int load_team(struct cfg *c, bool path_from_env, char *err, size_t errlen)
{
    int rc = read_team(c, c->config_path, path_from_env, err, errlen);
    if (rc == -ENOENT) {
        c->config_present = false;
        team_defaults(c);
        return 0;
    }
    if (rc == 0)
        c->config_present = true;
    return rc;
}

int cfg_reload_team(const struct cfg *c, struct cfg *fresh, char *err, size_t errlen)
{
    memset(fresh, 0, sizeof(*fresh));
    if (err && errlen)
        err[0] = '\0';
    if (!c->config_path) {
        set_err(err, errlen, "no team config path (SIRT_CONFIG)");
        return -1;
    }
    /* A file that vanished is an error here: silently dropping to the
     * built-in defaults would forget the whole team. */
    return read_team(fresh, c->config_path, true, err, errlen) == 0 ? 0 : -1;
}

void cfg_adopt_team(struct cfg *c, struct cfg *fresh)
{
    size_t from = offsetof(struct cfg, timezone);
    team_finish(c);
    memcpy((char *)c + from, (char *)fresh + from, sizeof(*c) - from);
    team_zero(fresh);
    c->config_present = true;
}

static const char *real_getenv(const char *name)
{
    return getenv(name);
}

int cfg_load(struct cfg *c, cfg_getenv_fn env, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (err && errlen)
        err[0] = '\0';
    if (!env)
        env = real_getenv;
    c->log_level = LOG_LVL_INFO;
    const char *cp = env("SIRT_CONFIG");
    bool path_from_env = cp && *cp;
    if (load_env(c, env, err, errlen) < 0 || load_team(c, path_from_env, err, errlen) < 0) {
        cfg_finish(c);
        return -1;
    }
    return 0;
}

void cfg_finish(struct cfg *c)
{
    if (!c)
        return;
    free(c->slack_app_token);
    free(c->slack_bot_token);
    free(c->slack_api_url);
    free(c->pagerduty_routing_key);
    free(c->pagerduty_events_url);
    free(c->pagerduty_api_token);
    free(c->pagerduty_api_url);
    free(c->pagerduty_escalation_routing_key);
    free(c->gitlab_url);
    free(c->gitlab_token);
    free(c->clock_file);
    free(c->config_path);
    free(c->db);
    free(c->http_host);
    team_finish(c);
    memset(c, 0, sizeof(*c));
}

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

/* ---- the tables, walked (docs coverage: tests/test_docs.c) ---- */

static void each_key(const struct table *t, const char *parent, cfg_key_fn fn, void *ud)
{
    for (size_t k = 0; k < t->n; k++) {
        const struct key_spec *ks = &t->keys[k];
        char p[PATH_MAX_LEN];
        if (snprintf(p, sizeof(p), "%s%s%s", parent, *parent ? "." : "", ks->key) < 0)
            continue;
        fn(p, ud);
        if (ks->kind == K_OBJARRAY) {
            char arr[PATH_MAX_LEN];
            if (snprintf(arr, sizeof(arr), "%s[]", p) >= 0)
                each_key(ks->sub, arr, fn, ud);
        } else if (ks->kind == K_OBJECT) {
            each_key(ks->sub, p, fn, ud);
        }
    }
}

void cfg_each_key(cfg_key_fn fn, void *ud)
{
    each_key(&top_table, "", fn, ud);
}

void cfg_each_env(cfg_key_fn fn, void *ud)
{
    for (size_t i = 0; i < ARRAY_LEN(env_table); i++)
        fn(env_table[i].name, ud);
}
