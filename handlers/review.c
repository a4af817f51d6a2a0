/* review: the weekly review digest (sirt-handbook.md, "Incident Management
 * and Review"): every incident reported in the last 7 days and every open
 * one, each with scope, impact, work done to mitigate and remediate, next
 * steps, blockers and status, posted in cfg->sirt_channel as one or more
 * ordered messages through the outbox.  Details only if that channel is
 * private: each message is a "private_only" slack.post whose effect asks
 * conversations.info first; the first also carries the reduced digest
 * (ids, severities, states) posted instead when the channel is public or
 * its privacy cannot be established.  `/sirt review`
 * posts it now; the "weekly_review" timer posts it Monday 09:00 (config
 * timezone) and arms the next one.  Runs inside the caller's transaction;
 * nothing here touches the network or logs incident text. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bot/blockkit.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "../bot/workhours.h"
#include "handlers.h"
#include "job.h"
#include "review_parts.h"
#include "txt.h"

#define REVIEW_KEY "weekly_review"
#define REVIEW_WINDOW_MS (7LL * 24 * 3600 * 1000)
#define PART_MAX 3500               /* per chat message */
#define ITEM_MAX 3300               /* one incident's section, so a header still fits */
#define PARTS_MAX 40                /* more than this: the rest is summarised */
#define DECISIONS_SHOWN 4
#define FAILURES_SHOWN 3
#define ORDER_DEADLINE_MS 60000     /* a later part waits this long for an earlier one */
#define BRIEF_MAX 60                /* incidents listed in the reduced digest */

static const char *sirt_channel(const struct hctx *ctx)
{
    const char *c = ctx->cfg ? ctx->cfg->sirt_channel : NULL;
    return c && *c ? c : NULL;
}

/* SIRT team members and the appsec engineers may ask for the digest now. */
static bool may_request(const struct hctx *ctx, const char *user)
{
    if (!ctx->cfg || !user)
        return false;
    return cfg_strv_has(&ctx->cfg->sirt_team, user) || cfg_appsec_user(ctx->cfg, user) != NULL;
}



/* Cuts b to at most max bytes on a UTF-8 boundary, marking the cut. */
static void cut_buf(struct buf *b, size_t max)
{
    if (b->len <= max || max < 8)
        return;
    size_t n = max - 4;
    while (n > 0 && ((unsigned char)b->data[n] & 0xC0) == 0x80)
        n--;
    b->data[n] = '\0';
    b->len = n;
    buf_puts(b, " …");
}

/* ---- one incident ---- */

struct dec_sum {
    int n, delivered, effective, not_effective;
    struct buf lines;           /* the first DECISIONS_SHOWN */
    struct buf next;            /* next steps they imply */
};

static bool sum_decision(void *ud, const struct decision *d)
{
    struct dec_sum *s = ud;
    s->n++;
    const char *state;
    if (d->validated == 1) {
        s->delivered++;
        s->effective++;
        state = "fix delivered, validated effective";
    } else if (d->validated == 0) {
        s->delivered++;
        s->not_effective++;
        state = "fix delivered, validated NOT effective";
        buf_printf(&s->next, "%sdecision #%" PRId64 " was not effective: decide again", s->next.len ? "; " : "",
                   d->id);
    } else if (d->fix_delivered_ms > 0) {
        s->delivered++;
        state = "fix delivered, not validated yet";
        buf_printf(&s->next, "%svalidate the fix of decision #%" PRId64, s->next.len ? "; " : "", d->id);
    } else {
        state = "fix not delivered yet";
        buf_printf(&s->next, "%sdeliver the fix of decision #%" PRId64, s->next.len ? "; " : "", d->id);
    }
    if (s->n <= DECISIONS_SHOWN) {
        char *sol = txt_line(d->solution, 140);
        buf_printf(&s->lines, "\n    ◦ #%" PRId64 " %s — %s", d->id, sol, state);
        free(sol);
    }
    return true;
}

struct tl_sum {
    int pages, page_requests, not_paged, handoffs, invites, channel_created, issue_created, failures, total;
    char *failure[FAILURES_SHOWN];  /* the latest ones, masked */
    int64_t last_ms;
};

static bool sum_timeline(void *ud, const struct timeline_entry *e)
{
    struct tl_sum *s = ud;
    const char *k = e->kind ? e->kind : "";
    s->total++;
    if (e->ts_ms > s->last_ms)
        s->last_ms = e->ts_ms;
    if (strcmp(k, "pd.trigger") == 0 || strcmp(k, "paged") == 0)
        s->pages++;
    else if (strcmp(k, "page_requested") == 0)
        s->page_requests++;
    else if (strcmp(k, "not_paged") == 0)
        s->not_paged++;
    else if (strcmp(k, "handoff") == 0)   /* one per handoff made (offered, or to secops); not its prompts/accepts */
        s->handoffs++;
    else if (strcmp(k, "slack.invite") == 0 || strcmp(k, "invited") == 0)
        s->invites++;
    else if (strcmp(k, "slack.create_channel") == 0 || strcmp(k, "channel_created") == 0)
        s->channel_created++;
    else if (strcmp(k, "gitlab.create_issue") == 0 || strcmp(k, "issue_created") == 0)
        s->issue_created++;
    else if (strcmp(k, "effect_failed") == 0) {
        s->failures++;
        free(s->failure[0]);
        memmove(&s->failure[0], &s->failure[1], (FAILURES_SHOWN - 1) * sizeof(char *));
        s->failure[FAILURES_SHOWN - 1] = txt_line(e->text, 220);
    }
    return true;
}

static char *incident_section(const struct hctx *ctx, const struct incident *inc, int64_t now, int *nflags)
{
    bool open = !(inc->state && strcmp(inc->state, "resolved") == 0);
    struct dec_sum ds;
    memset(&ds, 0, sizeof(ds));
    buf_init(&ds.lines, 0);
    buf_init(&ds.next, 0);
    struct tl_sum ts;
    memset(&ts, 0, sizeof(ts));
    store_decisions_list(ctx->store, inc->id, sum_decision, &ds);
    store_timeline_list(ctx->store, inc->id, sum_timeline, &ts);

    struct buf b;
    buf_init(&b, 0);
    char *title = txt_line(inc->title, 150);
    char *comp = txt_line(inc->component ? inc->component : "(not given)", 80);
    char *what = txt_line(inc->description, 300);
    buf_printf(&b, "*SIRT-%" PRId64 " — %s*", inc->id, title);
    if (inc->channel_id)
        buf_printf(&b, "  <#%s>", inc->channel_id);

    /* scope */
    buf_printf(&b, "\n• *Scope*: component %s, severity S%d, priority P%d", comp, inc->severity, inc->priority);
    /* impact */
    buf_printf(&b, "\n• *Impact*: %s", what[0] ? what : "(not described)");

    /* work done */
    buf_puts(&b, "\n• *Work done*: ");
    if (ds.n == 0)
        buf_puts(&b, "no decision recorded");
    else
        buf_printf(&b, "%d decision%s (%d fix%s delivered, %d validated effective, %d not effective)", ds.n,
                   ds.n == 1 ? "" : "s", ds.delivered, ds.delivered == 1 ? "" : "es", ds.effective,
                   ds.not_effective);
    buf_printf(&b, "; paged %d×", ts.pages);
    if (ts.page_requests > ts.pages)
        buf_printf(&b, " (%d requested)", ts.page_requests);
    buf_printf(&b, ", %d hand-off%s", ts.handoffs, ts.handoffs == 1 ? "" : "s");
    buf_printf(&b, ", channel %s", inc->channel_id || ts.channel_created ? "created" : "not created");
    if (inc->gitlab_issue_url) {
        char *u = txt_line(inc->gitlab_issue_url, 300);
        buf_printf(&b, ", GitLab issue %s", u);
        free(u);
    } else {
        buf_puts(&b, ", no GitLab issue");
    }
    buf_puts(&b, ds.lines.data ? ds.lines.data : "");
    if (ds.n > DECISIONS_SHOWN)
        buf_printf(&b, "\n    ◦ … and %d more", ds.n - DECISIONS_SHOWN);

    /* next steps */
    buf_puts(&b, "\n• *Next steps*: ");
    if (!open) {
        buf_printf(&b, "postmortem (`/sirt timeline SIRT-%" PRId64 "`)", inc->id);
    } else {
        bool any = false;
        if (!inc->owner) {
            buf_printf(&b, "assign an owner (`/sirt assign SIRT-%" PRId64 " @user`)", inc->id);
            any = true;
        }
        if (ds.n == 0) {
            buf_printf(&b, "%srecord a short-term decision (`/sirt decision SIRT-%" PRId64 "`)", any ? "; " : "",
                       inc->id);
            any = true;
        } else if (ds.next.len) {
            buf_printf(&b, "%s%s", any ? "; " : "", ds.next.data);
            any = true;
        } else {
            buf_printf(&b, "%sfixes validated: resolve when done (`/sirt resolve SIRT-%" PRId64 "`)", any ? "; " : "",
                       inc->id);
            any = true;
        }
    }

    /* blockers */
    buf_puts(&b, "\n• *Blockers*: ");
    bool blocked = false;
    if (open && !inc->owner) {
        buf_puts(&b, "no owner");
        blocked = true;
    }
    if (ts.not_paged) {
        buf_printf(&b, "%sS1/P1 but nobody was paged (paging not configured)", blocked ? "; " : "");
        blocked = true;
    }
    if (ts.failures) {
        buf_printf(&b, "%s%d failed effect%s", blocked ? "; " : "", ts.failures, ts.failures == 1 ? "" : "s");
        for (int i = 0; i < FAILURES_SHOWN; i++)
            if (ts.failure[i])
                buf_printf(&b, "\n    ◦ %s", ts.failure[i]);
        blocked = true;
    }
    if (!blocked)
        buf_puts(&b, "none known");

    /* how it was handled (review_flags.c: from the stored rows) */
    char *flags = review_flags_line(ctx, inc, now, nflags);
    buf_printf(&b, "\n• *Handling*: %s", flags ? flags : "nothing flagged");
    free(flags);

    /* status */
    char created[32], resolved[32], last[32];
    txt_utc(inc->created_ms, "%Y-%m-%d", created);
    buf_printf(&b, "\n• *Status*: %s", open ? "open" : "resolved");
    if (open) {
        int64_t days = inc->created_ms > 0 && now > inc->created_ms ? (now - inc->created_ms) / 86400000 : 0;
        buf_printf(&b, " since %s (%" PRId64 " day%s)", created, days, days == 1 ? "" : "s");
    } else {
        txt_utc(inc->resolved_ms, "%Y-%m-%d", resolved);
        buf_printf(&b, " (reported %s, resolved %s)", created, resolved);
    }
    buf_puts(&b, ", owner ");
    if (inc->owner)
        buf_printf(&b, "<@%s>", inc->owner);
    else
        buf_puts(&b, "nobody");
    if (ts.last_ms > 0) {
        txt_utc(ts.last_ms, "%Y-%m-%d %H:%M UTC", last);
        buf_printf(&b, ", last update %s", last);
    }

    cut_buf(&b, ITEM_MAX);
    free(title);
    free(comp);
    free(what);
    buf_finish(&ds.lines);
    buf_finish(&ds.next);
    for (int i = 0; i < FAILURES_SHOWN; i++)
        free(ts.failure[i]);
    return buf_take(&b);
}

/* ---- the digest ---- */

struct digest {
    const struct hctx *ctx;
    int64_t now;
    char **items;
    size_t n, alloc;
    int open, resolved, flagged;
    struct buf brief;           /* the reduced digest's lines: ids, severities, states */
};

static bool add_incident(void *ud, const struct incident *inc)
{
    struct digest *d = ud;
    if (inc->state && strcmp(inc->state, "resolved") == 0)
        d->resolved++;
    else
        d->open++;
    if (d->n == d->alloc) {
        d->alloc = d->alloc ? d->alloc * 2 : 8;
        d->items = xrealloc(d->items, d->alloc * sizeof(char *));
    }
    int nflags = 0;
    d->items[d->n++] = incident_section(d->ctx, inc, d->now, &nflags);
    if (nflags)
        d->flagged++;
    if (d->n <= BRIEF_MAX) {
        buf_printf(&d->brief, "\n• SIRT-%" PRId64 " — S%d — %s", inc->id, inc->severity,
                   inc->state && strcmp(inc->state, "resolved") == 0 ? "resolved" : "open");
        if (nflags)
            buf_printf(&d->brief, " — %d handling flag%s", nflags, nflags == 1 ? "" : "s");
    }
    return true;
}

/* The opening both digests share: the title, then how many incidents since
 * from.  True when there are some: the caller goes on with what it shows. */
static bool digest_opening(struct buf *b, const struct digest *d, const char *today, const char *from)
{
    buf_printf(b, ":clipboard: *Weekly SIRT review* — %s\n", today);
    if (d->n == 0) {
        buf_printf(b, "No incident reported since %s and none open.", from);
        return false;
    }
    buf_printf(b, "Incidents reported since %s and every open one: %zu (%d open, %d resolved). ", from, d->n,
               d->open, d->resolved);
    return true;
}

/* Posts the digest as ordered messages keyed "<key_base>/<part>".  Returns
 * the number of messages, or -1 if the incidents cannot be read. */
static int review_post(const struct hctx *ctx, const char *key_base)
{
    const char *channel = sirt_channel(ctx);
    int64_t now = ctx->now_ms();
    int64_t since = now - REVIEW_WINDOW_MS;
    struct digest d = { .ctx = ctx, .now = now };
    buf_init(&d.brief, 0);
    if (store_incidents_since(ctx->store, since, add_incident, &d) != 0) {
        for (size_t i = 0; i < d.n; i++)
            free(d.items[i]);
        free(d.items);
        buf_finish(&d.brief);
        LOG_ERROR("review: cannot read the incidents", "");
        return -1;
    }

    char today[32], from[32];
    txt_utc(now, "%Y-%m-%d", today);
    txt_utc(since, "%Y-%m-%d %H:%M UTC", from);
    struct buf head;
    buf_init(&head, 0);
    if (digest_opening(&head, &d, today, from))
        buf_printf(&head, "For each: scope, impact, work done, next steps, blockers, status, and how it was "
                          "handled (%d with something flagged).", d.flagged);

    /* The reduced digest, for a channel that is not private. */
    struct buf brief;
    buf_init(&brief, 0);
    if (digest_opening(&brief, &d, today, from))
        buf_printf(&brief, "Only ids, severities and states here: this channel is not private. Details: "
                           "`/sirt status SIRT-n` in a DM with the bot, or in the incident's channel.%s",
                   d.brief.data ? d.brief.data : "");
    if (d.n > BRIEF_MAX)
        buf_printf(&brief, "\n• … and %zu more", d.n - BRIEF_MAX);
    /* Improvements may carry details: only their number here.  The
     * medians are figures, not details: in both digests. */
    int improvements = review_improvements_open(ctx);
    if (improvements > 0)
        buf_printf(&brief, "\n\n%d process improvement%s open (listed, with their Mark done buttons, only when "
                           "this channel is private).", improvements, improvements == 1 ? "" : "s");
    char *medians = review_medians_text(ctx, now);
    buf_printf(&brief, "\n\n%s", medians);

    /* Pack sections into messages of at most PART_MAX bytes. */
    char *parts[PARTS_MAX];
    size_t np = 0, shown_items = 0;
    struct buf cur;
    buf_init(&cur, 0);
    buf_puts(&cur, head.data);
    for (size_t i = 0; i < d.n; i++) {
        size_t need = strlen(d.items[i]) + 2;
        if (cur.len + need > PART_MAX - 120) {   /* room for "(part i/n)" and "… and n more" */
            if (np + 1 >= PARTS_MAX)
                break;
            parts[np++] = buf_take(&cur);
            buf_init(&cur, 0);
        }
        if (cur.len)
            buf_puts(&cur, "\n\n");
        buf_puts(&cur, d.items[i]);
        shown_items++;
    }
    if (shown_items < d.n)
        buf_printf(&cur, "\n\n… and %zu more incident%s not shown here.", d.n - shown_items,
                   d.n - shown_items == 1 ? "" : "s");
    /* The digest ends with the medians: here when no improvement message
     * comes between, else in a message of their own after those. */
    if (improvements <= 0) {
        if (cur.len + strlen(medians) + 2 > PART_MAX - 120 && np + 1 < PARTS_MAX) {
            parts[np++] = buf_take(&cur);
            buf_init(&cur, 0);
        }
        buf_printf(&cur, "%s%s", cur.len ? "\n\n" : "", medians);
    }
    parts[np++] = buf_take(&cur);

    int64_t prev = 0;
    for (size_t i = 0; i < np; i++) {
        char key[256];
        snprintf(key, sizeof(key), "%s/%zu", key_base, i + 1);
        char *text = np > 1 ? xasprintf("%s\n_(part %zu/%zu)_", parts[i], i + 1, np) : xstrdup(parts[i]);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "channel", channel);
        cJSON_AddStringToObject(p, "text", text);
        cJSON_AddFalseToObject(p, "unfurl_links");
        /* Details only in a private channel: the effect checks first. */
        cJSON_AddTrueToObject(p, "private_only");
        if (i == 0) {
            char *pub = blockkit_cut(brief.data, PART_MAX, true);
            cJSON_AddStringToObject(p, "public_text", pub);
            free(pub);
        }
        /* Parts run in order: each waits for the previous one (a while). */
        int64_t id = outbox_add(ctx->store, 0, key, "slack.post", p, prev > 0 ? &prev : NULL, prev > 0 ? 1 : 0,
                                prev > 0 ? now + ORDER_DEADLINE_MS : 0);
        if (id > 0)
            prev = id;
        cJSON_Delete(p);
        free(text);
        free(parts[i]);
    }
    size_t extra = 0;
    if (improvements > 0) {
        extra = review_improvements_post(ctx, key_base, now, &prev);
        char key[256];
        snprintf(key, sizeof(key), "%s/medians", key_base);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "channel", channel);
        cJSON_AddStringToObject(p, "text", medians);
        cJSON_AddFalseToObject(p, "unfurl_links");
        cJSON_AddTrueToObject(p, "private_only");   /* the public digest had them already */
        if (outbox_add(ctx->store, 0, key, "slack.post", p, prev > 0 ? &prev : NULL, prev > 0 ? 1 : 0,
                       prev > 0 ? now + ORDER_DEADLINE_MS : 0) > 0)
            extra++;
        cJSON_Delete(p);
    }
    free(medians);
    np += extra;
    LOG_INFO("review: digest queued", "incidents:d messages:d", (int)d.n, (int)np);
    for (size_t i = 0; i < d.n; i++)
        free(d.items[i]);
    free(d.items);
    buf_finish(&head);
    buf_finish(&brief);
    buf_finish(&d.brief);
    return (int)np;
}

void review_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    const char *channel = sirt_channel(ctx);
    if (!channel)
        reply_set_text(out, "The SIRT channel is not configured (`sirt_channel` in the team config), so there "
                            "is nowhere to post the weekly review.");
    else if (!may_request(ctx, req->user_id))
        reply_set_text(out, "Only the SIRT team can post the weekly review. It is posted in <#%s> every Monday.",
                       channel);
    else
        reply_set_text(out, "Posting the weekly review in <#%s>.", channel);
}

int review_work(const struct hctx *ctx, const struct sirt_req *req)
{
    if (!ctx->store || !sirt_channel(ctx) || !may_request(ctx, req->user_id))
        return job_result(ctx);
    char key[200];
    job_request_key(req, "review", key, sizeof(key));
    review_post(ctx, key);
    return job_result(ctx);
}

static void review_arm(const struct hctx *ctx, int64_t after)
{
    const char *tz = ctx->cfg && ctx->cfg->timezone ? ctx->cfg->timezone : "UTC";
    int64_t due = wh_next_weekly(tz, after, 1 /* Monday */, 9, 0);
    if (due <= after) {
        LOG_ERROR("review: cannot compute the next Monday 09:00", "timezone:s", tz);
        return;
    }
    if (store_timer_set(ctx->store, REVIEW_KEY, "weekly_review", 0, due, "{}", ctx->now_ms()) != 0)
        LOG_ERROR("review: cannot arm the weekly review timer", "");
    else
        LOG_INFO("review: next weekly review armed", "due_ms:l", (long long)due);
}

void review_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    int64_t now = ctx->now_ms();
    if (sirt_channel(ctx)) {
        /* One digest per scheduled Monday, however often this fires. */
        char day[32], key[64];
        txt_utc(t && t->due_ms > 0 ? t->due_ms : now, "%Y-%m-%d", day);
        snprintf(key, sizeof(key), "review/week-%s", day);
        review_post(ctx, key);
    } else {
        LOG_WARN("review: sirt_channel is not configured; no weekly review posted", "");
    }
    review_arm(ctx, t && t->due_ms > now ? t->due_ms : now);
}

void review_plan(const struct hctx *ctx)
{
    if (!ctx->store)
        return;
    struct sched_timer t;
    memset(&t, 0, sizeof(t));
    if (store_timer_get(ctx->store, REVIEW_KEY, &t) == 0) {
        sched_timer_finish(&t);
        return;   /* pending (even overdue: the scheduler fires it) */
    }
    review_arm(ctx, ctx->now_ms());
}
