/* severity: `/sirt severity [SIRT-n] S<1-4> [P<1-4>]` (and `@sirt severity`),
 * the summary's "Change severity" button and its modal.  A change by an
 * incident or SIRT member (re-checked at every step) is written in the
 * router's transaction: the incident row, a `severity_changed` timeline
 * entry, and its effects as outbox jobs keyed by the request (the GitLab
 * relabel, the channel message, the S1 responders, the first page), so a
 * replay adds nothing.  Nothing here touches the network or keeps memory. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/blockkit.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "bk.h"
#include "flows.h"
#include "handlers.h"
#include "inc.h"
#include "job.h"

static const char usage[] =
    "Usage: `/sirt severity [SIRT-n] S<1-4> [P<1-4>]`, e.g. `/sirt severity SIRT-12 S1 P2` "
    "(inside the incident channel the id can be left out). Severity S1 (critical) to S4 (low), "
    "priority P1 (fix now) to P4 (when possible); give at least one of them.";

static const char *const sev_names[] = { "S1 - critical", "S2 - high", "S3 - medium", "S4 - low" };
static const char *const pri_names[] = { "P1 - fix now", "P2 - this release", "P3 - next releases",
                                         "P4 - when possible" };

/* ---- parsing ---- */

int severity_parse(const char *s, int *sev, int *pri)
{
    *sev = *pri = 0;
    if (!s)
        return -1;
    int n = 0;
    while (*s) {
        size_t skip = strspn(s, " \t\r\n/,");
        s += skip;
        if (!*s)
            break;
        size_t len = strcspn(s, " \t\r\n/,");
        if (len != 2 || s[1] < '1' || s[1] > '4')
            return -1;
        int *slot = (s[0] == 'S' || s[0] == 's') ? sev : (s[0] == 'P' || s[0] == 'p') ? pri : NULL;
        if (!slot || *slot)
            return -1;   /* not S/P, or given twice */
        *slot = s[1] - '0';
        n++;
        s += len;
    }
    return n > 0 ? 0 : -1;
}

/* args after an optional leading incident id (which inc_for reads). */
static const char *after_id(const char *args)
{
    const char *a = args ? args : "";
    while (isspace((unsigned char)*a))
        a++;
    if (inc_parse_id(a) <= 0)
        return a;
    while (*a && !isspace((unsigned char)*a))
        a++;
    return a;
}

/* ---- who may, and what changes ---- */

enum decide { SEV_REFUSED = -1, SEV_SAME = 0, SEV_CHANGE = 1 };

/* Given levels (0 = keep) against inc and user: SEV_CHANGE with the new
 * levels in *ns / *np, or SEV_REFUSED / SEV_SAME with the answer in msg. */
static enum decide sev_decide(const struct hctx *ctx, const struct incident *inc, const char *user, int s, int p,
                              int *ns, int *np, char *msg, size_t len)
{
    if (!inc_authorized(ctx, inc, user)) {
        snprintf(msg, len, "Sorry, only the SIRT team and the people on SIRT-%" PRId64 " can change its "
                           "severity. If you think it should change, tell them.", inc->id);
        return SEV_REFUSED;
    }
    if (inc->state && strcmp(inc->state, "resolved") == 0) {
        snprintf(msg, len, "SIRT-%" PRId64 " is resolved, so its severity stays S%d/P%d.", inc->id, inc->severity,
                 inc->priority);
        return SEV_REFUSED;
    }
    *ns = s ? s : inc->severity;
    *np = p ? p : inc->priority;
    if (*ns == inc->severity && *np == inc->priority) {
        snprintf(msg, len, "SIRT-%" PRId64 " is already S%d/P%d: nothing changed.", inc->id, inc->severity,
                 inc->priority);
        return SEV_SAME;
    }
    return SEV_CHANGE;
}

/* "severity::1,priority::2" / the six other scoped values, to remove. */
static void label_sets(int s, int p, char *add, size_t alen, char *rm, size_t rlen)
{
    snprintf(add, alen, "severity::%d,priority::%d", s, p);
    size_t k = 0;
    rm[0] = '\0';
    for (int i = 1; i <= 4; i++)
        if (i != s && k < rlen)
            k += (size_t)snprintf(rm + k, rlen - k, "%sseverity::%d", k ? "," : "", i);
    for (int i = 1; i <= 4; i++)
        if (i != p && k < rlen)
            k += (size_t)snprintf(rm + k, rlen - k, "%spriority::%d", k ? "," : "", i);
}

/* The S1 responders: members of the incident, invited to the channel and,
 * when their GitLab username is known, to the project (the jobs the report
 * writes for an S1).  The mentions go into who. */
static void add_responders(const struct hctx *ctx, const struct incident *inc, const char *id, struct buf *who)
{
    const struct cfg *c = ctx->cfg;
    if (!c->severity1_responders.n)
        return;
    int64_t now = ctx->now_ms();
    cJSON *p = cJSON_CreateObject();
    cJSON *users = cJSON_AddArrayToObject(p, "users");
    cJSON *gp = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(gp, "usernames");
    for (size_t i = 0; i < c->severity1_responders.n; i++) {
        const char *u = c->severity1_responders.v[i];
        cJSON_AddItemToArray(users, cJSON_CreateString(u));
        store_member_add(ctx->store, inc->id, u, "responder", now);
        buf_printf(who, "%s<@%s>", i ? ", " : "", u);
        const char *gl = cfg_gitlab_user(c, u);
        if (gl)
            cJSON_AddItemToArray(names, cJSON_CreateString(gl));
    }
    char key[256];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/severity/%s/invite", inc->id, id);
    outbox_add(ctx->store, inc->id, key, "slack.invite", p, NULL, 0, 0);
    cJSON_Delete(p);
    cJSON_AddNumberToObject(gp, "access_level", 30);
    if (c->gitlab_url && cJSON_GetArraySize(names) > 0) {
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/severity/%s/gitlab_members", inc->id, id);
        outbox_add(ctx->store, inc->id, key, "gitlab.add_members", gp, NULL, 0, 0);
    }
    cJSON_Delete(gp);
}

/* The change and its effects.  id (the request, the form) makes every key. */
static int plan_change(const struct hctx *ctx, const struct incident *inc, const char *user, int ns, int np,
                       const char *id)
{
    const struct cfg *c = ctx->cfg;
    int os = inc->severity, op = inc->priority;
    int64_t now = ctx->now_ms();
    store_incident_set_int(ctx->store, inc->id, "severity", ns, now);
    store_incident_set_int(ctx->store, inc->id, "priority", np, now);
    inc_timeline_add(ctx, inc->id, user, "severity_changed", "S%d/P%d -> S%d/P%d", os, op, ns, np);
    struct incident cur = *inc;   /* shallow: the strings stay inc's */
    cur.severity = ns;
    cur.priority = np;

    bool raised_s1 = ns == 1 && os != 1;
    bool becomes_urgent = (ns == 1 || np == 1) && os != 1 && op != 1;
    int rounds = becomes_urgent ? store_page_last_round(ctx->store, inc->id) : 0;
    if (rounds < 0)
        return rounds;
    bool page = becomes_urgent && rounds == 0;
    bool paging = c->pagerduty_routing_key && c->pagerduty_routing_key[0];
    char key[256];

    if (c->gitlab_url) {
        char add[64], rm[160];
        label_sets(ns, np, add, sizeof(add), rm, sizeof(rm));
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "add_labels", add);
        cJSON_AddStringToObject(p, "remove_labels", rm);
        cJSON_AddNumberToObject(p, "severity", ns);
        cJSON_AddNumberToObject(p, "priority", np);
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/severity/%s/relabel", inc->id, id);
        outbox_add(ctx->store, inc->id, key, "gitlab.update_issue", p, NULL, 0, 0);
        cJSON_Delete(p);
    }

    struct buf who;
    buf_init(&who, 0);
    if (raised_s1)
        add_responders(ctx, &cur, id, &who);

    bool up = ns < os || np < op, down = ns > os || np > op;
    struct buf t;
    buf_init(&t, 0);
    buf_printf(&t, "%s <@%s> %s SIRT-%" PRId64 " from S%d/P%d to S%d/P%d.",
               up && !down ? ":arrow_up:" : down && !up ? ":arrow_down:" : ":left_right_arrow:", user,
               up && !down ? "raised" : down && !up ? "lowered" : "changed", inc->id, os, op, ns, np);
    if (who.len)
        buf_printf(&t, " The severity-1 responders (%s) are being invited to this channel%s.", who.data,
                   c->gitlab_url ? " and added to the GitLab project" : "");
    if (c->gitlab_url)
        buf_printf(&t, " The GitLab issue is relabelled `severity::%d`, `priority::%d`.", ns, np);
    if (down && !up)
        buf_puts(&t, " Nobody is removed from the incident and nobody is paged.");
    if (becomes_urgent && !page)
        buf_puts(&t, " The security on-call was paged for it before, so I did not page again "
                     "(use Page on-call if needed).");
    snprintf(key, sizeof(key), "severity/%s/post", id);
    job_post_incident(ctx, inc, key, t.data, NULL);
    buf_finish(&t);
    buf_finish(&who);

    if (page && paging) {
        char pid[220];
        snprintf(pid, sizeof(pid), "severity/%s", id);
        page_plan(ctx, &cur, user, pid, "severity");
    } else if (page) {
        snprintf(key, sizeof(key), "severity/%s/no_page", id);
        char *w = xasprintf(":rotating_light: SIRT-%" PRId64 " is now S%d/P%d but *nobody was paged*: "
                            "PAGERDUTY_ROUTING_KEY is not set for sirtbot. Page the security on-call by hand now.",
                            inc->id, ns, np);
        job_post_incident(ctx, inc, key, w, NULL);
        free(w);
        inc_timeline_add(ctx, inc->id, "sirtbot", "not_paged", "nobody paged: PAGERDUTY_ROUTING_KEY is not set");
    }
    release_plan(ctx, &cur);   /* now S1/P1: the daily long-term-fix reminder (no-op otherwise, or when planned) */
    LOG_INFO("severity changed", "incident:l user:s from_s:d from_p:d to_s:d to_p:d page:b", (long long)inc->id,
             user, os, op, ns, np, (int)page);
    return job_result(ctx);
}

/* ---- the command ---- */

void severity_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    int s, p;
    if (severity_parse(after_id(req->args), &s, &p) != 0) {
        reply_set_text(out, "%s", usage);
        return;
    }
    struct incident inc;
    char msg[300];
    if (inc_for_reply(ctx, req, &inc, out) != 0)
        return;
    int ns, np;
    if (sev_decide(ctx, &inc, req->user_id, s, p, &ns, &np, msg, sizeof(msg)) != SEV_CHANGE)
        reply_set_text(out, "%s", msg);
    else if (req->source == REQ_SLASH)
        reply_set_text(out, "Changing SIRT-%" PRId64 " to S%d/P%d…", inc.id, ns, np);
    else if (!inc_in_channel(&inc, req->channel_id))
        reply_set_text(out, "Changing the severity of SIRT-%" PRId64 "; the incident channel has the details.",
                       inc.id);
    /* else: in the incident channel the channel message says it */
    incident_finish(&inc);
}

int severity_work(const struct hctx *ctx, const struct sirt_req *req)
{
    int s, p;
    if (severity_parse(after_id(req->args), &s, &p) != 0)
        return job_result(ctx);
    struct incident inc;
    char msg[300];
    if (inc_for_req(ctx, req, &inc) != 0)
        return job_result(ctx);
    int ns, np, rc = 0;
    if (sev_decide(ctx, &inc, req->user_id, s, p, &ns, &np, msg, sizeof(msg)) == SEV_CHANGE) {
        char id[200];
        job_request_key(req, "req", id, sizeof(id));
        rc = plan_change(ctx, &inc, req->user_id, ns, np, id);
    }
    incident_finish(&inc);
    return rc < 0 ? rc : job_result(ctx);
}

/* ---- the button and its form ---- */

static cJSON *level_select(const char *const names[4], int current)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "static_select");
    cJSON_AddStringToObject(e, "action_id", "value");
    cJSON *opts = cJSON_AddArrayToObject(e, "options");
    for (int i = 0; i < 4; i++) {
        char val[2] = { (char)('1' + i), 0 };
        cJSON_AddItemToArray(opts, bk_option(names[i], val));
        if (current == i + 1)
            cJSON_AddItemToObject(e, "initial_option", bk_option(names[i], val));
    }
    return e;
}

static cJSON *input_block(const char *block_id, const char *label, cJSON *element)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "input");
    cJSON_AddStringToObject(b, "block_id", block_id);
    cJSON_AddItemToObject(b, "label", bk_plain_max(label, BK_LABEL));
    cJSON_AddItemToObject(b, "element", element);
    return b;
}

/* The modal, pre-filled with inc's levels (caller owns). */
static cJSON *severity_view(const struct incident *inc)
{
    char meta[48];
    snprintf(meta, sizeof(meta), "{\"incident\":%" PRId64 "}", inc->id);
    char *intro = xasprintf("*SIRT-%" PRId64 "* is S%d/P%d. Raising it to S1 brings in the severity-1 "
                            "responders; becoming S1 or P1 pages the security on-call if nobody was paged "
                            "yet. Lowering it removes nobody.", inc->id, inc->severity, inc->priority);
    cJSON *blocks;
    cJSON *v = bk_form("Change severity", "Change", "sirt_severity", meta, intro, &blocks);
    free(intro);
    cJSON_AddItemToArray(blocks, input_block("severity", "Severity", level_select(sev_names, inc->severity)));
    cJSON_AddItemToArray(blocks, input_block("priority", "Priority", level_select(pri_names, inc->priority)));
    return v;
}

int severity_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    if (!user || !ctx->store)
        return job_result(ctx);
    struct incident inc;
    if (inc_for_button(ctx, payload, action, "severity", false, &inc) != 0)
        return job_result(ctx);
    int ns, np;
    char msg[300];
    const char *trigger = util_jstr(payload, "trigger_id");
    /* Levels given as "keep": only the refusals matter here. */
    if (sev_decide(ctx, &inc, user, 0, 0, &ns, &np, msg, sizeof(msg)) == SEV_REFUSED) {
        job_button_notice(ctx, payload, action, "severity-refused", msg, false);
    } else if (!trigger) {
        LOG_WARN("severity: no trigger_id, cannot open the form", "incident:l", (long long)inc.id);
    } else {
        job_views_open(ctx, inc.id, trigger, severity_view(&inc));
    }
    incident_finish(&inc);
    return job_result(ctx);
}

/* The form's incident and levels; 0, or -1 with the error for the form. */
struct form {
    int64_t incident;
    int s, p;
};

static int form_read(const cJSON *view, struct form *f, const char **err)
{
    memset(f, 0, sizeof(*f));
    const char *m = util_jstr(view, "private_metadata");
    cJSON *j = m ? cJSON_Parse(m) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "incident");
    if (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble < 1e15 &&
        n->valuedouble == (double)(int64_t)n->valuedouble)
        f->incident = (int64_t)n->valuedouble;
    cJSON_Delete(j);
    if (!f->incident) {
        *err = "This form does not say which incident it is for: use `/sirt severity SIRT-n S<1-4> [P<1-4>]`.";
        return -1;
    }
    const char *s = bk_view_input(view, "severity"), *p = bk_view_input(view, "priority");
    if (s && strlen(s) == 1 && s[0] >= '1' && s[0] <= '4')
        f->s = s[0] - '0';
    if (p && strlen(p) == 1 && p[0] >= '1' && p[0] <= '4')
        f->p = p[0] - '0';
    if (!f->s || !f->p) {
        *err = "Choose a severity (S1 to S4) and a priority (P1 to P4).";
        return -1;
    }
    return 0;
}

/* The form checked as the command would be: 0 with inc filled (caller
 * finishes it) and the new levels, or -1 with the error in msg. */
static int form_check(const struct hctx *ctx, const cJSON *payload, struct incident *inc, int *ns, int *np,
                      char *msg, size_t len)
{
    memset(inc, 0, sizeof(*inc));
    struct form f;
    const char *err = NULL;
    if (form_read(cJSON_GetObjectItemCaseSensitive(payload, "view"), &f, &err) != 0) {
        snprintf(msg, len, "%s", err);
        return -1;
    }
    if (!ctx || !ctx->store || store_incident_get(ctx->store, f.incident, inc) != 0) {
        snprintf(msg, len, "This form is for an incident that no longer exists.");
        return -1;
    }
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    if (sev_decide(ctx, inc, user, f.s, f.p, ns, np, msg, len) != SEV_CHANGE) {
        incident_finish(inc);
        return -1;
    }
    return 0;
}

cJSON *severity_validate(const struct hctx *ctx, const cJSON *payload)
{
    struct incident inc;
    int ns, np;
    char msg[300];
    if (form_check(ctx, payload, &inc, &ns, &np, msg, sizeof(msg)) == 0) {
        incident_finish(&inc);
        return NULL;
    }
    return bk_view_error("severity", msg);
}

int severity_submit(const struct hctx *ctx, const cJSON *payload)
{
    struct incident inc;
    int ns, np, rc = 0;
    char msg[300];
    /* Checked again: the incident may have changed since the ack. */
    if (form_check(ctx, payload, &inc, &ns, &np, msg, sizeof(msg)) != 0) {
        LOG_INFO("severity form not applied", "reason:s", msg);
        return job_result(ctx);
    }
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    const char *view_id = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "view"), "id");
    char id[160];
    snprintf(id, sizeof(id), "view/%s", view_id ? view_id : "-");
    rc = plan_change(ctx, &inc, user, ns, np, id);
    incident_finish(&inc);
    return rc < 0 ? rc : job_result(ctx);
}
