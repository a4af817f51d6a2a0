/* effects_files: a Markdown file posted to a channel with Slack's external
 * upload, as a chain of three outbox jobs, each the follow-up of the one
 * before (so each step is retried on its own and none is done twice):
 *   slack.file_upload   files.getUploadURLExternal (filename, length)
 *   slack.file_bytes    POST of the bytes to the upload_url it returned
 *   slack.file_complete files.completeUploadExternal (files, channel_id)
 * When Slack refuses uploads (not_allowed_token_type, missing_scope,
 * file_uploads_disabled, ...) or a step fails for good, the step finishes
 * DONE with follow-up slack.post jobs instead: a notice saying why, then
 * the file in ordered code-block parts within Block Kit limits.  Every job
 * carries the whole text, so any step can fall back.  Payload strings are
 * the handler's (already masked); nothing here writes the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "blockkit.h"
#include "effects_internal.h"
#include "http.h"
#include "log.h"
#include "slack_api.h"
#include "util.h"

#define FILE_MAX_BYTES (900 * 1024)     /* under Slack's 1 MB snippet limit */
#define PART_BUDGET 2800                /* bytes of text per part, fences and note included < 3000 */
#define PARTS_MAX 30
#define UPLOAD_TIMEOUT_MS 30000L

/* The payload every step passes on: what it needs to finish or fall back. */
static cJSON *carry(const struct fx *fx, const char *channel)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", channel);
    const char *keys[] = { "filename", "title", "content", "fallback_intro" };
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const char *v = eff_str(fx->payload, keys[i]);
        if (v)
            cJSON_AddStringToObject(p, keys[i], v);
    }
    return p;
}

static cJSON *add_job(cJSON *jobs, const char *key, const char *op, cJSON *payload, const char *after)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "key", key);
    cJSON_AddStringToObject(j, "op", op);
    cJSON_AddItemToObject(j, "payload", payload);
    if (after)
        cJSON_AddStringToObject(j, "after", after);
    cJSON_AddItemToArray(jobs, j);
    return j;
}

static const char *job_channel(struct fx *fx)
{
    const char *ch = eff_str(fx->payload, "channel");
    return ch ? ch : fx->inc_channel_id;
}

/* ---- the fallback: the text as messages ---- */

/* mrkdwn-safe copy of n bytes of s for a code block: & < > escaped, ` made '. */
static void put_code(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '`': buf_puts(b, "'"); break;
        default: buf_append(b, &s[i], 1);
        }
    }
}

/* Escaped length of n bytes of s (as put_code writes them). */
static size_t code_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += s[i] == '&' ? 5 : (s[i] == '<' || s[i] == '>') ? 4 : 1;
    return len;
}

/* Splits content at line ends into parts of at most budget escaped bytes
 * (a longer line is cut on a UTF-8 boundary); returns how many were written
 * to parts (malloc'd), at most max; *rest is set when text was left out. */
static size_t split_parts(const char *content, size_t budget, char **parts, size_t max, bool *rest)
{
    size_t np = 0;
    const char *p = content;
    *rest = false;
    while (*p && np < max) {
        struct buf b;
        buf_init(&b, 0);
        while (*p) {
            size_t line = strcspn(p, "\n");
            size_t take = line + (p[line] == '\n');
            size_t need = code_len(p, take);
            if (b.len + need > budget) {
                if (b.len)
                    break;
                /* one line longer than a part: cut it */
                take = 0;
                size_t room = budget;
                while (take < line) {
                    size_t w = code_len(p + take, 1);
                    if (w > room)
                        break;
                    room -= w;
                    take++;
                }
                while (take > 0 && ((unsigned char)p[take] & 0xC0) == 0x80)
                    take--;
                if (take == 0)
                    take = 1;
            }
            put_code(&b, p, take);
            p += take;
        }
        parts[np++] = buf_take(&b);
    }
    *rest = *p != '\0';
    return np;
}

static cJSON *post_payload(const char *channel, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "channel", channel);
    cJSON_AddStringToObject(p, "text", text);
    cJSON *blocks = cJSON_AddArrayToObject(p, "blocks");
    cJSON *sec = cJSON_CreateObject();
    cJSON_AddStringToObject(sec, "type", "section");
    cJSON *t = cJSON_AddObjectToObject(sec, "text");
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    cJSON_AddStringToObject(t, "text", text);
    cJSON_AddItemToArray(blocks, sec);
    cJSON_AddFalseToObject(p, "unfurl_links");
    return p;
}

/* Finishes DONE with the messages that replace the file: a notice that
 * says why, then the parts, each after the one before. */
static void fall_back(struct fx *fx, const char *why)
{
    const char *channel = job_channel(fx);
    const char *content = eff_str(fx->payload, "content");
    const char *intro = eff_str(fx->payload, "fallback_intro");
    if (!channel || !content) {
        eff_fail(fx, "file upload refused (%s) and nothing to post instead", why);
        return;
    }
    LOG_WARN("file upload not possible: posting the text instead", "op:s job:l incident:l why:s", fx->op,
             (long long)fx->job_id, (long long)fx->incident_id, why);
    cJSON *res = eff_result(fx);
    cJSON_AddStringToObject(res, "fallback", why);
    cJSON *jobs = cJSON_AddArrayToObject(res, "jobs");
    char *notice = xasprintf(":warning: I could not upload %s as a file (Slack said `%.60s`), so here it is "
                             "as messages instead.%s",
                             intro ? intro : "the file", why,
                             strstr(why, "scope") || strstr(why, "token")
                                 ? " Give the app the `files:write` scope to get files." : "");
    add_job(jobs, "fallback/0", "slack.post", post_payload(channel, notice), NULL);
    free(notice);
    char *parts[PARTS_MAX];
    bool rest = false;
    size_t np = split_parts(content, PART_BUDGET, parts, PARTS_MAX, &rest);
    char prev[32] = "fallback/0";
    for (size_t i = 0; i < np; i++) {
        struct buf t;
        buf_init(&t, 0);
        buf_printf(&t, "```\n%s```", parts[i]);
        if (np > 1)
            buf_printf(&t, "\n_(part %zu/%zu)_", i + 1, np);
        if (rest && i + 1 == np)
            buf_puts(&t, "\n_(longer than fits in messages: the rest is left out)_");
        char key[32];
        snprintf(key, sizeof(key), "fallback/%zu", i + 1);
        add_job(jobs, key, "slack.post", post_payload(channel, t.data), prev);
        str_lcpy(prev, key, sizeof(prev));
        buf_finish(&t);
        free(parts[i]);
    }
    eff_done(fx);
}

/* A failed step: retried when the failure is transient, else the fallback. */
static void step_failed_api(struct fx *fx, const struct api_result *r)
{
    struct effect_result m;
    char err[128];
    eff_outcome_api(r, fx->mutating, &m, err, sizeof(err));
    if (m.outcome == EFFECT_RETRY) {
        eff_finish_api(fx, r);
        return;
    }
    fall_back(fx, err);
}

/* ---- step 1: an upload URL ---- */

static void url_got(struct fx *fx, const struct api_result *r)
{
    if (r->err != API_OK) {
        step_failed_api(fx, r);
        return;
    }
    const char *url = eff_str(r->json, "upload_url");
    const char *id = eff_str(r->json, "file_id");
    if (!url || !id || eff_has_ctl(url) || !(str_starts(url, "https://") || str_starts(url, "http://"))) {
        fall_back(fx, "no upload_url in the answer");
        return;
    }
    cJSON *p = carry(fx, job_channel(fx));
    cJSON_AddStringToObject(p, "upload_url", url);
    cJSON_AddStringToObject(p, "file_id", id);
    cJSON *res = eff_result(fx);
    cJSON_AddStringToObject(res, "file_id", id);
    add_job(cJSON_AddArrayToObject(res, "jobs"), "bytes", "slack.file_bytes", p, NULL);
    eff_done(fx);
}

void eff_slack_file_upload(struct fx *fx)
{
    const char *content = eff_str(fx->payload, "content");
    const char *filename = eff_str(fx->payload, "filename");
    if (!content || !filename) {
        eff_fail(fx, "bad payload: content and filename are required");
        return;
    }
    if (!job_channel(fx)) {
        eff_wait(fx, "the incident channel");
        return;
    }
    size_t len = strlen(content);
    if (len > FILE_MAX_BYTES) {
        fall_back(fx, "file too large");
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "filename", filename);
    cJSON_AddNumberToObject(args, "length", (double)len);
    /* Not JSON: Slack's docs do not list JSON bodies for this method. */
    eff_slack_form(fx, "files.getUploadURLExternal", args, false, url_got);
}

/* ---- step 2: the bytes ---- */

static void bytes_sent(struct fx *fx, const struct http_response *resp)
{
    if (resp->err == HTTP_OK && resp->status == 200) {
        cJSON *p = carry(fx, job_channel(fx));
        cJSON_AddStringToObject(p, "file_id", eff_str(fx->payload, "file_id"));
        add_job(cJSON_AddArrayToObject(eff_result(fx), "jobs"), "complete", "slack.file_complete", p, NULL);
        eff_done(fx);
        return;
    }
    struct effect_result m;
    char err[128];
    eff_outcome_http(resp, true, "slack upload", &m, err, sizeof(err));
    if (m.outcome == EFFECT_RETRY) {
        eff_finish_http(fx, resp, "slack upload");
        return;
    }
    /* Slack: HTTP 200 is success, anything else a failure. */
    fall_back(fx, m.outcome == EFFECT_DONE ? "upload not accepted" : err);
}

void eff_slack_file_bytes(struct fx *fx)
{
    const char *url = eff_str(fx->payload, "upload_url");
    const char *content = eff_str(fx->payload, "content");
    if (!url || !content || !eff_str(fx->payload, "file_id")) {
        eff_fail(fx, "bad payload: upload_url, file_id and content are required");
        return;
    }
    if (eff_has_ctl(url) || !(str_starts(url, "https://") || str_starts(url, "http://"))) {
        eff_fail(fx, "bad payload: upload_url is not an http(s) URL");
        return;
    }
    /* No credentials: the URL itself is the grant. */
    const char *hdrs[] = { "Content-Type: application/octet-stream", NULL };
    if (eff_http_send_raw(fx, "POST", url, hdrs, content, strlen(content), true, UPLOAD_TIMEOUT_MS, bytes_sent) != 0)
        eff_finish(fx, EFFECT_RETRY, -1, fx->job_maybe_sent, "canceled");
}

/* ---- step 3: shared in the channel ---- */

static void completed(struct fx *fx, const struct api_result *r)
{
    if (r->err == API_OK) {
        cJSON *res = eff_result(fx);
        cJSON_AddStringToObject(res, "file_id", eff_str(fx->payload, "file_id"));
        cJSON_AddStringToObject(res, "channel", job_channel(fx));
        eff_done(fx);
        return;
    }
    if (r->err == API_ESLACK && fx->job_maybe_sent && r->error && strcmp(r->error, "file_not_found") == 0) {
        /* An earlier attempt completed it (the file is no longer pending):
         * posting it again as messages would say it twice. */
        LOG_INFO("file upload: completed by an earlier attempt", "job:l", (long long)fx->job_id);
        eff_done(fx);
        return;
    }
    step_failed_api(fx, r);
}

void eff_slack_file_complete(struct fx *fx)
{
    const char *id = eff_str(fx->payload, "file_id");
    const char *channel = job_channel(fx);
    if (!id || !channel) {
        eff_fail(fx, "bad payload: file_id and channel are required");
        return;
    }
    const char *title = eff_str(fx->payload, "title");
    cJSON *args = cJSON_CreateObject();
    cJSON *files = cJSON_AddArrayToObject(args, "files");
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "id", id);
    cJSON_AddStringToObject(f, "title", title ? title : eff_str(fx->payload, "filename") ? eff_str(fx->payload, "filename") : id);
    cJSON_AddItemToArray(files, f);
    cJSON_AddStringToObject(args, "channel_id", channel);
    eff_slack(fx, "files.completeUploadExternal", args, false, true, completed);
}
