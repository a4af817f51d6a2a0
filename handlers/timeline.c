/* timeline: `/sirt timeline [SIRT-n]` — the incident's record as Markdown
 * for the postmortem (header, timeline in UTC, decisions, links), posted in
 * the incident's private channel in one or more ordered code-block parts
 * through the outbox.  Only people allowed to see the incident get it;
 * anyone else gets a refusal that says nothing about the incident.  Every
 * stored text is masked and defused before it is posted; nothing about the
 * incident is logged but its id. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/app.h"
#include "../bot/clock.h"
#include "../bot/log.h"
#include "../bot/outbox.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "common.h"
#include "handlers.h"

#define PART_MAX 3500               /* per chat message, fences included */
#define LINE_MAX_BYTES 900          /* one Markdown line */
#define PARTS_MAX 30
#define ORDER_DEADLINE_MS 60000     /* a later part waits this long for an earlier one */

static const char refusal[] = "Only people on the incident or in the SIRT team can get its timeline.";

static bool allowed(struct sirt_app *app, const struct sirt_req *req, const struct incident *inc)
{
    if (incident_authorized(app, inc, req->user_id))
        return true;
    /* Asked inside the incident channel: the timeline goes where the asker already is. */
    return inc->channel_id && req->channel_id && strcmp(inc->channel_id, req->channel_id) == 0;
}


/* Slack user ids only; anything else is the bot. */
static void actor(const char *a, struct buf *b)
{
    bool user = a && (a[0] == 'U' || a[0] == 'W') && strlen(a) < 24;
    for (const char *p = a; user && *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            user = false;
    if (user)
        buf_printf(b, "&lt;@%s&gt;", a);
    else
        buf_puts(b, "sirtbot");
}

/* ---- building the Markdown as lines ---- */

struct lines {
    char **v;
    size_t n, alloc;
};

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
    fmt_utc(e->ts_ms, "%Y-%m-%d %H:%M:%S UTC", when);
    char *kind = shown_line(e->kind, 60);
    char *text = shown_line(e->text, 600);
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
    fmt_utc(d->created_ms, "%Y-%m-%d %H:%M:%S UTC", when);
    struct buf b;
    buf_init(&b, 0);
    char *sol = shown_line(d->solution, 400);
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
        char *v = shown_line(f[i].value, 400);
        line_printf(l, "  - %s: %s", f[i].label, v);
        free(v);
    }
    if (d->fix_delivered_ms > 0) {
        fmt_utc(d->fix_delivered_ms, "%Y-%m-%d %H:%M:%S UTC", when);
        buf_printf(&b, "  - Fix delivered: %s by ", when);
        actor(d->fix_delivered_by, &b);
        line_add(l, &b);
    } else {
        line_printf(l, "  - Fix delivered: not yet");
    }
    if (d->validated == 1 || d->validated == 0) {
        fmt_utc(d->validated_ms, "%Y-%m-%d %H:%M:%S UTC", when);
        buf_printf(&b, "  - Validated: %s (%s by ", d->validated ? "effective" : "NOT effective", when);
        actor(d->validated_by, &b);
        buf_puts(&b, ")");
        line_add(l, &b);
    } else {
        line_printf(l, "  - Validated: not yet");
    }
    return true;
}

static void build(struct sirt_app *app, const struct incident *inc, struct lines *l)
{
    char *title = shown_line(inc->title, 150);
    char *comp = shown_line(inc->component ? inc->component : "(not given)", 80);
    char created[32], resolved[32];
    fmt_utc(inc->created_ms, "%Y-%m-%d %H:%M:%S UTC", created);
    fmt_utc(inc->resolved_ms, "%Y-%m-%d %H:%M:%S UTC", resolved);
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
    store_timeline_list(app->store, inc->id, tl_line, l);
    if (l->n == before)
        line_printf(l, "- (no entries)");
    line_printf(l, "%s", "");

    line_printf(l, "## Decisions");
    line_printf(l, "%s", "");
    before = l->n;
    store_decisions_list(app->store, inc->id, decision_lines, l);
    if (l->n == before)
        line_printf(l, "- (none recorded)");
    line_printf(l, "%s", "");

    line_printf(l, "## Links");
    line_printf(l, "%s", "");
    if (inc->channel_id) {
        char *name = shown_line(inc->channel_name ? inc->channel_name : "", 80);
        /* The outbox fills in the channel's URL. */
        line_printf(l, "- Slack channel: #%s (%s) {{incident.channel_url}}", name, inc->channel_id);
        free(name);
    } else {
        line_printf(l, "- Slack channel: not created yet");
    }
    if (inc->gitlab_issue_url) {
        char *u = shown_line(inc->gitlab_issue_url, 500);
        line_printf(l, "- GitLab issue: %s", u);
        free(u);
    } else {
        line_printf(l, "- GitLab issue: none");
    }
    if (inc->issue_link) {
        char *u = shown_line(inc->issue_link, 500);
        line_printf(l, "- Reported link: %s", u);
        free(u);
    }
    free(title);
    free(comp);
}

/* ---- posting ---- */

static void post_parts(struct sirt_app *app, const struct incident *inc, const char *key_base,
                       const struct lines *l)
{
    char *parts[PARTS_MAX];
    size_t np = 0, i = 0;
    /* Room for the fences, "(part i/n)" and the note that the rest is missing. */
    const size_t budget = PART_MAX - 120;
    while (i < l->n && np < PARTS_MAX) {
        struct buf b;
        buf_init(&b, 0);
        while (i < l->n) {
            size_t need = strlen(l->v[i]) + 1;
            if (b.len && b.len + need > budget)
                break;
            buf_puts(&b, l->v[i]);
            buf_puts(&b, "\n");
            i++;
        }
        parts[np++] = buf_take(&b);
    }
    bool truncated = i < l->n;
    int64_t now = clock_now_ms();
    int64_t prev = 0;
    for (size_t k = 0; k < np; k++) {
        struct buf t;
        buf_init(&t, 0);
        buf_printf(&t, "```\n%s```", parts[k]);
        if (np > 1)
            buf_printf(&t, "\n_(part %zu/%zu)_", k + 1, np);
        if (truncated && k + 1 == np)
            buf_puts(&t, "\n_(the timeline is longer: the rest is in the store)_");
        char key[256];
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s/%zu", inc->id, key_base, k + 1);
        cJSON *p = cJSON_CreateObject();
        /* No channel yet: the effect waits for the incident channel. */
        if (inc->channel_id)
            cJSON_AddStringToObject(p, "channel", inc->channel_id);
        cJSON_AddStringToObject(p, "text", t.data);
        cJSON_AddFalseToObject(p, "unfurl_links");
        int64_t id = outbox_add(app->store, inc->id, key, "slack.post", p, prev > 0 ? &prev : NULL,
                                prev > 0 ? 1 : 0, prev > 0 ? now + ORDER_DEADLINE_MS : 0);
        if (id > 0)
            prev = id;
        cJSON_Delete(p);
        buf_finish(&t);
        free(parts[k]);
    }
    LOG_INFO("timeline: posted in the incident channel", "incident:l parts:d", (long long)inc->id, (int)np);
}

void timeline_respond(struct sirt_app *app, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char err[160];
    if (!app->store) {
        reply_set_text(out, "I cannot read the incidents right now; try again in a moment.");
        return;
    }
    if (incident_for(app, req->channel_id, req->args, &inc, NULL, err, sizeof(err)) != 0) {
        reply_set_text(out, "%s", err);
        return;
    }
    if (!allowed(app, req, &inc))
        reply_set_text(out, "%s", refusal);
    else if (inc.channel_id && reply_private_for(app, req, &inc))
        reply_set_text(out, "Posting the timeline of SIRT-%" PRId64 " in <#%s>, as Markdown for the postmortem.",
                       inc.id, inc.channel_id);
    else
        reply_set_text(out, "Posting the timeline of SIRT-%" PRId64 " in the incident's private channel%s.",
                       inc.id, inc.channel_id ? "" : " once it exists");
    incident_finish(&inc);
}

int timeline_work(struct sirt_app *app, const struct sirt_req *req)
{
    struct incident inc;
    char err[160];
    if (!app->store || incident_for(app, req->channel_id, req->args, &inc, NULL, err, sizeof(err)) != 0)
        return handler_result(app);
    if (allowed(app, req, &inc)) {
        struct lines l = { 0 };
        build(app, &inc, &l);
        char key[200];
        request_key(req, "timeline", key, sizeof(key));
        post_parts(app, &inc, key, &l);
        for (size_t i = 0; i < l.n; i++)
            free(l.v[i]);
        free(l.v);
    }
    incident_finish(&inc);
    return handler_result(app);
}
