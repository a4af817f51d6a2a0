/* config: the environment (secrets, endpoints) and the team config file
 * (SIRT_CONFIG, JSON), as docs/configuration.md describes.  cfg_load() fills a
 * caller-owned struct cfg; cfg_finish() frees every string and array in it.
 * All strings are owned by the struct.  Validation is table-driven: a bad
 * value yields one line naming the variable, file, key or zone. */
#ifndef SIRT_CONFIG_H
#define SIRT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* SIRT_DB when unset: the SQLite file in the working directory. */
#define CFG_DEFAULT_DB "sirt.db"

struct cfg_appsec {
    char *user;        /* Slack user id */
    char *tz;          /* IANA zone, NULL = ask Slack users.info */
    char *gitlab;      /* GitLab username, may be NULL */
    int start_min;     /* working hours, minutes after local midnight */
    int end_min;       /* may be < start_min: hours across midnight */
};

struct cfg_component {
    char *name, *em, *pm, *channel, *gitlab_em, *gitlab_pm; /* any but name may be NULL */
};

/* One gitlab_users entry: a Slack user who is not in appsec, and their
 * GitLab username. */
struct cfg_gitlab_user {
    char *user;
    char *gitlab;
};

struct cfg_strv {
    char **v;
    size_t n;
};

struct cfg {
    /* environment */
    char *slack_app_token;          /* SLACK_APP_TOKEN, required */
    char *slack_bot_token;          /* SLACK_BOT_TOKEN, required */
    char *slack_api_url;            /* SLACK_API_URL, no trailing '/' */
    char *pagerduty_routing_key;    /* NULL = paging disabled */
    char *pagerduty_events_url;
    char *pagerduty_api_token;
    char *pagerduty_api_url;
    char *pagerduty_escalation_routing_key;   /* NULL = unacknowledged pages are not escalated */
    char *gitlab_url;               /* NULL = GitLab steps skipped */
    char *gitlab_token;
    char *config_path;              /* SIRT_CONFIG */
    bool config_present;            /* false: default path absent, built-in defaults used */
    char *db;                       /* SIRT_DB */
    char *http_host;                /* SIRT_HTTP host part, NULL = no HTTP server */
    int http_port;
    int log_level;                  /* enum log_level */
    int ping_secs;                  /* SIRT_PING_SECS, default 10; hangup after 3x */
    char *clock_file;               /* SIRT_CLOCK_FILE: drills and tests only, NULL = real time */
    double backoff_scale;           /* SIRT_TEST_BACKOFF_SCALE: tests and drills only, default 1 */

    /* team config */
    char *timezone;                 /* default "UTC" */
    char *sirt_channel;
    struct cfg_strv sirt_team;
    struct cfg_strv severity1_responders;
    struct cfg_strv directors;
    struct cfg_appsec *appsec;
    size_t n_appsec;
    char *secops_schedule;          /* secops_oncall.pagerduty_schedule */
    char *secops_fallback_user;     /* secops_oncall.fallback_user */
    struct cfg_component *components;
    size_t n_components;
    int handoff_lead_minutes;       /* default 30 */
    int handoff_accept_minutes;     /* handoff.accept_minutes, 1..720, default 30 */
    int validate_after_minutes;     /* decisions.validate_after_minutes, default 240 */
    long long gitlab_namespace_id;  /* 0 = unset */
    struct cfg_strv mask_extra_patterns;  /* mask.extra_patterns, each compiles (PCRE2) */
    int outbox_give_up_hours;       /* outbox.give_up_hours, default 168 */
    int paging_ack_minutes;         /* paging.ack_minutes, default 15: escalate an unacknowledged page */
    int retention_days;             /* retention.days, 1..36500; 0 (absent) = keep forever */
    struct cfg_gitlab_user *gitlab_users;   /* gitlab_users: Slack user id -> GitLab username */
    size_t n_gitlab_users;
};

/* getenv-like lookup so tests can feed a fake environment. */
typedef const char *(*cfg_getenv_fn)(const char *name);

/* Reads the environment through `env` (NULL = getenv) and the config file.
 * Returns 0, or -1 with a one-line message in err (no trailing newline),
 * e.g. "SLACK_APP_TOKEN is not set: export the app-level token (xapp-...)"
 * or "sirt.json: key \"appsec[1].tz\": unknown time zone \"Mars/Olympus\"".
 * On error the struct is left finished (nothing to free). */
int cfg_load(struct cfg *c, cfg_getenv_fn env, char *err, size_t errlen);
/* Parses team config JSON text (used by cfg_load and by tests). `name` is
 * used in messages. Same error contract. Only the team-config fields
 * (timezone to the end of the struct) are written; earlier values there are
 * not freed, so pass a zeroed struct (or one after cfg_finish). On error
 * those fields are freed and zeroed; the environment fields are untouched. */
int cfg_parse_team(struct cfg *c, const char *name, const char *json, size_t len,
                   char *err, size_t errlen);
void cfg_finish(struct cfg *c);

/* Reload (SIGHUP): reads the team file at c->config_path again into
 * *fresh, which the call zeroes first; only its team fields are set.
 * Returns 0, or -1 with the same one-line messages as cfg_load (a missing
 * file is an error here).  c is not touched.  On success pass fresh to
 * cfg_adopt_team; on error there is nothing to free. */
int cfg_reload_team(const struct cfg *c, struct cfg *fresh, char *err, size_t errlen);
/* Frees c's team fields (timezone .. end of struct) and moves fresh's into
 * c; fresh's team fields are zeroed.  Every pointer into c's old team fields
 * (appsec entries, components, strings) is invalid afterwards. */
void cfg_adopt_team(struct cfg *c, struct cfg *fresh);

/* True if `zone` names an existing IANA zone (TZif file under TZDIR or
 * /usr/share/zoneinfo); rejects absolute paths and "..". */
bool cfg_zone_exists(const char *zone);
/* Parses "HH:MM-HH:MM"; returns 0 or -1. */
int cfg_parse_hours(const char *s, int *start_min, int *end_min);

const struct cfg_component *cfg_component(const struct cfg *c, const char *name);
const struct cfg_appsec *cfg_appsec_user(const struct cfg *c, const char *user);
/* The GitLab username of a Slack user: appsec[].gitlab, else gitlab_users;
 * NULL when unknown.  Borrowed from c. */
const char *cfg_gitlab_user(const struct cfg *c, const char *user);
bool cfg_strv_has(const struct cfg_strv *v, const char *s);

/* The tables themselves, for the docs test.  cfg_each_key calls fn once per
 * team-config key, as the docs write it: "timezone", "appsec", "appsec[].tz",
 * "handoff", "handoff.lead_minutes" (an object or array before its keys).
 * cfg_each_env calls fn once per environment variable of the table.  The
 * strings are borrowed for the call. */
typedef void (*cfg_key_fn)(const char *name, void *ud);
void cfg_each_key(cfg_key_fn fn, void *ud);
void cfg_each_env(cfg_key_fn fn, void *ud);

#endif
