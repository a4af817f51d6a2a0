/* config_env: the environment table — every SIRT_* and token variable
 * with its field, default and validator — and loading it into struct cfg.
 * Error messages name token variables, never quote them.  Strings stored in
 * struct cfg are owned by it (freed by cfg_finish). */
#include "config.h"
#include "config_shared.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mask.h"
#include "util.h"

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
    if (!cfg__all_chars(*val, cfg__printable_nonspace)) {
        cfg__set_err(err, errlen, "%s contains whitespace or control characters "
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
        cfg__set_err(err, errlen, "%s must be %s (%s...)%s", e->name, e->what, e->prefix, other);
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
    if (!rest || !*rest || *rest == '/' || !cfg__all_chars(v, cfg__printable_nonspace)) {
        cfg__set_err(err, errlen, "%s must be an http:// or https:// URL, e.g. %s", e->name,
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
        if (!cfg__alnum((unsigned char)*h) && *h != '.' && *h != '-' && *h != ':')
            goto bad;
    long p = 0;
    for (const char *q = port; *q; q++) {
        if (*q < '0' || *q > '9')
            goto bad;
        p = p * 10 + (*q - '0');
    }
    if (p < 1 || p > 65535) {
        cfg__set_err(err, errlen, "%s \"%s\": port must be 1..65535", e->name, cfg__show(v, shown));
        return -1;
    }
    c->http_host = xstrndup(host, (size_t)(host_end - host));
    c->http_port = (int)p;
    return 0;
bad:
    cfg__set_err(err, errlen, "%s \"%s\": expected host:port, e.g. 127.0.0.1:9102", e->name,
            cfg__show(v, shown));
    return -1;
}

static int check_log(struct cfg *c, const struct env_spec *e, char **val,
                     char *err, size_t errlen)
{
    char shown[SHOW_MAX + 8];
    int l = log_level_parse(*val);
    if (l < 0) {
        cfg__set_err(err, errlen, "%s \"%s\": expected debug, info, warn or error", e->name,
                cfg__show(*val, shown));
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
        cfg__set_err(err, errlen, "%s: expected a SQLite file path or a postgres:// (postgresql://) URI",
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
        cfg__set_err(err, errlen, "%s \"%s\": expected whole seconds 1..300", e->name, cfg__show(*val, shown));
        return -1;
    }
    c->ping_secs = (int)v;
    return 0;
}

/* Tests and drills only: multiplies the outbox's own delays (backoff, its
 * caps, the page announcement, give-up), the Web API client's retry backoff
 * and the Socket Mode reconnect backoff, so an outage plays out in seconds. */
static int check_backoff_scale(struct cfg *c, const struct env_spec *e, char **val,
                               char *err, size_t errlen)
{
    char shown[SHOW_MAX + 8];
    char *end;
    double v = strtod(*val, &end);
    if (end == *val || *end || !(v >= 0.0001 && v <= 1.0)) {
        cfg__set_err(err, errlen, "%s \"%s\": expected a factor from 0.0001 to 1 (tests and drills only)",
                e->name, cfg__show(*val, shown));
        return -1;
    }
    c->backoff_scale = v;
    return 0;
}

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

int cfg__load_env(struct cfg *c, cfg_getenv_fn env, char *err, size_t errlen)
{
    for (size_t i = 0; i < ARRAY_LEN(env_table); i++) {
        const struct env_spec *e = &env_table[i];
        const char *raw = env(e->name);
        if (raw && !*raw)
            raw = NULL;         /* empty counts as unset */
        if (!raw && e->required) {
            cfg__set_err(err, errlen, "%s is not set: %s", e->name, e->unset_help);
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

void cfg_each_env(cfg_key_fn fn, void *ud)
{
    for (size_t i = 0; i < ARRAY_LEN(env_table); i++)
        fn(env_table[i].name, ud);
}
