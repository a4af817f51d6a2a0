/* timeline: `/sirt timeline [SIRT-n]` — the incident's record as Markdown
 * for the postmortem (header, timeline in UTC, decisions, links), uploaded
 * to the incident's private channel as a file (slack.file_upload, which
 * falls back to code-block messages when Slack refuses uploads), and the
 * same Markdown for the GitLab issue at resolve (timeline_markdown).
 * People appear by name: the text carries {{user.<id>}} placeholders that
 * the effect fills from Slack profiles.  Only people allowed to see the
 * incident get it; anyone else gets a refusal that says nothing about the
 * incident.  Every stored text is masked and defused before it leaves;
 * nothing about the incident is logged but its id. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "flows.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define LINE_MAX_BYTES 900          /* one Markdown line */
#define LINES_MAX 4000              /* the file stays far below Slack's 1 MB */

static const char refusal[] = "Only people on the incident or in the SIRT team can get its timeline.";

static bool allowed(const struct hctx *ctx, const struct sirt_req *req, const struct incident *inc)
{
    if (inc_authorized(ctx, inc, req->user_id))
        return true;
    /* Asked inside the incident channel: the timeline goes where the asker already is. */
    return inc->channel_id && req->channel_id && strcmp(inc->channel_id, req->channel_id) == 0;
}


static bool is_user_id(const char *a)
{
    bool user = a && (a[0] == 'U' || a[0] == 'W') && strlen(a) < 24;
    for (const char *p = a; user && *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            user = false;
    return user;
}

/* ---- building the Markdown as lines ---- */

struct lines {
    char **v;
    size_t n, alloc;
};

/* Slack user ids become {{user.<id>}} (a name when it is sent); anything
 * else is the bot. */
static void actor(const char *a, struct buf *b)
{
    if (is_user_id(a))
        buf_printf(b, "{{user.%s}}", a);
    else
        buf_puts(b, "sirtbot");
}

/* User text for one Markdown line: masked, "{{" defused, cut at max bytes,
 * newlines and tabs made spaces; Slack mentions <@U1> / <@U1|x> become
 * {{user.U1}}.  Caller frees. */
static char *md_line(const char *s, size_t max)
{
    char *c = txt_clean(s ? s : "", max);
    struct buf b;
    buf_init(&b, 0);
    for (const char *p = c; *p;) {
        if (p[0] == '<' && p[1] == '@') {
            size_t n = strcspn(p + 2, ">|");
            const char *end = strchr(p + 2, '>');
            char id[32];
            if (n > 0 && n < sizeof(id) && end) {
                memcpy(id, p + 2, n);
                id[n] = '\0';
                if (is_user_id(id)) {
                    buf_printf(&b, "{{user.%s}}", id);
                    p = end + 1;
                    continue;
                }
            }
        }
        buf_append(&b, (*p == '\n' || *p == '\r' || *p == '\t') ? " " : p, 1);
        p++;
    }
    free(c);
    return buf_take(&b);
}

static void line_add(struct lines *l, struct buf *b)
{
    if (b->len > LINE_MAX_BYTES) {
        size_t n = LINE_MAX_BYTES - 4;
        while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
            n--;
        b->data[n] = '\0';
        b->len = n;
        buf_puts(b, " …");
    }
    if (l->n >= LINES_MAX) {
        buf_finish(b);
        return;
    }
    if (l->n == l->alloc) {
        l->alloc = l->alloc ? l->alloc * 2 : 32;
        l->v = xrealloc(l->v, l->alloc * sizeof(char *));
    }
    l->v[l->n++] = b->data ? buf_take(b) : xstrdup("");
}

static void line_printf(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_printf(struct lines *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, s);
    free(s);
    line_add(l, &b);   /* the length cap lives there */
}

static bool tl_line(void *ud, const struct timeline_entry *e)
{
    struct lines *l = ud;
    char when[32];
    txt_utc(e->ts_ms, "%Y-%m-%d %H:%M:%S UTC", when);
    char *kind = md_line(e->kind, 60);
    char *text = md_line(e->text, 600);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "- %s — ", when);
    actor(e->actor, &b);
    buf_printf(&b, " — %s: %s", kind, text);
    line_add(l, &b);
    free(kind);
    free(text);
    return true;
}

static bool decision_lines(void *ud, const struct decision *d)
{
    struct lines *l = ud;
    char when[32];
    txt_utc(d->created_ms, "%Y-%m-%d %H:%M:%S UTC", when);
    struct buf b;
    buf_init(&b, 0);
    char *sol = md_line(d->solution, 400);
    buf_printf(&b, "- Decision #%" PRId64 " (%s, by ", d->id, when);
    actor(d->author, &b);
    buf_printf(&b, "): %s", sol);
    line_add(l, &b);
    free(sol);
    const struct {
        const char *label, *value;
    } f[] = {
        { "Options considered", d->options },       { "Effectiveness", d->effectiveness },
        { "Customers affected", d->customers },     { "How they are affected", d->how_affected },
        { "Magnitude", d->magnitude },              { "Other consequences", d->consequences },
    };
    for (size_t i = 0; i < ARRAY_LEN(f); i++) {
        if (!f[i].value || !f[i].value[0])
            continue;
        char *v = md_line(f[i].value, 400);
        line_printf(l, "  - %s: %s", f[i].label, v);
        free(v);
    }
    if (d->fix_delivered_ms > 0) {
        txt_utc(d->fix_delivered_ms, "%Y-%m-%d %H:%M:%S UTC", when);
        buf_printf(&b, "  - Fix delivered: %s by ", when);
        actor(d->fix_delivered_by, &b);
        line_add(l, &b);
    } else {
        line_printf(l, "  - Fix delivered: not yet");
    }
    if (d->validated == 1 || d->validated == 0) {
        txt_utc(d->validated_ms, "%Y-%m-%d %H:%M:%S UTC", when);
        buf_printf(&b, "  - Validated: %s (%s by ", d->validated ? "effective" : "NOT effective", when);
        actor(d->validated_by, &b);
        buf_puts(&b, ")");
        line_add(l, &b);
    } else {
        line_printf(l, "  - Validated: not yet");
    }
    return true;
}

static void build(const struct hctx *ctx, const struct incident *inc, struct lines *l)
{
    char *title = md_line(inc->title, 150);
    char *comp = md_line(inc->component ? inc->component : "(not given)", 80);
    char created[32], resolved[32];
    txt_utc(inc->created_ms, "%Y-%m-%d %H:%M:%S UTC", created);
    txt_utc(inc->resolved_ms, "%Y-%m-%d %H:%M:%S UTC", resolved);
    bool open = !(inc->state && strcmp(inc->state, "resolved") == 0);

    line_printf(l, "# SIRT-%" PRId64 ": %s", inc->id, title);
    line_printf(l, "%s", "");
    line_printf(l, "- Severity: S%d · Priority: P%d · Component: %s", inc->severity, inc->priority, comp);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "- State: %s · Owner: ", open ? "open" : "resolved");
    if (inc->owner)
        actor(inc->owner, &b);
    else
        buf_puts(&b, "nobody");
    buf_puts(&b, " · Reporter: ");
    actor(inc->reporter, &b);
    line_add(l, &b);
    line_printf(l, "- Reported: %s · Resolved: %s", created, open ? "not yet" : resolved);
    line_printf(l, "%s", "");

    line_printf(l, "## Timeline (UTC)");
    line_printf(l, "%s", "");
    size_t before = l->n;
    store_timeline_list(ctx->store, inc->id, tl_line, l);
    if (l->n == before)
        line_printf(l, "- (no entries)");
    line_printf(l, "%s", "");

    line_printf(l, "## Decisions");
    line_printf(l, "%s", "");
    before = l->n;
    store_decisions_list(ctx->store, inc->id, decision_lines, l);
    if (l->n == before)
        line_printf(l, "- (none recorded)");
    line_printf(l, "%s", "");

    line_printf(l, "## Links");
    line_printf(l, "%s", "");
    if (inc->channel_id) {
        char *name = md_line(inc->channel_name ? inc->channel_name : "", 80);
        /* The outbox fills in the channel's URL. */
        line_printf(l, "- Slack channel: #%s (%s) {{incident.channel_url}}", name, inc->channel_id);
        free(name);
    } else {
        line_printf(l, "- Slack channel: not created yet");
    }
    if (inc->gitlab_issue_url) {
        char *u = md_line(inc->gitlab_issue_url, 500);
        line_printf(l, "- GitLab issue: %s", u);
        free(u);
    } else {
        line_printf(l, "- GitLab issue: none");
    }
    if (inc->issue_link) {
        char *u = md_line(inc->issue_link, 500);
        line_printf(l, "- Reported link: %s", u);
        free(u);
    }
    free(title);
    free(comp);
}

/* ---- the whole text ---- */

char *timeline_markdown(const struct hctx *ctx, const struct incident *inc)
{
    struct lines l = { 0 };
    build(ctx, inc, &l);
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < l.n; i++) {
        buf_puts(&b, l.v[i]);
        buf_puts(&b, "\n");
        free(l.v[i]);
    }
    free(l.v);
    return buf_take(&b);
}

/* The upload chain (bot/effects_files.c): the file in the incident channel,
 * or messages there when uploads are refused.  key makes it unique. */
static void upload(const struct hctx *ctx, const struct incident *inc, const char *key)
{
    char *md = timeline_markdown(ctx, inc);
    cJSON *p = cJSON_CreateObject();
    /* No channel yet: the effect waits for the incident channel. */
    if (inc->channel_id)
        cJSON_AddStringToObject(p, "channel", inc->channel_id);
    char name[64];
    snprintf(name, sizeof(name), "SIRT-%" PRId64 "-timeline.md", inc->id);
    cJSON_AddStringToObject(p, "filename", name);
    snprintf(name, sizeof(name), "SIRT-%" PRId64 " timeline", inc->id);
    cJSON_AddStringToObject(p, "title", name);
    snprintf(name, sizeof(name), "the timeline of SIRT-%" PRId64, inc->id);
    cJSON_AddStringToObject(p, "fallback_intro", name);
    cJSON_AddStringToObject(p, "content", md);
    cJSON_AddTrueToObject(p, "names");
    char idem[256];
    snprintf(idem, sizeof(idem), "SIRT-%" PRId64 "/%s", inc->id, key);
    outbox_add(ctx->store, inc->id, idem, "slack.file_upload", p, NULL, 0, 0);
    cJSON_Delete(p);
    free(md);
    LOG_INFO("timeline: upload to the incident channel planned", "incident:l", (long long)inc->id);
}

void timeline_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    if (!ctx->store) {
        reply_set_text(out, "I cannot read the incidents right now; try again in a moment.");
        return;
    }
    if (inc_for_reply(ctx, req, &inc, out) != 0)
        return;
    if (!allowed(ctx, req, &inc))
        reply_set_text(out, "%s", refusal);
    else if (inc.channel_id && inc_reply_private(ctx, req, &inc))
        reply_set_text(out, "Uploading the timeline of SIRT-%" PRId64 " to <#%s>, as a Markdown file for the "
                       "postmortem.", inc.id, inc.channel_id);
    else
        reply_set_text(out, "Uploading the timeline of SIRT-%" PRId64 " to the incident's private channel%s.",
                       inc.id, inc.channel_id ? "" : " once it exists");
    incident_finish(&inc);
}

int timeline_work(const struct hctx *ctx, const struct sirt_req *req)
{
    struct incident inc;
    if (!ctx->store || inc_for_req(ctx, req, &inc) != 0)
        return job_result(ctx);
    if (allowed(ctx, req, &inc)) {
        char key[200];
        job_request_key(req, "timeline", key, sizeof(key));
        upload(ctx, &inc, key);
    }
    incident_finish(&inc);
    return job_result(ctx);
}
