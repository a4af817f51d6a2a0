/* harness_slack: what the end-to-end tests and the demo do to and read
 * from the fakes, written once: send a slash command, a mention, a button
 * press or a form and wait for its ack; count, find and wait for recorded
 * Web API calls (struct fx_q); wait for a count of PagerDuty events or
 * GitLab records; read the bot's SQLite file beside the running bot; GET
 * its HTTP endpoints.  Everything returned is borrowed from the fakes
 * unless the declaration in harness.h says "caller frees". */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"

/* ------------------------------------------------------------------ */
/* predicates */

bool fx_pred_online(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_ws_count(fx->slack) >= 1;
}

bool fx_pred_offline(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_slack_ws_count(fx->slack) == 0;
}

bool fx_pred_acked(struct fx *fx, void *envelope_id)
{
    return fake_slack_ack(fx->slack, envelope_id) != NULL;
}

bool fx_pred_exited(struct fx *fx, void *ud)
{
    (void)ud;
    return fx->exited;
}

bool fx_pred_called(struct fx *fx, void *method)
{
    return fake_slack_call_count(fx->slack, method) >= 1;
}

struct calls_want {
    const char *method;
    size_t n;
};

static bool pred_calls(struct fx *fx, void *ud)
{
    const struct calls_want *w = ud;
    return fake_slack_call_count(fx->slack, w->method) >= w->n;
}

bool fx_wait_calls(struct fx *fx, const char *method, size_t n, int timeout_ms)
{
    struct calls_want w = { method, n };
    return fx_wait(fx, pred_calls, &w, timeout_ms);
}

static bool pred_post_text(struct fx *fx, void *ud)
{
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c->json, "text");
        if (!c->error && cJSON_IsString(t) && strstr(t->valuestring, (const char *)ud))
            return true;
    }
    return false;
}

bool fx_wait_post_text(struct fx *fx, const char *part, int timeout_ms)
{
    return fx_wait(fx, pred_post_text, (void *)part, timeout_ms);
}

static bool pred_stderr(struct fx *fx, void *s)
{
    return fx_stderr_has(fx, s);
}

bool fx_wait_stderr(struct fx *fx, const char *s, int timeout_ms)
{
    return fx_wait(fx, pred_stderr, (void *)s, timeout_ms);
}

/* ------------------------------------------------------------------ */
/* acks and what the tests send */

bool fx_wait_ack(struct fx *fx, const char *eid, int timeout_ms)
{
    return eid && fx_wait(fx, fx_pred_acked, (void *)eid, timeout_ms);
}

const cJSON *fx_ack_payload(struct fx *fx, const char *eid)
{
    const struct fake_ack *a = eid ? fake_slack_ack(fx->slack, eid) : NULL;
    return a ? cJSON_GetObjectItemCaseSensitive(a->json, "payload") : NULL;
}

const char *fx_ack_text(struct fx *fx, const char *eid)
{
    const char *t = util_jstr(fx_ack_payload(fx, eid), "text");
    return t ? t : "";
}

const char *fx_send_acked(struct fx *fx, cJSON *payload, int timeout_ms)
{
    const char *eid = fake_slack_send_interactive(fx->slack, payload);
    cJSON_Delete(payload);
    if (!fx_wait_ack(fx, eid, timeout_ms))
        TEST_FAIL("fx: interaction %s not acked within %d ms", eid ? eid : "(not sent)", timeout_ms);
    return eid;
}

const char *fx_submit_report(struct fx *fx, const char *view_id, const char *user, const struct report_fields *f)
{
    return fx_send_acked(fx, report_submission_payload(view_id, user, f), 5000);
}

const cJSON *fx_slash(struct fx *fx, const char *user, const char *channel, const char *text, int timeout_ms)
{
    const char *eid = fake_slack_send_slash(fx->slack, user, channel, text);
    if (!fx_wait_ack(fx, eid, timeout_ms))
        TEST_FAIL("fx: /sirt %s by %s in %s not acked within %d ms", text, user, channel, timeout_ms);
    return fx_ack_payload(fx, eid);
}

const char *fx_slash_text(struct fx *fx, const char *user, const char *channel, const char *text)
{
    const char *t = util_jstr(fx_slash(fx, user, channel, text, 5000), "text");
    return t ? t : "";
}

const char *fx_mention(struct fx *fx, const struct fx_mention_opts *m)
{
    char full[512];
    snprintf(full, sizeof(full), "<@U0BOT0001> %s", m->text);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "type", "app_mention");
    cJSON_AddStringToObject(ev, "user", m->user);
    cJSON_AddStringToObject(ev, "text", m->raw ? m->text : full);
    cJSON_AddStringToObject(ev, "channel", m->channel);
    cJSON_AddStringToObject(ev, "ts", m->ts ? m->ts : "1700000300.000200");
    if (m->event_ts)
        cJSON_AddStringToObject(ev, "event_ts", m->event_ts);
    if (m->thread_ts)
        cJSON_AddStringToObject(ev, "thread_ts", m->thread_ts);
    const char *eid = fake_slack_send_event(fx->slack, ev, m->event_id, 0);
    cJSON_Delete(ev);
    return eid;
}

const char *fx_mention_text(struct fx *fx, const char *user, const char *channel, const char *text,
                            const char *event_id)
{
    return fx_mention(fx, &(struct fx_mention_opts){ .user = user, .channel = channel, .text = text,
                                                     .event_id = event_id, .event_ts = "1700000300.000200" });
}

cJSON *fx_button_payload(struct fx *fx, const struct fx_button *b)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "block_actions");
    cJSON *u = cJSON_AddObjectToObject(p, "user");
    cJSON_AddStringToObject(u, "id", b->user);
    if (b->app) {
        cJSON_AddStringToObject(u, "team_id", "T0FAKE001");
        cJSON_AddStringToObject(p, "api_app_id", "A0FAKE001");
    }
    cJSON_AddStringToObject(p, "trigger_id", b->trigger_id ? b->trigger_id : b->action_ts);
    if (b->message_ts) {
        cJSON *cont = cJSON_AddObjectToObject(p, "container");
        cJSON_AddStringToObject(cont, "type", "message");
        cJSON_AddStringToObject(cont, "message_ts", b->message_ts);
        cJSON_AddStringToObject(cont, "channel_id", b->channel);
    }
    if (b->channel)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "channel"), "id", b->channel);
    if (b->response_path) {
        char url[256];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/commands/T0FAKE001/%s", fake_slack_port(fx->slack),
                 b->response_path);
        cJSON_AddStringToObject(p, "response_url", url);
    }
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "action_id", b->action_id);
    cJSON_AddStringToObject(a, "block_id", b->block_id);
    cJSON_AddStringToObject(a, "type", "button");
    cJSON_AddStringToObject(a, "value", b->value);
    cJSON_AddStringToObject(a, "action_ts", b->action_ts);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "actions"), a);
    return p;
}

const char *fx_press(struct fx *fx, const struct fx_button *b)
{
    cJSON *p = fx_button_payload(fx, b);
    const char *eid = fake_slack_send_interactive(fx->slack, p);
    cJSON_Delete(p);
    return eid;
}

/* ------------------------------------------------------------------ */
/* the Web API calls the fake recorded */

static bool str_is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

static bool call_matches(const struct fake_call *c, const struct fx_q *q)
{
    if ((q->ok == FX_HTTP_OK && c->status != 200) || (q->ok == FX_NO_ERROR && (c->status != 200 || c->error)))
        return false;
    if (q->channel && !str_is(util_jstr(c->json, "channel"), q->channel))
        return false;
    if (q->user && !str_is(util_jstr(c->json, "user"), q->user))
        return false;
    if (q->body && (!c->body || !strstr(c->body, q->body)))
        return false;
    if (q->text) {
        const char *t = util_jstr(c->json, "text");
        if (!t || !strstr(t, q->text))
            return false;
    }
    if (q->json) {
        char *s = c->json ? cJSON_PrintUnformatted(c->json) : NULL;
        bool hit = s && strstr(s, q->json);
        cJSON_free(s);
        if (!hit)
            return false;
    }
    return true;
}

static const char *q_method(const struct fx_q *q)
{
    return q->method ? q->method : "chat.postMessage";
}

size_t fx_count(struct fx *fx, const struct fx_q *q)
{
    size_t n = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, q_method(q)); i++)
        n += call_matches(fake_slack_call(fx->slack, q_method(q), i), q);
    return n;
}

const struct fake_call *fx_nth(struct fx *fx, const struct fx_q *q, size_t idx)
{
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, q_method(q)); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, q_method(q), i);
        if (call_matches(c, q) && idx-- == 0)
            return c;
    }
    return NULL;
}

const struct fake_call *fx_last(struct fx *fx, const struct fx_q *q)
{
    for (size_t i = fake_slack_call_count(fx->slack, q_method(q)); i-- > 0;) {
        const struct fake_call *c = fake_slack_call(fx->slack, q_method(q), i);
        if (call_matches(c, q))
            return c;
    }
    return NULL;
}

struct q_want {
    const struct fx_q *q;
    size_t n;
};

static bool pred_q(struct fx *fx, void *ud)
{
    const struct q_want *w = ud;
    return fx_count(fx, w->q) >= w->n;
}

bool fx_wait_q(struct fx *fx, const struct fx_q *q, size_t n, int timeout_ms)
{
    struct q_want w = { q, n };
    return fx_wait(fx, pred_q, &w, timeout_ms);
}

bool fx_pred_pinned(struct fx *fx, void *ud)
{
    (void)ud;
    return fx_count(fx, &(struct fx_q){ .method = "pins.add", .ok = FX_HTTP_OK }) >= 1;
}

bool fx_is_member(struct fx *fx, const char *channel, const char *user)
{
    const struct fake_channel *c = fake_slack_channel_by_id(fx->slack, channel);
    return c && fake_slack_channel_has_member(c, user);
}

struct member_want {
    const char *channel, *user;
};

static bool pred_member(struct fx *fx, void *ud)
{
    const struct member_want *w = ud;
    return fx_is_member(fx, w->channel, w->user);
}

bool fx_wait_member(struct fx *fx, const char *channel, const char *user, int timeout_ms)
{
    struct member_want w = { channel, user };
    return fx_wait(fx, pred_member, &w, timeout_ms);
}

const struct fake_channel *fx_incident_channel(struct fx *fx, int n)
{
    char prefix[32];
    int k = snprintf(prefix, sizeof(prefix), "sirt-%d-", n);
    for (size_t i = 0; i < fake_slack_channel_count(fx->slack); i++) {
        const struct fake_channel *c = fake_slack_channel(fx->slack, i);
        if (c->name && strncmp(c->name, prefix, (size_t)k) == 0)
            return c;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* counts of the other fakes */

size_t fx_pd_events(struct fx *fx)
{
    return fake_pagerduty_event_count(fx->pd);
}

size_t fx_gitlab_notes(struct fx *fx)
{
    return fake_gitlab_note_count(fx->gitlab);
}

size_t fx_gitlab_issues(struct fx *fx)
{
    return fake_gitlab_issue_count(fx->gitlab);
}

const char *fx_gitlab_note_with(struct fx *fx, const char *part)
{
    for (size_t i = 0; i < fake_gitlab_note_count(fx->gitlab); i++) {
        const char *b = util_jstr(fake_gitlab_note(fx->gitlab, i), "body");
        if (b && strstr(b, part))
            return b;
    }
    return NULL;
}

static bool pred_note(struct fx *fx, void *part)
{
    return fx_gitlab_note_with(fx, part) != NULL;
}

bool fx_wait_gitlab_note(struct fx *fx, const char *part, int timeout_ms)
{
    return fx_wait(fx, pred_note, (void *)part, timeout_ms);
}

int fx_gitlab_access(struct fx *fx, int user_id)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(fake_gitlab_project(fx->gitlab, 0), "id");
    return cJSON_IsNumber(id) ? fake_gitlab_member_access(fx->gitlab, id->valueint, user_id) : 0;
}

static bool pred_gitlab_member(struct fx *fx, void *ud)
{
    return fx_gitlab_access(fx, *(const int *)ud) > 0;
}

bool fx_wait_gitlab_member(struct fx *fx, int user_id, int timeout_ms)
{
    return fx_wait(fx, pred_gitlab_member, &user_id, timeout_ms);
}

struct n_want {
    fx_counter count;
    size_t n;
};

static bool pred_n(struct fx *fx, void *ud)
{
    const struct n_want *w = ud;
    return w->count(fx) >= w->n;
}

bool fx_wait_n(struct fx *fx, fx_counter count, size_t n, int timeout_ms)
{
    struct n_want w = { count, n };
    return fx_wait(fx, pred_n, &w, timeout_ms);
}

/* ------------------------------------------------------------------ */
/* the bot's SQLite file, read beside the running bot */

static sqlite3_stmt *db_query(struct fx *fx, const char *sql, sqlite3 **db)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/sirt.db", fx->dir);
    *db = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        TEST_FAIL("fx: cannot open %s read-only", path);
    sqlite3_busy_timeout(*db, 5000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(*db, sql, -1, &st, NULL) != SQLITE_OK)
        TEST_FAIL("fx: %s: %s", sql, sqlite3_errmsg(*db));
    return st;
}

static void db_done(sqlite3 *db, sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    sqlite3_close(db);
}

long long fx_db_int(struct fx *fx, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st = db_query(fx, sql, &db);
    long long v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    db_done(db, st);
    return v;
}

void fx_db_text(struct fx *fx, const char *sql, char *out, size_t n)
{
    sqlite3 *db;
    sqlite3_stmt *st = db_query(fx, sql, &db);
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    db_done(db, st);
}

char *fx_db_rows(struct fx *fx, const char *sql, const char *null_as)
{
    sqlite3 *db;
    sqlite3_stmt *st = db_query(fx, sql, &db);
    struct buf b;
    buf_init(&b, 0);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            buf_printf(&b, "%s%s", c ? ":" : "", v ? v : null_as);
        }
        buf_puts(&b, "|");
    }
    if (rc != SQLITE_DONE)
        TEST_FAIL("fx: %s: %s", sql, sqlite3_errmsg(db));
    db_done(db, st);
    char *s = buf_take(&b);
    return s ? s : xstrdup("");
}

struct db_want {
    const char *sql;
    long long v;
};

static bool pred_db(struct fx *fx, void *ud)
{
    const struct db_want *w = ud;
    return fx_db_int(fx, w->sql) == w->v;
}

bool fx_wait_db_int(struct fx *fx, const char *sql, long long v, int timeout_ms)
{
    struct db_want w = { sql, v };
    return fx_wait(fx, pred_db, &w, timeout_ms);
}

bool fx_read_file(const char *path, struct buf *out)
{
    buf_init(out, 0);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
    return true;
}

/* ------------------------------------------------------------------ */
/* the bot's HTTP endpoints */

int fx_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int fx_start_http(struct fx *fx, const char *const *env)
{
    int port = fx_free_port();
    if (port < 0)
        TEST_FAIL("fx: no free port for SIRT_HTTP");
    char http[64];
    snprintf(http, sizeof(http), "SIRT_HTTP=127.0.0.1:%d", port);
    const char *all[FX_MAX_ENV] = { http };
    for (size_t i = 0; env && env[i]; i++) {
        if (i + 2 >= FX_MAX_ENV)
            TEST_FAIL("fx: more than %d environment entries", FX_MAX_ENV - 2);
        all[i + 1] = env[i];
    }
    fx_start(fx, all);
    return port;
}

long fx_http_get(int port, const char *path, struct buf *body)
{
    char url[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    buf_reset(body);
    CURL *c = curl_easy_init();
    if (!c)
        TEST_FAIL("fx: curl_easy_init");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    FILE *f = tmpfile();
    if (!f)
        TEST_FAIL("fx: tmpfile");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    rewind(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(body, chunk, n);
    buf_append(body, "", 1);   /* data is never NULL, even for an empty body */
    body->len--;
    fclose(f);
    return status;
}

double fx_metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atof(p + n + 1);
    return -1;
}
