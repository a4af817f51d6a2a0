/* link: `/sirt link [SIRT-n] <URL>` (and `@sirt link …`; inside an incident
 * channel the incident is implied), and the report form's Issue link when
 * it names an issue on GITLAB_URL: attaches that existing issue (e.g. one
 * filed from HackerOne) to the incident.  Here: parsing the URL, who may
 * do it, and one gitlab.link outbox job per attempt (effects.h), after the
 * incident's own issue exists.  The effect posts the reproduction steps on
 * the issue, links both issues, records it and tells the channel.  Nothing
 * here touches the network; strings returned are the caller's. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/sha256.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define URL_MAX 2000
#define MAX_ATTEMPTS 20        /* a link tried again after GitLab refused it, per incident and issue */

/* A GitLab path segment: letters, digits, '_', '-', '.', not starting with
 * '-' or '.', and never "." or "..". */
static bool path_segment_ok(const char *s, size_t n)
{
    if (n == 0 || s[0] == '-' || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) && c < 0x80) && c != '_' && c != '-' && c != '.')
            return false;
    }
    return true;
}

/* "<namespace path>/<project>": at least two good segments. */
static bool project_path_ok(const char *s, size_t n)
{
    size_t segs = 0, i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        if (!path_segment_ok(s + i, j - i))
            return false;
        segs++;
        i = j + 1;
    }
    return segs >= 2;
}

/* The iid in s[0..n): 1..2^31-1 without sign or leading zeros. */
static int64_t parse_iid(const char *s, size_t n)
{
    if (n == 0 || n > 10 || s[0] == '0')
        return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 2147483647 ? v : 0;
}

int link_parse_url(const char *gitlab_url, const char *url, char *path, size_t plen, int64_t *iid, char *canon,
                   size_t clen)
{
    if (!gitlab_url || !url)
        return LINK_URL_NOT_GITLAB;
    size_t bl = strlen(gitlab_url);
    while (bl > 0 && gitlab_url[bl - 1] == '/')
        bl--;
    if (bl == 0 || strncasecmp(url, gitlab_url, bl) != 0 || url[bl] != '/')
        return LINK_URL_NOT_GITLAB;
    const char *rest = url + bl + 1;
    size_t n = strcspn(rest, "?#");
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char)rest[i]) || (unsigned char)rest[i] < 0x20)
            return LINK_URL_NOT_ISSUE;
    while (n > 0 && rest[n - 1] == '/')
        n--;
    /* "<path>/-/issues/<iid>", or the older "<path>/issues/<iid>" */
    const char *slash = NULL;
    for (size_t i = n; i > 0; i--)
        if (rest[i - 1] == '/') {
            slash = rest + i - 1;
            break;
        }
    if (!slash)
        return LINK_URL_NOT_ISSUE;
    int64_t v = parse_iid(slash + 1, (size_t)(rest + n - slash - 1));
    size_t head = (size_t)(slash - rest);   /* "<path>/-/issues" or "<path>/issues" */
    size_t pl;
    if (v <= 0 || head < 8 || strncmp(rest + head - 7, "/issues", 7) != 0)
        return LINK_URL_NOT_ISSUE;
    pl = head - 7;
    if (pl >= 2 && strncmp(rest + pl - 2, "/-", 2) == 0)
        pl -= 2;
    if (!project_path_ok(rest, pl) || pl + 1 > plen)
        return LINK_URL_NOT_ISSUE;
    memcpy(path, rest, pl);
    path[pl] = '\0';
    *iid = v;
    int k = snprintf(canon, clen, "%.*s/%s/-/issues/%" PRId64, (int)bl, gitlab_url, path, v);
    if (k < 0 || (size_t)k >= clen)
        return LINK_URL_NOT_ISSUE;
    return LINK_URL_ISSUE;
}

/* "SIRT-<n>/link/<16 hex of the lowercased path#iid>" into out. */
static void key_base(int64_t incident, const char *path, int64_t iid, char *out, size_t size)
{
    char *id = xasprintf("%s#%" PRId64, path, iid);
    for (char *p = id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    unsigned char d[SHA256_LEN];
    struct sha256 c;
    sha256_init(&c);
    sha256_update(&c, id, strlen(id));
    sha256_final(&c, d);
    free(id);
    int k = snprintf(out, size, "SIRT-%" PRId64 "/link/", incident);
    for (int i = 0; i < 8 && k + 2 < (int)size; i++, k += 2)
        snprintf(out + k, size - (size_t)k, "%02x", d[i]);
}

static void attempt_key(const char *base, int attempt, char *out, size_t size)
{
    if (attempt <= 1)
        snprintf(out, size, "%s", base);
    else
        snprintf(out, size, "%s/again-%d", base, attempt);
}

enum attempt_state { ATTEMPT_NONE, ATTEMPT_RUNNING, ATTEMPT_LINKED, ATTEMPT_NOT_LINKED };

/* Where the attempts to link (path, iid) to inc stand: the latest one's
 * state, and the number the next attempt takes (MAX_ATTEMPTS + 1 = no more). */
static enum attempt_state attempts(const struct hctx *ctx, int64_t incident, const char *path, int64_t iid,
                                   int *next)
{
    char base[96], key[128];
    key_base(incident, path, iid, base, sizeof(base));
    int64_t last = 0;
    int k = 1;
    for (; k <= MAX_ATTEMPTS; k++) {
        attempt_key(base, k, key, sizeof(key));
        int64_t id = store_outbox_find(ctx->store, key);
        if (id <= 0)
            break;
        last = id;
    }
    *next = k;
    if (last <= 0)
        return ATTEMPT_NONE;
    struct outbox_job j;
    memset(&j, 0, sizeof(j));
    if (store_outbox_get(ctx->store, last, &j) != 0)
        return ATTEMPT_RUNNING;   /* unknown: do not add another */
    enum attempt_state st = ATTEMPT_RUNNING;
    if (j.state == OUTBOX_FAILED || j.state == OUTBOX_DROPPED) {
        st = ATTEMPT_NOT_LINKED;
    } else if (j.state == OUTBOX_DONE) {
        cJSON *r = j.result ? cJSON_Parse(j.result) : NULL;
        st = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "linked")) ? ATTEMPT_LINKED : ATTEMPT_NOT_LINKED;
        cJSON_Delete(r);
    }
    outbox_job_finish(&j);
    return st;
}

/* The comment for the existing issue: the incident's summarized
 * reproduction steps (masked when stored; masked again here). */
static char *note_body(const struct incident *inc)
{
    char *repro = txt_clean(inc->repro ? inc->repro : "", 0);
    char *b;
    if (repro[0])
        b = xasprintf("**Security incident SIRT-%" PRId64 "** is linked to this issue (sirtbot). Its summarized "
                      "reproduction steps, as reported (secrets masked):\n\n```\n%s\n```\n",
                      inc->id, repro);
    else
        b = xasprintf("**Security incident SIRT-%" PRId64 "** is linked to this issue (sirtbot). No reproduction "
                      "steps were reported yet; they will be added to the incident's confidential issue.\n",
                      inc->id);
    free(repro);
    return b;
}

int64_t link_add(const struct hctx *ctx, const struct incident *inc, const char *actor, const char *url,
                 const char *path, int64_t iid, int64_t issue_job)
{
    int next = 1;
    enum attempt_state st = attempts(ctx, inc->id, path, iid, &next);
    if (st == ATTEMPT_RUNNING || st == ATTEMPT_LINKED || next > MAX_ATTEMPTS)
        return 0;
    char base[96], key[128];
    key_base(inc->id, path, iid, base, sizeof(base));
    attempt_key(base, next, key, sizeof(key));
    char *murl = txt_clean(url, URL_MAX);
    char *body = note_body(inc);
    char *marker = xasprintf("sirt:%s", key);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "url", murl);
    cJSON_AddStringToObject(p, "project_path", path);
    cJSON_AddNumberToObject(p, "iid", (double)iid);
    cJSON_AddStringToObject(p, "body", body);
    cJSON_AddStringToObject(p, "marker", marker);
    if (actor)
        cJSON_AddStringToObject(p, "actor", actor);
    int64_t id = outbox_add(ctx->store, inc->id, key, "gitlab.link", p, issue_job > 0 ? &issue_job : NULL,
                            issue_job > 0 ? 1 : 0, 0);
    cJSON_Delete(p);
    free(marker);
    free(body);
    free(murl);
    LOG_INFO("link: job added", "incident:l attempt:d", (long long)inc->id, next);
    return id;
}

/* ---- /sirt link ---- */

/* The URL argument: Slack sends links as "<url>" or "<url|label>". */
static void unwrap_url(const char *arg, char *out, size_t size)
{
    while (isspace((unsigned char)*arg))
        arg++;
    size_t n = strcspn(arg, " \t\r\n");
    if (n >= 2 && arg[0] == '<' && arg[n - 1] == '>') {
        arg++;
        n -= 2;
        size_t bar = strcspn(arg, "|");
        if (bar < n)
            n = bar;
    }
    if (n >= size)
        n = size - 1;
    memcpy(out, arg, n);
    out[n] = '\0';
}

struct link_req {
    struct incident inc;
    char path[URL_MAX + 1];
    char url[URL_MAX + 64];
    int64_t iid;
    int64_t issue_job;
};

/* Parses and checks a request.  0, or -1 with a message for the asker. */
static int link_parse(const struct hctx *ctx, const struct sirt_req *req, struct link_req *lr, char *msg, size_t len)
{
    const char *rest = NULL;
    memset(lr, 0, sizeof(*lr));
    if (inc_for(ctx, req->channel_id, req->args, &lr->inc, &rest, msg, len) != 0)
        return -1;
    int64_t n = lr->inc.id;
    int rc = -1;
    char raw[URL_MAX + 1];
    unwrap_url(rest ? rest : "", raw, sizeof(raw));
    const char *gl = ctx->cfg ? ctx->cfg->gitlab_url : NULL;
    if (!inc_authorized(ctx, &lr->inc, req->user_id)) {
        snprintf(msg, len, "Sorry, only the SIRT team and the people on SIRT-%" PRId64 " can link issues to it.", n);
    } else if (!raw[0]) {
        snprintf(msg, len, "Usage: `link SIRT-%" PRId64 " <issue URL>`, e.g. `%s/<group>/<project>/-/issues/<number>`.",
                 n, gl ? gl : "https://gitlab.example.com");
    } else if (!gl) {
        snprintf(msg, len, "GitLab is not configured for sirtbot (GITLAB_URL), so there is no issue to link. "
                           "Post the link in the incident channel instead.");
    } else {
        int k = link_parse_url(gl, raw, lr->path, sizeof(lr->path), &lr->iid, lr->url, sizeof(lr->url));
        char *shown = txt_line(raw, 200);
        if (k == LINK_URL_NOT_GITLAB) {
            snprintf(msg, len, "I can only link issues on %s, and %s is not there. Post other links in the "
                               "incident channel.", gl, shown);
        } else if (k != LINK_URL_ISSUE) {
            snprintf(msg, len, "%s is not a GitLab issue URL: use `%s/<group>/<project>/-/issues/<number>`.", shown,
                     gl);
        } else {
            rc = 0;
        }
        free(shown);
    }
    if (rc == 0 && lr->inc.gitlab_issue_iid <= 0) {
        char key[64];
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/gitlab_issue", n);
        lr->issue_job = store_outbox_find(ctx->store, key);
        if (lr->issue_job <= 0) {
            snprintf(msg, len, "SIRT-%" PRId64 " has no GitLab issue of its own to link from.", n);
            rc = -1;
        }
    }
    if (rc == 0) {
        int next = 1;
        enum attempt_state st = attempts(ctx, n, lr->path, lr->iid, &next);
        if (st == ATTEMPT_LINKED) {
            snprintf(msg, len, "%s is already linked to SIRT-%" PRId64 ".", lr->url, n);
            rc = -1;
        } else if (st == ATTEMPT_RUNNING) {
            snprintf(msg, len, "%s is being linked to SIRT-%" PRId64 " already; the incident channel hears when "
                               "it is done.", lr->url, n);
            rc = -1;
        } else if (next > MAX_ATTEMPTS) {
            snprintf(msg, len, "%s was tried %d times already; link it by hand in GitLab.", lr->url, MAX_ATTEMPTS);
            rc = -1;
        }
    }
    if (rc != 0)
        incident_finish(&lr->inc);
    return rc;
}

void link_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct link_req *lr = xcalloc(1, sizeof(*lr));
    char msg[URL_MAX + 600];
    if (link_parse(ctx, req, lr, msg, sizeof(msg)) != 0) {
        reply_set_text(out, "%s", msg);
        free(lr);
        return;
    }
    if (inc_reply_private(ctx, req, &lr->inc))
        reply_set_text(out, "Linking %s to SIRT-%" PRId64 ": its reproduction steps go there as an internal "
                            "comment and the two issues will link each other. The incident channel hears when "
                            "it is done.", lr->url, lr->inc.id);
    else
        reply_set_text(out, "Linking the issue to SIRT-%" PRId64 "; the incident channel has the details.",
                       lr->inc.id);
    incident_finish(&lr->inc);
    free(lr);
}

int link_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct link_req *lr = xcalloc(1, sizeof(*lr));
    char msg[URL_MAX + 600];
    if (link_parse(ctx, req, lr, msg, sizeof(msg)) != 0) {
        free(lr);
        return job_result(ctx);   /* respond() told the asker */
    }
    link_add(ctx, &lr->inc, req->user_id, lr->url, lr->path, lr->iid, lr->issue_job);
    incident_finish(&lr->inc);
    free(lr);
    return job_result(ctx);
}
