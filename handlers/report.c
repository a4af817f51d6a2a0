/* report: `/sirt report [summary]`, `@sirt report …` (a button that opens
 * the same form), the report modal, its validation, and on submission the
 * incident record plus the whole plan of effects as outbox jobs, written in
 * the router's transaction: private channel, invitations, pinned summary,
 * GitLab project + confidential issue + members + EM/PM note, PagerDuty page
 * for S1/P1, EM/PM told in the component channel (no details) and by DM.
 * Every text from the report is masked (mask_secrets) as soon as the form is
 * parsed: the store, the payloads and the channel name only ever see the
 * masked text.  Nothing here touches the network. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/blockkit.h"
#include "../bot/config.h"
#include "../bot/log.h"
#include "../bot/mask.h"
#include "../bot/outbox_jobs.h"
#include "../bot/store.h"
#include "../bot/util.h"
#include "bk.h"
#include "flows.h"
#include "handlers.h"
#include "job.h"
#include "txt.h"

#define TITLE_MAX 150
#define TEXT_MAX 3000
#define LINK_MAX 2000
#define SOFT_DEPS_MS 15000     /* how long the summary and the page wait for the GitLab issue */

/* Copies at most max bytes of s without cutting a UTF-8 sequence. */
static char *utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return xstrdup(s);
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return xstrndup(s, n);
}

/* ---- the modal ---- */

static cJSON *input_block(const char *block_id, const char *label, cJSON *element, bool optional)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "type", "input");
    cJSON_AddStringToObject(b, "block_id", block_id);
    cJSON_AddItemToObject(b, "label", bk_plain_max(label, BK_LABEL));
    cJSON_AddItemToObject(b, "element", element);
    if (optional)
        cJSON_AddTrueToObject(b, "optional");
    return b;
}

static cJSON *text_input(bool multiline, int max_length, const char *initial, const char *placeholder)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "plain_text_input");
    cJSON_AddStringToObject(e, "action_id", "value");
    if (multiline)
        cJSON_AddTrueToObject(e, "multiline");
    cJSON_AddNumberToObject(e, "max_length", max_length);
    if (initial && *initial)
        cJSON_AddStringToObject(e, "initial_value", initial);
    if (placeholder)
        cJSON_AddItemToObject(e, "placeholder", bk_plain_max(placeholder, BK_PLACEHOLDER));
    return e;
}


static cJSON *select_el(const char *placeholder)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "type", "static_select");
    cJSON_AddStringToObject(e, "action_id", "value");
    cJSON_AddItemToObject(e, "placeholder", bk_plain_max(placeholder, BK_PLACEHOLDER));
    cJSON_AddArrayToObject(e, "options");
    return e;
}

cJSON *report_view(const struct cfg *cfg, const char *summary, const char *origin)
{
    cJSON *meta = cJSON_CreateObject();
    if (origin)
        cJSON_AddStringToObject(meta, "origin", origin);
    char *m = cJSON_PrintUnformatted(meta);
    cJSON *blocks;
    cJSON *v = bk_form("Report an incident", "Report", "sirt_report", m, NULL, &blocks);
    cJSON_free(m);
    cJSON_Delete(meta);

    char *msum = mask_secrets(summary);   /* the prefill is stored in the outbox */
    char *init = msum ? utf8_prefix(msum, TITLE_MAX) : NULL;
    free(msum);
    cJSON_AddItemToArray(blocks, input_block("title", "Title", text_input(false, TITLE_MAX, init, "One line: what is wrong"), false));
    free(init);
    cJSON_AddItemToArray(blocks, input_block("what", "What happened",
                                             text_input(true, TEXT_MAX, NULL, "What did you see, where, since when"), false));
    cJSON *sev = select_el("Severity");
    static const char *const sev_names[] = { "S1 - critical", "S2 - high", "S3 - medium", "S4 - low" };
    static const char *const pri_names[] = { "P1 - fix now", "P2 - this release", "P3 - next releases", "P4 - when possible" };
    cJSON *pri = select_el("Priority");
    for (int i = 0; i < 4; i++) {
        char val[2] = { (char)('1' + i), 0 };
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(sev, "options"), bk_option(sev_names[i], val));
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(pri, "options"), bk_option(pri_names[i], val));
    }
    cJSON_AddItemToArray(blocks, input_block("severity", "Severity", sev, false));
    cJSON_AddItemToArray(blocks, input_block("priority", "Priority", pri, false));
    if (cfg && cfg->n_components) {
        cJSON *comp = select_el("Affected component");
        cJSON *opts = cJSON_GetObjectItemCaseSensitive(comp, "options");
        for (size_t i = 0; i < cfg->n_components && i < 100; i++)
            cJSON_AddItemToArray(opts, bk_option(cfg->components[i].name, cfg->components[i].name));
        cJSON_AddItemToArray(blocks, input_block("component", "Affected component", comp, false));
    } else {
        cJSON_AddItemToArray(blocks, input_block("component", "Affected component",
                                                 text_input(false, 80, NULL, "e.g. gitaly"), true));
    }
    cJSON_AddItemToArray(blocks, input_block("repro", "Reproduction steps (HTTP requests, log lines)",
                                             text_input(true, TEXT_MAX, NULL, "Requests, responses, log lines. Secrets are masked."), true));
    cJSON_AddItemToArray(blocks, input_block("link", "Issue link (optional)",
                                             text_input(false, LINK_MAX, NULL, "https://..."), true));
    return v;
}

struct report_input {
    char *title, *what, *component, *repro, *link;
    int severity, priority;
};

static void input_finish(struct report_input *in)
{
    free(in->title);
    free(in->what);
    free(in->component);
    free(in->repro);
    free(in->link);
    memset(in, 0, sizeof(*in));
}

static bool https_link(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 || strlen(s) > LINK_MAX)
        return false;
    const char *host = s + 8;
    size_t hl = strcspn(host, "/?#");
    if (hl == 0 || host[0] == ':' || host[0] == '@')
        return false;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20 || *p == '<' || *p == '>' || *p == '|')
            return false;
    return true;
}

/* Does link name an issue on GITLAB_URL?  (That one may be plain http, e.g.
 * an internal instance.) */
static bool gitlab_issue_link(const struct cfg *cfg, const char *link)
{
    char path[LINK_MAX + 1], canon[LINK_MAX + 64];
    int64_t iid = 0;
    return cfg && cfg->gitlab_url
           && link_parse_url(cfg->gitlab_url, link, path, sizeof(path), &iid, canon, sizeof(canon)) == LINK_URL_ISSUE;
}

/* Parses and checks the form. Returns an errors object (caller owns) or NULL. */
static cJSON *parse_input(const struct cfg *cfg, const cJSON *view, struct report_input *in)
{
    memset(in, 0, sizeof(*in));
    cJSON *errors = cJSON_CreateObject();
    in->title = txt_trim(bk_view_input(view, "title"));
    in->what = txt_trim(bk_view_input(view, "what"));
    in->component = txt_trim(bk_view_input(view, "component"));
    in->repro = txt_trim(bk_view_input(view, "repro"));
    in->link = txt_trim(bk_view_input(view, "link"));
    const char *sev = bk_view_input(view, "severity");
    const char *pri = bk_view_input(view, "priority");

    if (!in->title[0])
        cJSON_AddStringToObject(errors, "title", "Give the incident a title.");
    else if (blockkit_len(in->title) > TITLE_MAX)   /* characters, as Slack counts */
        cJSON_AddStringToObject(errors, "title", "Keep the title under 150 characters.");
    if (!in->what[0])
        cJSON_AddStringToObject(errors, "what", "Say what happened.");
    else if (blockkit_len(in->what) > TEXT_MAX)
        cJSON_AddStringToObject(errors, "what", "Keep this under 3000 characters; put the rest in the issue.");
    if (sev && strlen(sev) == 1 && sev[0] >= '1' && sev[0] <= '4')
        in->severity = sev[0] - '0';
    else
        cJSON_AddStringToObject(errors, "severity", "Choose a severity, S1 to S4.");
    if (pri && strlen(pri) == 1 && pri[0] >= '1' && pri[0] <= '4')
        in->priority = pri[0] - '0';
    else
        cJSON_AddStringToObject(errors, "priority", "Choose a priority, P1 to P4.");
    if (cfg && cfg->n_components) {
        if (!in->component[0] || !cfg_component(cfg, in->component))
            cJSON_AddStringToObject(errors, "component", "Choose one of the listed components.");
    }
    if (blockkit_len(in->repro) > TEXT_MAX)
        cJSON_AddStringToObject(errors, "repro", "Keep this under 3000 characters; put the rest in the issue.");
    if (in->link[0] && !https_link(in->link) && !gitlab_issue_link(cfg, in->link))
        cJSON_AddStringToObject(errors, "link", "The issue link must be an https:// URL.");
    if (!cJSON_GetArraySize(errors)) {
        cJSON_Delete(errors);
        return NULL;
    }
    return errors;
}

cJSON *report_validate(const struct hctx *ctx, const cJSON *payload)
{
    struct report_input in;
    cJSON *errors = parse_input(ctx ? ctx->cfg : NULL, cJSON_GetObjectItemCaseSensitive(payload, "view"), &in);
    input_finish(&in);
    return bk_view_errors(errors);
}

/* ---- opening the modal ---- */

static void open_modal(const struct hctx *ctx, const char *trigger_id, const char *summary, const char *origin)
{
    if (!trigger_id || !ctx->store) {
        LOG_WARN("report: no trigger_id, cannot open the form", "");
        return;
    }
    job_views_open(ctx, 0, trigger_id, report_view(ctx->cfg, summary, origin));
}

void report_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    (void)ctx;
    if (req->source == REQ_SLASH)
        return;   /* the form opens; nothing to say in the ack */
    reply_set_text(out, "Open the form to report a security incident. Details go to a private channel, not here.");
    cJSON *blocks = cJSON_CreateArray();
    cJSON *sec = cJSON_CreateObject();
    cJSON_AddStringToObject(sec, "type", "section");
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "type", "mrkdwn");
    cJSON_AddStringToObject(t, "text", "Report a security incident: the form asks for title, severity, priority, "
                                       "component and reproduction steps. Details go to a private channel, not here.");
    cJSON_AddItemToObject(sec, "text", t);
    cJSON_AddItemToArray(blocks, sec);
    cJSON *actions = cJSON_CreateObject();
    cJSON_AddStringToObject(actions, "type", "actions");
    cJSON *els = cJSON_AddArrayToObject(actions, "elements");
    cJSON *btn = cJSON_CreateObject();
    cJSON_AddStringToObject(btn, "type", "button");
    cJSON_AddStringToObject(btn, "action_id", "sirt_report_open");
    cJSON_AddStringToObject(btn, "style", "danger");
    cJSON_AddItemToObject(btn, "text", bk_plain("Open the report form"));
    char *margs = mask_secrets(req->args ? req->args : "");
    char *val = utf8_prefix(margs, TITLE_MAX);
    free(margs);
    cJSON_AddStringToObject(btn, "value", val);
    free(val);
    cJSON_AddItemToArray(els, btn);
    cJSON_AddItemToArray(blocks, actions);
    out->blocks = blocks;
}

int report_work(const struct hctx *ctx, const struct sirt_req *req)
{
    if (req->source != REQ_SLASH)
        return job_result(ctx);   /* mention/DM: the button reply was posted by the router */
    open_modal(ctx, req->trigger_id, req->args, req->channel_id);
    return job_result(ctx);
}

int report_open_action(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *channel = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    open_modal(ctx, util_jstr(payload, "trigger_id"), util_jstr(action, "value"), channel);
    return job_result(ctx);
}

/* ---- submission: the incident and its plan ---- */

/* "sirt-<n>-<slug>": lowercase, [a-z0-9-], at most 80 bytes. The slug comes
 * from the masked title with every masked word dropped (mask_strip), so no
 * piece of a secret, not even its kept prefix, is in the name. */
void report_channel_name(int64_t n, const char *title, char *out, size_t size)
{
    char *masked = mask_strip(title ? title : "");
    int k = snprintf(out, size, "sirt-%" PRId64, n);
    size_t len = (size_t)k < size ? (size_t)k : size - 1;
    size_t limit = size - 1 < 80 ? size - 1 : 80;
    bool dash = false;
    size_t slug = 0;
    for (const char *p = masked; *p && len < limit && slug < 40; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch) && ch < 0x80) {
            if (!dash) {
                out[len++] = '-';
                dash = true;
                if (len >= limit)
                    break;
            }
            out[len++] = (char)tolower(ch);
            slug++;
        } else if (dash && out[len - 1] != '-') {
            out[len++] = '-';
            slug++;
        }
    }
    while (len > 0 && out[len - 1] == '-')
        len--;
    out[len] = '\0';
    free(masked);
}

static void add_unique(cJSON *arr, const char *s)
{
    if (!s || !*s)
        return;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
        if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0)
            return;
    cJSON_AddItemToArray(arr, cJSON_CreateString(s));
}



static cJSON *summary_blocks(const struct incident *inc, const struct report_input *in, bool paged,
                             bool paging_enabled)
{
    char *title = txt_clean(in->title, TITLE_MAX);
    /* Whole texts, escaped, then cut by the section builder to Slack's
     * limit with the truncation marker (the GitLab issue has them whole). */
    char *what = txt_clean(in->what, 0);
    char *repro = txt_clean(in->repro, 0);
    char *comp = txt_line(in->component[0] ? in->component : "(not given)", 80);
    char *link = in->link[0] ? txt_clean(in->link, LINK_MAX) : NULL;
    char *e_what = txt_mrkdwn(what), *e_repro = txt_mrkdwn(repro);
    cJSON *blocks = cJSON_CreateArray();

    char *ht = xasprintf("SIRT-%" PRId64 ": %s", inc->id, title);
    cJSON_AddItemToArray(blocks, bk_header(ht));
    free(ht);

    char *facts = xasprintf("*Severity* S%d   *Priority* P%d   *Component* %s\n*Reported by* <@%s>   "
                            "*GitLab* {{incident.issue_link}}\n*Paging* %s",
                            in->severity, in->priority, comp,
                            inc->reporter,
                            paged ? (paging_enabled ? "the security on-call has been paged" :
                                                      "nobody was paged: PAGERDUTY_ROUTING_KEY is not set")
                                  : "not paged (below S1/P1); use Page on-call if needed");
    cJSON_AddItemToArray(blocks, bk_section(facts));
    free(facts);
    char *w = xasprintf("*What happened*\n%s", e_what);
    cJSON_AddItemToArray(blocks, bk_section(w));
    free(w);
    if (repro[0]) {
        char *r = xasprintf("*Reproduction steps*\n```%s```", e_repro);
        cJSON_AddItemToArray(blocks, bk_section(r));
        free(r);
    }
    if (link) {
        char *e_link = txt_mrkdwn(link);
        char *l = xasprintf("*Issue link* %s", e_link);
        cJSON_AddItemToArray(blocks, bk_section(l));
        free(l);
        free(e_link);
    }
    cJSON *actions = cJSON_CreateObject();
    cJSON_AddStringToObject(actions, "type", "actions");
    cJSON_AddStringToObject(actions, "block_id", "sirt_next_steps");
    cJSON *els = cJSON_AddArrayToObject(actions, "elements");
    char id[32];
    snprintf(id, sizeof(id), "SIRT-%" PRId64, inc->id);
    cJSON_AddItemToArray(els, bk_button("Page on-call", "sirt_page", id, "danger"));
    cJSON_AddItemToArray(els, bk_button("Record decision", "sirt_decision", id, NULL));
    cJSON_AddItemToArray(els, bk_button("Hand off", "sirt_handoff", id, NULL));
    cJSON_AddItemToArray(els, bk_button("Add people", "sirt_add", id, NULL));
    cJSON_AddItemToArray(els, bk_button("Change severity", "sirt_severity", id, NULL));
    cJSON_AddItemToArray(els, bk_button("Resolve", "sirt_resolve", id, "primary"));
    cJSON_AddItemToArray(blocks, actions);

    free(title);
    free(what);
    free(repro);
    free(comp);
    free(link);
    free(e_what);
    free(e_repro);
    return blocks;
}

static int64_t add_job(const struct hctx *ctx, int64_t inc_id, const char *step, const char *op, cJSON *payload,
                       const int64_t *deps, size_t n_deps, int64_t deadline)
{
    char key[96];
    snprintf(key, sizeof(key), "SIRT-%" PRId64 "/%s", inc_id, step);
    int64_t id = outbox_add(ctx->store, inc_id, key, op, payload, deps, n_deps, deadline);
    cJSON_Delete(payload);
    return id;
}


/* Writes the incident and its plan; inside the router's transaction. */
static void plan_incident(const struct hctx *ctx, const struct incident *inc, const struct report_input *in)
{
    const struct cfg *cfg = ctx->cfg;
    int64_t n = inc->id;
    int64_t now = ctx->now_ms();
    int64_t soft = now + SOFT_DEPS_MS;
    const struct cfg_component *comp = in->component[0] ? cfg_component(cfg, in->component) : NULL;
    bool page = in->severity == 1 || in->priority == 1;
    bool paging = cfg->pagerduty_routing_key != NULL;
    bool gitlab = cfg->gitlab_url != NULL;
    char *title = txt_clean(in->title, TITLE_MAX);
    char *marker = xasprintf("sirt:SIRT-%" PRId64 ":%016llx", n, (unsigned long long)util_rand64());

    /* 1. private channel */
    char name[81];
    report_channel_name(n, in->title, name, sizeof(name));
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddTrueToObject(p, "is_private");
    int64_t j_chan = add_job(ctx, n, "create_channel", "slack.create_channel", p, NULL, 0, 0);

    /* 2. invitations: reporter, owner, S1 responders, the component's EM and PM */
    p = cJSON_CreateObject();
    cJSON *users = cJSON_AddArrayToObject(p, "users");
    add_unique(users, inc->reporter);
    add_unique(users, inc->owner);
    if (in->severity == 1)
        for (size_t i = 0; i < cfg->severity1_responders.n; i++)
            add_unique(users, cfg->severity1_responders.v[i]);
    if (comp) {
        add_unique(users, comp->em);
        add_unique(users, comp->pm);
    }
    {
        const cJSON *u;
        cJSON_ArrayForEach(u, users)
            store_member_add(ctx->store, n, u->valuestring,
                             strcmp(u->valuestring, inc->reporter) == 0 ? "reporter"
                             : inc->owner && strcmp(u->valuestring, inc->owner) == 0 ? "owner" : "responder",
                             now);
    }
    add_job(ctx, n, "invite", "slack.invite", p, &j_chan, 1, 0);

    cJSON *owner_dm = NULL;
    /* The appsec owner: told, and on the follow-the-sun clock.  Nobody
     * in working hours: the secops on-call takes it (found at send time). */
    if (inc->owner && strcmp(inc->owner, inc->reporter) != 0) {
        char *t = xasprintf("You own security incident SIRT-%" PRId64 " (%s, S%d, P%d): you are the appsec "
                            "engineer in working hours with the most of the day left. Channel: "
                            "{{incident.channel}} · {{incident.issue_link}}. I will ask you to hand it off "
                            "before your day ends.", n, title, in->severity, in->priority);
        owner_dm = cJSON_CreateObject();   /* added once the issue job exists: its link, if it comes in time */
        cJSON_AddStringToObject(owner_dm, "user", inc->owner);
        cJSON_AddStringToObject(owner_dm, "text", t);
        free(t);
    } else if (!inc->owner && (cfg->secops_schedule || cfg->secops_fallback_user)) {
        p = cJSON_CreateObject();
        if (cfg->secops_schedule)
            cJSON_AddStringToObject(p, "schedule", cfg->secops_schedule);
        if (cfg->secops_fallback_user)
            cJSON_AddStringToObject(p, "fallback_user", cfg->secops_fallback_user);
        cJSON_AddTrueToObject(p, "set_owner");
        int64_t j_on = add_job(ctx, n, "owner_oncall", "pd.oncall", p, NULL, 0, 0);
        int64_t d2[2] = { j_on, j_chan };
        p = cJSON_CreateObject();
        cJSON *ou = cJSON_AddArrayToObject(p, "users");
        cJSON_AddItemToArray(ou, cJSON_CreateString("{{incident.owner}}"));
        add_job(ctx, n, "invite_owner", "slack.invite", p, d2, 2, 0);
        store_timeline_add(ctx->store, n, now, "sirtbot", "owner", "no appsec engineer in working hours: "
                           "the secops on-call owns it");
    }
    handoff_plan(ctx, inc);
    release_plan(ctx, inc);   /* S1/P1: daily reminder until a long-term fix is recorded */

    /* 3. GitLab: private project, confidential issue, members, EM/PM note */
    int64_t j_issue = 0, j_proj = 0;
    if (gitlab) {
        p = cJSON_CreateObject();
        char *pname = xasprintf("SIRT-%" PRId64, n);
        char *ppath = xasprintf("sirt-%" PRId64 "-%06llx", n, (unsigned long long)(util_rand64() & 0xffffff));
        cJSON_AddStringToObject(p, "name", pname);
        cJSON_AddStringToObject(p, "path", ppath);
        cJSON_AddStringToObject(p, "description", "Security incident (confidential). Managed by sirtbot.");
        free(pname);
        free(ppath);
        j_proj = add_job(ctx, n, "gitlab_project", "gitlab.create_project", p, NULL, 0, 0);

        /* Whole (validated to 3000 characters, any number of bytes): the
         * issue is where a cut summary sends the reader. */
        char *what = txt_clean(in->what, 0);
        char *repro = txt_clean(in->repro, 0);
        char *link = txt_clean(in->link, LINK_MAX);
        struct buf d;
        buf_init(&d, 0);
        buf_printf(&d, "**Security incident SIRT-%" PRId64 "**, reported in Slack by {{user.%s}} via sirtbot.\n\n"
                       "| Severity | Priority | Component |\n|---|---|---|\n| S%d | P%d | %s |\n\n"
                       "## What happened\n\n%s\n\n",
                   n, inc->reporter, in->severity, in->priority, in->component[0] ? in->component : "-", what);
        buf_printf(&d, "## Summarized reproduction steps\n\n```\n%s\n```\n\n",
                   repro[0] ? repro : "(none given yet: add HTTP requests, log lines, screenshots)");
        if (link[0])
            buf_printf(&d, "## Links\n\n- Reported issue: %s\n\n", link);
        buf_printf(&d, "<!-- %s -->\n", marker);
        p = cJSON_CreateObject();
        char *ititle = xasprintf("SIRT-%" PRId64 ": %s", n, title);
        char *labels = xasprintf("severity::%d,priority::%d,security", in->severity, in->priority);
        cJSON_AddStringToObject(p, "title", ititle);
        cJSON_AddStringToObject(p, "description", d.data);
        cJSON_AddStringToObject(p, "labels", labels);
        cJSON_AddTrueToObject(p, "names");   /* the reporter's name, not their Slack id */
        cJSON_AddStringToObject(p, "marker", marker);
        j_issue = add_job(ctx, n, "gitlab_issue", "gitlab.create_issue", p, &j_proj, 1, 0);
        free(ititle);
        free(labels);
        buf_finish(&d);
        free(what);
        free(repro);
        free(link);

        p = cJSON_CreateObject();
        cJSON *names = cJSON_AddArrayToObject(p, "usernames");
        const struct cfg_appsec *rep = cfg_appsec_user(cfg, inc->reporter);
        if (rep)
            add_unique(names, rep->gitlab);
        if (in->severity == 1)
            for (size_t i = 0; i < cfg->severity1_responders.n; i++) {
                const struct cfg_appsec *a = cfg_appsec_user(cfg, cfg->severity1_responders.v[i]);
                if (a)
                    add_unique(names, a->gitlab);
            }
        if (comp) {
            add_unique(names, comp->gitlab_em);
            add_unique(names, comp->gitlab_pm);
        }
        cJSON_AddNumberToObject(p, "access_level", 30);
        if (cJSON_GetArraySize(names))
            add_job(ctx, n, "gitlab_members", "gitlab.add_members", p, &j_proj, 1, 0);
        else
            cJSON_Delete(p);

        /* The Issue link names an existing issue on GitLab: the repro goes
         * there and the issues link each other once ours exists (link.c). */
        char lpath[LINK_MAX + 1], lurl[LINK_MAX + 64];
        int64_t liid = 0;
        if (in->link[0] && link_parse_url(cfg->gitlab_url, in->link, lpath, sizeof(lpath), &liid, lurl, sizeof(lurl))
                               == LINK_URL_ISSUE)
            link_add(ctx, inc, inc->reporter, lurl, lpath, liid, j_issue);

        if (comp && (comp->gitlab_em || comp->gitlab_pm)) {
            char *mention = xasprintf("%s%s%s%s", comp->gitlab_em ? "@" : "", comp->gitlab_em ? comp->gitlab_em : "",
                                      comp->gitlab_pm ? (comp->gitlab_em ? " @" : "@") : "",
                                      comp->gitlab_pm ? comp->gitlab_pm : "");
            char *body = xasprintf("%s: this security incident affects **%s**, which you manage (engineering / "
                                   "product). Please join the incident's private Slack channel; the security "
                                   "team will coordinate the fix there and in this issue.\n\n<!-- %s:em-pm -->",
                                   mention, comp->name, marker);
            char *nmarker = xasprintf("%s:em-pm", marker);
            p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "body", body);
            cJSON_AddStringToObject(p, "marker", nmarker);
            add_job(ctx, n, "gitlab_note_em_pm", "gitlab.note", p, &j_issue, 1, 0);
            free(mention);
            free(body);
            free(nmarker);
        }
    }

    /* 4. the pinned summary, once the channel exists (and the issue, if it comes in time) */
    int64_t deps[2] = { j_chan, j_issue };
    if (owner_dm)
        add_job(ctx, n, "dm_owner", "slack.dm", owner_dm, deps, j_issue ? 2 : 1, j_issue ? soft : 0);
    p = cJSON_CreateObject();
    char *stext = xasprintf("SIRT-%" PRId64 ": %s (S%d, P%d)", n, title, in->severity, in->priority);
    cJSON_AddStringToObject(p, "text", stext);
    free(stext);
    cJSON_AddItemToObject(p, "blocks", summary_blocks(inc, in, page, paging));
    cJSON_AddTrueToObject(p, "pin");
    int64_t j_summary = add_job(ctx, n, "summary", "slack.post", p, deps, j_issue ? 2 : 1, j_issue ? soft : 0);

    /* 5. paging: round 1 of the page rounds ("SIRT-n") */
    char dedup[64];
    int round = page && paging ? page_round(ctx, n, true, "report", dedup, sizeof(dedup), NULL) : 0;
    if (round < 0)
        LOG_ERROR("report: cannot record the page round", "incident:l error:s", (long long)n, store_strerror(round));
    if (round > 0) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "dedup_key", dedup);
        char *sum = xasprintf("SIRT-%" PRId64 " [S%d/P%d] %s", n, in->severity, in->priority, title);
        cJSON_AddStringToObject(p, "summary", sum);
        free(sum);
        cJSON_AddStringToObject(p, "severity", txt_pd_severity(in->severity));
        cJSON_AddStringToObject(p, "source", "sirtbot");
        cJSON_AddStringToObject(p, "component", in->component[0] ? in->component : "unknown");
        cJSON *cd = cJSON_AddObjectToObject(p, "custom_details");
        cJSON_AddStringToObject(cd, "incident", "{{incident.id}}");
        cJSON_AddStringToObject(cd, "component", in->component[0] ? in->component : "unknown");
        cJSON_AddStringToObject(cd, "reporter", inc->reporter);
        char sp[4];
        snprintf(sp, sizeof(sp), "P%d", in->priority);
        cJSON_AddStringToObject(cd, "priority", sp);
        snprintf(sp, sizeof(sp), "S%d", in->severity);
        cJSON_AddStringToObject(cd, "severity", sp);
        /* The page waits for the channel and the issue (links) at most
         * SOFT_DEPS_MS; sent without the issue, the link follows once the
         * issue exists (issue_job, effects.h). */
        if (j_issue > 0)
            cJSON_AddNumberToObject(p, "issue_job", (double)j_issue);
        int64_t j_page = add_job(ctx, n, "page", "pd.trigger", p, deps, j_issue ? 2 : 1, soft);
        char key[96];
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/page_oncall", n);
        page_oncall_invite(ctx, n, key, dedup, j_page, j_chan, j_proj);
        store_timeline_add(ctx->store, n, now, "sirtbot", "page_requested", "security on-call page requested");
    } else if (page && !paging) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "text", ":rotating_light: This is an S1/P1 incident but *nobody was paged*: "
                                           "PAGERDUTY_ROUTING_KEY is not set for sirtbot. Page the security "
                                           "on-call by hand now.");
        add_job(ctx, n, "no_page_warning", "slack.post", p, &j_summary, 1, 0);
        store_timeline_add(ctx->store, n, now, "sirtbot", "not_paged", "nobody paged: PAGERDUTY_ROUTING_KEY is not set");
    }

    /* 6. EM and PM: the component channel (no details) and a DM each */
    if (comp) {
        if (comp->channel && (comp->em || comp->pm)) {
            struct buf m;
            buf_init(&m, 0);
            if (comp->em)
                buf_printf(&m, "<@%s>", comp->em);
            if (comp->pm)
                buf_printf(&m, "%s<@%s>", comp->em ? " " : "", comp->pm);
            buf_printf(&m, ": a security incident (SIRT-%" PRId64 ") affects *%s*. You have been invited to its "
                           "private channel; the details are there and in the confidential issue, not here.",
                       n, comp->name);
            p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "channel", comp->channel);
            cJSON_AddStringToObject(p, "text", m.data);
            add_job(ctx, n, "component_channel", "slack.post", p, NULL, 0, 0);
            buf_finish(&m);
        }
        const char *roles[2][2] = { { comp->em, "engineering manager" }, { comp->pm, "product manager" } };
        for (int i = 0; i < 2; i++) {
            if (!roles[i][0])
                continue;
            char *t = xasprintf("You are the %s of *%s*. Security incident SIRT-%" PRId64 " affects it: %s "
                                "(S%d, P%d). You have been invited to {{incident.channel}}; GitLab: "
                                "{{incident.issue_link}}.",
                                roles[i][1], comp->name, n, title, in->severity, in->priority);
            p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "user", roles[i][0]);
            cJSON_AddStringToObject(p, "text", t);
            add_job(ctx, n, i == 0 ? "dm_em" : "dm_pm", "slack.dm", p, deps, j_issue ? 2 : 1, j_issue ? soft : 0);
            free(t);
        }
    }

    /* 7. the reporter hears back */
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "user", inc->reporter);
    char *t = xasprintf("Thank you. Your report is incident SIRT-%" PRId64 ". You have been invited to its private "
                        "channel {{incident.channel}}; %s",
                        n, page ? (paging ? "the security on-call has been paged." :
                                            "paging is not configured, so page the security on-call by hand.")
                                : "the security team will pick it up there.");
    cJSON_AddStringToObject(p, "text", t);
    free(t);
    add_job(ctx, n, "dm_reporter", "slack.dm", p, &j_chan, 1, 0);

    free(title);
    free(marker);
}

int report_submit(const struct hctx *ctx, const cJSON *payload)
{
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
    const char *view_id = util_jstr(view, "id");
    const char *user = util_jstr(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
    if (!user || !ctx->store) {
        LOG_WARN("report: submission without a user", "");
        return job_result(ctx);
    }
    struct report_input in;
    cJSON *errors = parse_input(ctx->cfg, view, &in);
    if (errors) {   /* validated at ack time; the config cannot have changed since */
        cJSON_Delete(errors);
        input_finish(&in);
        return job_result(ctx);
    }
    /* Mask before anything is stored: the store keeps the masked text only. */
    mask_replace(&in.title);
    mask_replace(&in.what);
    mask_replace(&in.component);
    mask_replace(&in.repro);
    mask_replace(&in.link);
    cJSON *meta = cJSON_Parse(util_jstr(view, "private_metadata") ? util_jstr(view, "private_metadata") : "{}");
    struct incident inc;
    memset(&inc, 0, sizeof(inc));
    inc.title = in.title;
    inc.description = in.what;
    inc.severity = in.severity;
    inc.priority = in.priority;
    inc.component = in.component[0] ? in.component : NULL;
    inc.repro = in.repro[0] ? in.repro : NULL;
    inc.issue_link = in.link[0] ? in.link : NULL;
    inc.reporter = (char *)user;
    const struct cfg_appsec *a = cfg_appsec_user(ctx->cfg, user);
    inc.owner = (char *)(a ? user : handoff_next_owner(ctx, NULL, ctx->now_ms()));
    inc.state = "open";
    /* private_metadata is input: only a conversation id is kept from it. */
    const char *origin = util_jstr(meta, "origin");
    size_t olen = origin ? strspn(origin, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") : 0;
    inc.origin_channel = origin && olen && olen <= 24 && !origin[olen] ? (char *)origin : NULL;
    char *key = view_id ? xasprintf("view/%s", view_id) : NULL;
    inc.submission_key = key;
    inc.created_ms = inc.updated_ms = ctx->now_ms();
    int rc = store_incident_create(ctx->store, &inc);
    if (rc == STORE_EEXIST) {
        LOG_INFO("report: the same form was submitted again; one incident", "incident:l", (long long)inc.id);
    } else if (rc == 0) {
        rc = store_timeline_add(ctx->store, inc.id, inc.created_ms, user, "reported", "incident reported");
    }
    if (rc == 0) {
        LOG_INFO("report: incident recorded", "incident:l severity:d priority:d", (long long)inc.id,
                 in.severity, in.priority);
        plan_incident(ctx, &inc, &in);
    } else if (rc != STORE_EEXIST) {
        LOG_ERROR("report: cannot record the incident; kept for a replay", "error:s", store_strerror(rc));
    }
    free(key);
    cJSON_Delete(meta);
    input_finish(&in);
    if (rc < 0 && rc != STORE_EEXIST)
        return rc;
    return job_result(ctx);
}
