/* check: `sirtbot --check-config` (see check.h).  Order: the environment
 * and SIRT_CONFIG (cfg_load, the same rules as at start), placeholders, the
 * store, then — with the tokens — Slack (both tokens, every user, every
 * channel, sirt_channel's privacy), PagerDuty (the secops schedule) and
 * GitLab (the namespace).  Each finding is one line; a problem never stops
 * the later checks, so one run lists them all. */
#include "check.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "util.h"

int check_is_placeholder(const char *id)
{
    return id && strstr(id, "EXAMPLE") != NULL;
}

static size_t ph_one(const char *key, const char *v, check_placeholder_fn fn, void *ud)
{
    if (!check_is_placeholder(v))
        return 0;
    if (fn)
        fn(ud, key, v);
    return 1;
}

static size_t ph_list(const char *name, const struct cfg_strv *l, check_placeholder_fn fn, void *ud)
{
    size_t n = 0;
    char key[96];
    for (size_t i = 0; i < l->n; i++) {
        snprintf(key, sizeof(key), "%s[%zu]", name, i);
        n += ph_one(key, l->v[i], fn, ud);
    }
    return n;
}

size_t check_placeholders(const struct cfg *c, check_placeholder_fn fn, void *ud)
{
    size_t n = 0;
    char key[96];
    n += ph_one("sirt_channel", c->sirt_channel, fn, ud);
    n += ph_list("sirt_team", &c->sirt_team, fn, ud);
    n += ph_list("severity1_responders", &c->severity1_responders, fn, ud);
    n += ph_list("directors", &c->directors, fn, ud);
    for (size_t i = 0; i < c->n_appsec; i++) {
        snprintf(key, sizeof(key), "appsec[%zu].user", i);
        n += ph_one(key, c->appsec[i].user, fn, ud);
    }
    n += ph_one("secops_oncall.pagerduty_schedule", c->secops_schedule, fn, ud);
    n += ph_one("secops_oncall.fallback_user", c->secops_fallback_user, fn, ud);
    for (size_t i = 0; i < c->n_components; i++) {
        const struct cfg_component *k = &c->components[i];
        snprintf(key, sizeof(key), "components[%zu].em", i);
        n += ph_one(key, k->em, fn, ud);
        snprintf(key, sizeof(key), "components[%zu].pm", i);
        n += ph_one(key, k->pm, fn, ud);
        snprintf(key, sizeof(key), "components[%zu].channel", i);
        n += ph_one(key, k->channel, fn, ud);
    }
    for (size_t i = 0; i < c->n_gitlab_users; i++) {
        snprintf(key, sizeof(key), "gitlab_users.%s", c->gitlab_users[i].user);
        n += ph_one(key, c->gitlab_users[i].user, fn, ud);
    }
    return n;
}

/* ---- findings ---- */

struct chk {
    struct cfg *c;
    CURL *curl;
    int problems;
};

static void say(const char *tag, const char *fmt, va_list ap)
{
    printf("%-8s ", tag);
    vprintf(fmt, ap);
    putchar('\n');
}

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("ok", fmt, ap);
    va_end(ap);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("note", fmt, ap);
    va_end(ap);
}

static void problem(struct chk *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct chk *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("problem", fmt, ap);
    va_end(ap);
    k->problems++;
}

static void on_placeholder(void *ud, const char *key, const char *value)
{
    problem(ud, "%s: \"%s\" is a placeholder from sirt.example.json: put your team's id (how to find it: %s)",
            key, value, CHECK_IDS_DOC);
}

/* ---- blocking HTTP ---- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    return buf_append(ud, p, size * n) == 0 ? size * n : 0;
}

/* One request; returns the HTTP status (0 with `err` set when none came)
 * and the body in *out (caller frees).  Both headers may be NULL. */
static long http_do(struct chk *k, const char *url, const char *post, const char *h1, const char *h2, char **out,
                    char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, 8u << 20);
    struct curl_slist *hs = NULL;
    if (h1)
        hs = curl_slist_append(hs, h1);
    if (h2)
        hs = curl_slist_append(hs, h2);
    curl_easy_reset(k->curl);
    curl_easy_setopt(k->curl, CURLOPT_URL, url);
    curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(k->curl, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k->curl, CURLOPT_USERAGENT, "sirtbot-check-config");
    if (post)
        curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(k->curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(hs);
    *out = buf_take(&b);
    buf_finish(&b);
    return status;
}

/* A Slack Web API call with a form body; returns the parsed answer (caller
 * deletes) or NULL with `err` set (transport, status, or Slack's error). */
static cJSON *slack(struct chk *k, const char *token, const char *method, const char *arg, const char *value,
                    char *err, size_t errlen)
{
    char *url = xasprintf("%s/%s", k->c->slack_api_url, method);
    char *auth = xasprintf("Authorization: Bearer %s", token);
    char *form = NULL;
    if (arg) {
        char *esc = curl_easy_escape(k->curl, value, 0);
        form = xasprintf("%s=%s", arg, esc ? esc : "");
        curl_free(esc);
    }
    char *body = NULL;
    err[0] = '\0';
    long st = http_do(k, url, form ? form : "", auth, "Content-Type: application/x-www-form-urlencoded", &body, err,
                      errlen);
    free(url);
    free(auth);
    free(form);
    cJSON *j = NULL;
    if (st == 200) {
        j = cJSON_Parse(body ? body : "");
        if (!j) {
            snprintf(err, errlen, "not JSON");
        } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
            const char *e = util_jstr(j, "error");
            snprintf(err, errlen, "%s", e ? e : "ok:false");
            cJSON_Delete(j);
            j = NULL;
        }
    } else if (st) {
        snprintf(err, errlen, "HTTP %ld", st);
    }
    free(body);
    return j;
}

/* ---- the checks ---- */

static void check_store(struct chk *k)
{
    const char *db = k->c->db;
    if (db_is_pg_target(db)) {
        const char *keys[] = { "dbname", "connect_timeout", NULL };
        const char *vals[] = { db, "10", NULL };
        PGconn *pg = PQconnectdbParams(keys, vals, 1);
        if (pg && PQstatus(pg) == CONNECTION_OK) {
            ok("SIRT_DB: PostgreSQL reachable (database %s, server %d)", PQdb(pg), PQserverVersion(pg));
        } else {
            char msg[300];
            snprintf(msg, sizeof(msg), "%s", pg ? PQerrorMessage(pg) : "out of memory");
            char *nl = strchr(msg, '\n');
            if (nl)
                *nl = '\0';
            problem(k, "SIRT_DB: cannot connect to PostgreSQL: %s", msg);
        }
        PQfinish(pg);
        return;
    }
    if (access(db, F_OK) == 0) {
        if (access(db, R_OK | W_OK) == 0)
            ok("SIRT_DB: %s exists and is writable", db);
        else
            problem(k, "SIRT_DB: %s is not readable and writable by this user", db);
        return;
    }
    char *dir = xstrdup(db);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    const char *d = slash ? dir : ".";
    if (access(d, W_OK) == 0)
        ok("SIRT_DB: %s will be created (directory %s is writable)", db, d);
    else
        problem(k, "SIRT_DB: %s does not exist and directory %s is not writable", db, d);
    free(dir);
}

struct ids {
    const char *id[256];
    const char *key[256];
    size_t n;
};

static void ids_add(struct ids *s, const char *key, const char *id)
{
    if (!id || !id[0] || check_is_placeholder(id))
        return;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->id[i], id) == 0)
            return;
    if (s->n < sizeof(s->id) / sizeof(s->id[0])) {
        s->id[s->n] = id;
        s->key[s->n++] = key;
    }
}

static void check_users(struct chk *k)
{
    struct cfg *c = k->c;
    struct ids u = { .n = 0 };
    ids_add(&u, "secops_oncall.fallback_user", c->secops_fallback_user);
    for (size_t i = 0; i < c->sirt_team.n; i++)
        ids_add(&u, "sirt_team", c->sirt_team.v[i]);
    for (size_t i = 0; i < c->severity1_responders.n; i++)
        ids_add(&u, "severity1_responders", c->severity1_responders.v[i]);
    for (size_t i = 0; i < c->directors.n; i++)
        ids_add(&u, "directors", c->directors.v[i]);
    for (size_t i = 0; i < c->n_appsec; i++)
        ids_add(&u, "appsec", c->appsec[i].user);
    for (size_t i = 0; i < c->n_components; i++) {
        ids_add(&u, "components[].em", c->components[i].em);
        ids_add(&u, "components[].pm", c->components[i].pm);
    }
    for (size_t i = 0; i < c->n_gitlab_users; i++)
        ids_add(&u, "gitlab_users", c->gitlab_users[i].user);
    size_t found = 0;
    for (size_t i = 0; i < u.n; i++) {
        char err[200];
        cJSON *j = slack(k, c->slack_bot_token, "users.info", "user", u.id[i], err, sizeof(err));
        if (!j) {
            problem(k, "%s: user %s: %s", u.key[i], u.id[i], err);
            continue;
        }
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "user");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(user, "deleted")))
            problem(k, "%s: user %s (%s) is deactivated in Slack", u.key[i], u.id[i], util_jstr(user, "name"));
        else
            found++;
        cJSON_Delete(j);
    }
    if (u.n)
        ok("Slack: %zu of %zu configured users found", found, u.n);
    else
        note("no users configured (sirt_team, appsec, ...): nobody to page, hand off to or tell");
}

static void check_channel(struct chk *k, const char *key, const char *id, int sirt)
{
    char err[200];
    cJSON *j = slack(k, k->c->slack_bot_token, "conversations.info", "channel", id, err, sizeof(err));
    if (!j) {
        if (strcmp(err, "channel_not_found") == 0)
            problem(k, "%s: channel %s not found: a wrong id, or a private channel the bot is not in (/invite @sirt there)",
                    key, id);
        else
            problem(k, "%s: channel %s: %s", key, id, err);
        return;
    }
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "channel");
    const char *name = util_jstr(ch, "name");
    bool member = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "is_member"));
    bool priv = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ch, "is_private"));
    if (!member)
        problem(k, "%s: the bot is not in #%s (%s): it posts there; invite it with /invite @sirt", key,
                name ? name : "?", id);
    else
        ok("%s: #%s (%s), the bot is a member", key, name ? name : "?", id);
    if (sirt) {
        if (priv)
            ok("sirt_channel is private: the weekly digest carries incident details");
        else
            note("sirt_channel is public: the weekly digest carries only ids, severities and states");
    }
    cJSON_Delete(j);
}

static void check_slack(struct chk *k)
{
    struct cfg *c = k->c;
    char err[200];
    cJSON *j = slack(k, c->slack_bot_token, "auth.test", NULL, NULL, err, sizeof(err));
    if (!j) {
        problem(k, "SLACK_BOT_TOKEN: auth.test failed: %s (users and channels not checked)", err);
    } else {
        ok("SLACK_BOT_TOKEN: authenticated as %s in %s", util_jstr(j, "user") ? util_jstr(j, "user") : "?",
           util_jstr(j, "team") ? util_jstr(j, "team") : "?");
        cJSON_Delete(j);
    }
    cJSON *a = slack(k, c->slack_app_token, "apps.connections.open", NULL, NULL, err, sizeof(err));
    if (!a)
        problem(k, "SLACK_APP_TOKEN: apps.connections.open failed: %s (Socket Mode needs an app-level token "
                   "with connections:write)", err);
    else
        ok("SLACK_APP_TOKEN: Socket Mode connections can be opened");
    cJSON_Delete(a);
    if (!j)
        return;
    check_users(k);
    if (c->sirt_channel && !check_is_placeholder(c->sirt_channel))
        check_channel(k, "sirt_channel", c->sirt_channel, 1);
    else if (!c->sirt_channel)
        note("sirt_channel is not set: no weekly review, no page announcements to the team");
    for (size_t i = 0; i < c->n_components; i++) {
        const char *ch = c->components[i].channel;
        if (ch && !check_is_placeholder(ch)) {
            char key[96];
            snprintf(key, sizeof(key), "components[%zu].channel", i);
            check_channel(k, key, ch, 0);
        }
    }
}

static void check_pagerduty(struct chk *k)
{
    struct cfg *c = k->c;
    if (!c->pagerduty_routing_key)
        note("PAGERDUTY_ROUTING_KEY is not set: paging is disabled");
    if (!c->secops_schedule || check_is_placeholder(c->secops_schedule))
        return;
    if (!c->pagerduty_api_token) {
        note("secops_oncall.pagerduty_schedule is set but PAGERDUTY_API_TOKEN is not: the on-call cannot be read "
             "(fallback_user is used)");
        return;
    }
    char *url = xasprintf("%s/schedules/%s", c->pagerduty_api_url, c->secops_schedule);
    char *auth = xasprintf("Authorization: Token token=%s", c->pagerduty_api_token);
    char *body = NULL, err[200] = "";
    long st = http_do(k, url, NULL, auth, "Accept: application/vnd.pagerduty+json;version=2", &body, err, sizeof(err));
    if (st == 200) {
        cJSON *j = cJSON_Parse(body ? body : "");
        const char *name = util_jstr(cJSON_GetObjectItemCaseSensitive(j, "schedule"), "name");
        ok("PagerDuty: schedule %s (%s) readable", c->secops_schedule, name ? name : "?");
        cJSON_Delete(j);
    } else if (st == 401) {
        problem(k, "PAGERDUTY_API_TOKEN was refused by PagerDuty (401)");
    } else if (st == 404) {
        problem(k, "secops_oncall.pagerduty_schedule: schedule %s not found in PagerDuty", c->secops_schedule);
    } else if (st) {
        problem(k, "PagerDuty: schedule %s: HTTP %ld", c->secops_schedule, st);
    } else {
        problem(k, "PagerDuty: %s: %s", c->pagerduty_api_url, err);
    }
    free(body);
    free(url);
    free(auth);
}

static void check_gitlab(struct chk *k)
{
    struct cfg *c = k->c;
    if (!c->gitlab_url) {
        note("GITLAB_URL is not set: no GitLab projects or issues");
        return;
    }
    if (!c->gitlab_token) {
        problem(k, "GITLAB_TOKEN is not set: GitLab calls would be refused");
        return;
    }
    char *url = c->gitlab_namespace_id ? xasprintf("%s/api/v4/namespaces/%lld", c->gitlab_url, c->gitlab_namespace_id)
                                       : xasprintf("%s/api/v4/user", c->gitlab_url);
    char *auth = xasprintf("PRIVATE-TOKEN: %s", c->gitlab_token);
    char *body = NULL, err[200] = "";
    long st = http_do(k, url, NULL, auth, NULL, &body, err, sizeof(err));
    if (st == 200 && c->gitlab_namespace_id) {
        cJSON *j = cJSON_Parse(body ? body : "");
        const char *path = util_jstr(j, "full_path");
        ok("GitLab: namespace %lld (%s) reachable", c->gitlab_namespace_id, path ? path : "?");
        cJSON_Delete(j);
    } else if (st == 200) {
        note("GitLab: token works, but gitlab.namespace_id is not set: projects go to the token user's namespace");
    } else if (st == 401) {
        problem(k, "GITLAB_TOKEN was refused by GitLab (401)");
    } else if (st == 404) {
        problem(k, "gitlab.namespace_id: namespace %lld not found (or not visible to the token)", c->gitlab_namespace_id);
    } else if (st) {
        problem(k, "GitLab: HTTP %ld from %s", st, url);
    } else {
        problem(k, "GitLab: %s: %s", c->gitlab_url, err);
    }
    free(body);
    free(url);
    free(auth);
}

int check_config_main(void)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[512];
    if (cfg_load(&c, NULL, err, sizeof(err)) != 0) {
        printf("%-8s %s\n", "problem", err);
        printf("1 problem: the configuration cannot be loaded, nothing else was checked\n");
        return 1;
    }
    struct chk k = { .c = &c, .curl = NULL, .problems = 0 };
    if (c.config_present)
        ok("SIRT_CONFIG: %s parses, every key and time zone valid", c.config_path);
    else
        note("SIRT_CONFIG: %s does not exist: built-in defaults (nobody to page, no components)", c.config_path);
    check_placeholders(&c, on_placeholder, &k);
    check_store(&k);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    k.curl = curl_easy_init();
    if (!k.curl) {
        problem(&k, "cannot initialise libcurl: Slack, PagerDuty and GitLab not checked");
    } else {
        check_slack(&k);
        check_pagerduty(&k);
        check_gitlab(&k);
        curl_easy_cleanup(k.curl);
    }
    curl_global_cleanup();
    cfg_finish(&c);
    if (k.problems)
        printf("%d problem%s\n", k.problems, k.problems == 1 ? "" : "s");
    else
        printf("all is well\n");
    fflush(stdout);
    return k.problems ? 1 : 0;
}
