/* decision: short-term decisions of the S1/P1 procedure.  `/sirt decision
 * [SIRT-n]` and the summary's "Record decision" button open the modal
 * (options, effectiveness, customers affected, how, magnitude, other
 * consequences); a submission is recorded, posted in the incident channel
 * with a "Fix delivered" button, noted in the GitLab issue and sent to the
 * directors (approval is not required, communication is).  "Fix delivered"
 * arms a timer; when it fires the owner is asked whether the fix is
 * effective (Yes / No).  Everything runs in the router's (or scheduler's)
 * store transaction; effects are outbox jobs; user texts are masked before
 * they leave. */
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
#include "handlers.h"
#include "inc.h"
#include "job.h"
#include "txt.h"

#define FIELD_MAX 3000        /* per input, as the modal's max_length */
#define SECTION_MAX 3000      /* Slack's limit for a section's text */
#define DM_FIELD_MAX 600      /* per field in the directors' summary */

/* The form's fields, in order: block id, label, required, multiline. */
static const struct field {
    const char *id, *label;
    bool required, multiline;
    const char *placeholder;
} fields[] = {
    { "solution", "Chosen solution", true, true, "What will be done now, until the long-term fix ships" },
    { "options", "Options considered", false, true, "The other short-term options and why not them" },
    { "effectiveness", "Effectiveness (how well does it solve the problem?)", true, true, NULL },
    { "customers", "Customers affected (how many?)", true, false, "e.g. all self-managed, ~200 SaaS groups" },
    { "how", "How they are affected", true, true, NULL },
    { "magnitude", "Magnitude", true, false, "e.g. feature disabled for 2 days" },
    { "consequences", "Other consequences (positive and negative)", false, true, NULL },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

/* ---- small helpers ---- */



/* Characters, as Slack counts max_length (UTF-8 code points). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}


static const char *payload_user(const cJSON *payload)
{
    return util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "user"), "id");
}

static const char *payload_channel(const cJSON *payload)
{
    const char *c = util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "channel"), "id");
    return c ? c : util_jstr_set(cJSON_GetObjectItemCaseSensitive(payload, "container"), "channel_id");
}

/* Masked, escaped user text for mrkdwn, at most max bytes of source. */
static char *mrkdwn_user(const char *s, size_t max)
{
    char *m = txt_clean(s, max);
    char *e = txt_mrkdwn(m);
    free(m);
    return e;
}

/* A section "*label*\n<text>" within Slack's 3000 characters. */
static cJSON *field_section(const char *label, const char *text)
{
    char *t = xasprintf("*%s*\n%s", label, text && text[0] ? text : "_not given_");
    size_t n = strlen(t);
    if (n > SECTION_MAX) {
        size_t cut = SECTION_MAX - 3;
        while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80)
            cut--;
        /* never leave half an entity such as "&am" */
        for (size_t k = cut; k > 0 && cut - k < 6; k--)
            if (t[k - 1] == '&') {
                cut = k - 1;
                break;
            } else if (t[k - 1] == ';') {
                break;
            }
        memcpy(t + cut, "...", 4);
    }
    cJSON *s = bk_section(t);
    free(t);
    return s;
}

/* ---- who may record a decision ---- */

static int decision_check(const struct hctx *ctx, const struct incident *inc, const char *user, const char *channel,
                          char *msg, size_t len)
{
    if (!inc_authorized(ctx, inc, user) && !inc_in_channel(inc, channel)) {
        snprintf(msg, len, "Only the SIRT team and the people on SIRT-%" PRId64 " can record its decisions.",
                 inc->id);
        return -1;
    }
    return 0;
}

/* ---- the modal ---- */

/* A Slack conversation id as the bot writes it into private_metadata. */
static bool channel_id_shape(const char *c)
{
    if (!c || !*c || strlen(c) > 24)
        return false;
    for (; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return false;
    return true;
}

/* private_metadata names the incident and the channel the form was opened
 * from, so the submission is checked as the command was (decision_check). */
static cJSON *decision_view(int64_t incident_id, const char *channel)
{
    char meta[96];
    if (channel_id_shape(channel))
        snprintf(meta, sizeof(meta), "{\"incident\":%" PRId64 ",\"channel\":\"%s\"}", incident_id, channel);
    else
        snprintf(meta, sizeof(meta), "{\"incident\":%" PRId64 "}", incident_id);
    char *intro = xasprintf("*SIRT-%" PRId64 "*: analyse each option's impact, then record the one chosen. "
                            "Approval is not required, clear communication is: the decision goes to the "
                            "incident channel, the issue and the directors.", incident_id);
    cJSON *blocks;
    cJSON *v = bk_form("Short-term decision", "Record", "sirt_decision", meta, intro, &blocks);
    free(intro);
    for (size_t i = 0; i < N_FIELDS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", "plain_text_input");
        cJSON_AddStringToObject(e, "action_id", "value");
        if (fields[i].multiline)
            cJSON_AddTrueToObject(e, "multiline");
        cJSON_AddNumberToObject(e, "max_length", FIELD_MAX);
        if (fields[i].placeholder)
            cJSON_AddItemToObject(e, "placeholder", bk_plain_max(fields[i].placeholder, BK_PLACEHOLDER));
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "type", "input");
        cJSON_AddStringToObject(b, "block_id", fields[i].id);
        cJSON_AddItemToObject(b, "label", bk_plain_max(fields[i].label, BK_LABEL));
        cJSON_AddItemToObject(b, "element", e);
        if (!fields[i].required)
            cJSON_AddTrueToObject(b, "optional");
        cJSON_AddItemToArray(blocks, b);
    }
    return v;
}

static void open_modal(const struct hctx *ctx, int64_t incident_id, const char *channel, const char *trigger_id)
{
    if (!trigger_id) {
        LOG_WARN("decision: no trigger_id, cannot open the form", "incident:l", (long long)incident_id);
        return;
    }
    job_views_open(ctx, incident_id, trigger_id, decision_view(incident_id, channel));
}

void decision_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    struct incident inc;
    char msg[300];
    if (inc_for_reply(ctx, req, &inc, out) != 0)
        return;
    if (decision_check(ctx, &inc, req->user_id, req->channel_id, msg, sizeof(msg)) != 0) {
        reply_set_text(out, "%s", msg);
    } else if (req->source != REQ_SLASH) {
        /* No trigger_id in an event: a button opens the form. */
        reply_set_text(out, "Record a short-term decision for SIRT-%" PRId64 ":", inc.id);
        char val[32];
        snprintf(val, sizeof(val), "SIRT-%" PRId64, inc.id);
        cJSON *blocks = cJSON_CreateArray();
        char *t = xasprintf("Record a short-term decision for *SIRT-%" PRId64 "* (opens a form).", inc.id);
        cJSON_AddItemToArray(blocks, bk_section(t));
        free(t);
        cJSON *acts = bk_actions("sirt_decision_open");
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(acts, "elements"),
                             bk_button("Record decision", "sirt_decision", val, "primary"));
        cJSON_AddItemToArray(blocks, acts);
        out->blocks = blocks;
    }
    /* slash: the form opens, nothing to say */
    incident_finish(&inc);
}

int decision_work(const struct hctx *ctx, const struct sirt_req *req)
{
    if (req->source != REQ_SLASH)
        return job_result(ctx);
    struct incident inc;
    char msg[300];
    if (inc_for_req(ctx, req, &inc) != 0)
        return job_result(ctx);
    if (decision_check(ctx, &inc, req->user_id, req->channel_id, msg, sizeof(msg)) == 0)
        open_modal(ctx, inc.id, req->channel_id, req->trigger_id);
    incident_finish(&inc);
    return job_result(ctx);
}

int decision_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = payload_user(payload);
    struct incident inc;
    if (!user)
        return job_result(ctx);
    if (inc_for_button(ctx, payload, action, "decision", false, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    if (decision_check(ctx, &inc, user, payload_channel(payload), msg, sizeof(msg)) != 0)
        job_button_notice(ctx, payload, action, "decision-refused", msg, false);
    else
        open_modal(ctx, inc.id, payload_channel(payload), util_jstr_set(payload, "trigger_id"));
    incident_finish(&inc);
    return job_result(ctx);
}

/* ---- the submission ---- */

struct decision_input {
    char *v[N_FIELDS];
    int64_t incident_id;
    char channel[32];      /* where the form was opened, "" if unknown */
    bool meta_ok;          /* private_metadata well formed */
};

static void input_finish(struct decision_input *in)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        free(in->v[i]);
    memset(in, 0, sizeof(*in));
}


/* Reads {"incident":n[,"channel":"C…"]}; anything else is malformed (a
 * forged or foreign form): meta_ok false, incident 0. */
static void meta_read(const cJSON *view, struct decision_input *in)
{
    const char *m = util_jstr_set(view, "private_metadata");
    cJSON *j = m ? cJSON_Parse(m) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "incident");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "channel");
    bool ok = cJSON_IsObject(j) && cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble < 1e15
              && n->valuedouble == (double)(int64_t)n->valuedouble
              && (!c || (cJSON_IsString(c) && channel_id_shape(c->valuestring)));
    in->meta_ok = ok;
    in->incident_id = ok ? (int64_t)n->valuedouble : 0;
    if (ok && c)
        str_lcpy(in->channel, c->valuestring, sizeof(in->channel));
    cJSON_Delete(j);
}

/* Parses and checks the form; errors object (caller owns) or NULL. */
static cJSON *parse_input(const struct hctx *ctx, const cJSON *payload, struct decision_input *in)
{
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
    memset(in, 0, sizeof(*in));
    cJSON *errors = cJSON_CreateObject();
    for (size_t i = 0; i < N_FIELDS; i++) {
        in->v[i] = txt_trim(bk_view_input(view, fields[i].id));
        if (fields[i].required && !in->v[i][0])
            cJSON_AddStringToObject(errors, fields[i].id, "This is required.");
        else if (utf8_len(in->v[i]) > FIELD_MAX)
            cJSON_AddStringToObject(errors, fields[i].id, "Keep this under 3000 characters; put the rest in the issue.");
    }
    meta_read(view, in);
    struct incident inc;
    char msg[300];
    if (!in->meta_ok) {
        cJSON_DeleteItemFromObjectCaseSensitive(errors, "solution");
        cJSON_AddStringToObject(errors, "solution", "This form does not say which incident it is for: open it "
                                                    "again with `/sirt decision SIRT-n`. Nothing was recorded.");
    } else if (!ctx || !ctx->store || store_incident_get(ctx->store, in->incident_id, &inc) != 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(errors, "solution");
        cJSON_AddStringToObject(errors, "solution", "This form is for an incident that no longer exists.");
    } else {
        /* Re-checked as the command that opened it: a form is no proof. */
        if (decision_check(ctx, &inc, payload_user(payload), in->channel, msg, sizeof(msg)) != 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(errors, "solution");
            cJSON_AddStringToObject(errors, "solution", msg);
        }
        incident_finish(&inc);
    }
    if (!cJSON_GetArraySize(errors)) {
        cJSON_Delete(errors);
        return NULL;
    }
    return errors;
}

cJSON *decision_validate(const struct hctx *ctx, const cJSON *payload)
{
    struct decision_input in;
    cJSON *errors = parse_input(ctx, payload, &in);
    input_finish(&in);
    return bk_view_errors(errors);
}

/* Has this form (view id) been recorded already?  The timeline entry of a
 * decision names its form. */
struct seen {
    const char *tag;
    bool found;
};

static bool seen_cb(void *ud, const struct timeline_entry *e)
{
    struct seen *s = ud;
    if (e->kind && strcmp(e->kind, "decision") == 0 && e->text && strstr(e->text, s->tag))
        s->found = true;
    return !s->found;
}

static bool form_recorded(const struct hctx *ctx, int64_t incident_id, const char *tag)
{
    struct seen s = { tag, false };
    store_timeline_list(ctx->store, incident_id, seen_cb, &s);
    return s.found;
}

enum { F_SOLUTION, F_OPTIONS, F_EFFECT, F_CUSTOMERS, F_HOW, F_MAGNITUDE, F_CONSEQ };

static void plan_decision(const struct hctx *ctx, const struct incident *inc, const struct decision *d,
                          const char *form)
{
    const char *vals[N_FIELDS] = { d->solution, d->options, d->effectiveness, d->customers, d->how_affected,
                                   d->magnitude, d->consequences };
    char key[200];

    /* 1. the incident channel, with the Fix delivered button */
    cJSON *blocks = cJSON_CreateArray();
    char *head = xasprintf(":memo: *Short-term decision #%" PRId64 " for SIRT-%" PRId64 "*, recorded by <@%s>. "
                           "Approval is not required; the directors have been told.",
                           d->id, inc->id, d->author);
    cJSON_AddItemToArray(blocks, bk_section(head));
    free(head);
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!fields[i].required && !(vals[i] && vals[i][0]))
            continue;
        char *t = mrkdwn_user(vals[i], FIELD_MAX);
        cJSON_AddItemToArray(blocks, field_section(fields[i].label, t));
        free(t);
    }
    char val[32];
    snprintf(val, sizeof(val), "%" PRId64, d->id);
    cJSON *acts = bk_actions("decision_actions");
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(acts, "elements"),
                         bk_button("Fix delivered", "decision_fix_delivered", val, "primary"));
    cJSON_AddItemToArray(blocks, acts);
    char *sol = mrkdwn_user(vals[F_SOLUTION], 300);
    char *text = xasprintf("Short-term decision #%" PRId64 " for SIRT-%" PRId64 " by <@%s>: %s", d->id, inc->id,
                           d->author, sol);
    free(sol);
    snprintf(key, sizeof(key), "decision/%s/post", form);
    job_post_incident(ctx, inc, key, text, blocks);
    free(text);

    /* 2. the GitLab issue */
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "## Short-term decision #%" PRId64 "\n\nRecorded in Slack by {{user.%s}} via sirtbot. Approval is not "
                   "required; the directors have been informed.\n\n",
               d->id, d->author);
    for (size_t i = 0; i < N_FIELDS; i++) {
        char *t = txt_clean(vals[i] && vals[i][0] ? vals[i] : "(not given)", FIELD_MAX);
        buf_printf(&b, "### %s\n\n%s\n\n", fields[i].label, t);
        free(t);
    }
    snprintf(key, sizeof(key), "decision/%s/note", form);
    job_gitlab_note(ctx, inc, key, b.data);
    buf_finish(&b);

    /* 3. the directors: communication, not approval */
    char *dsol = mrkdwn_user(vals[F_SOLUTION], DM_FIELD_MAX);
    char *deff = mrkdwn_user(vals[F_EFFECT], DM_FIELD_MAX);
    char *dcus = mrkdwn_user(vals[F_CUSTOMERS], DM_FIELD_MAX);
    char *dhow = mrkdwn_user(vals[F_HOW], DM_FIELD_MAX);
    char *dmag = mrkdwn_user(vals[F_MAGNITUDE], DM_FIELD_MAX);
    char *dm = xasprintf("A short-term decision was taken on security incident *SIRT-%" PRId64 "* by <@%s>.\n"
                         "*Chosen solution*: %s\n*Impact*: effectiveness: %s; customers affected: %s; how: %s; "
                         "magnitude: %s\n"
                         "Nothing to do for you: approval is not required; this is for your information. Details: "
                         "{{incident.channel}} "
                         "and {{incident.issue_link}}.",
                         inc->id, d->author, dsol, deff, dcus, dhow, dmag);
    for (size_t i = 0; i < ctx->cfg->directors.n; i++) {
        char dkey[256];
        snprintf(dkey, sizeof(dkey), "SIRT-%" PRId64 "/decision/%s/dm/%s", inc->id, form, ctx->cfg->directors.v[i]);
        job_dm(ctx, inc->id, dkey, ctx->cfg->directors.v[i], dm, NULL);
    }
    free(dm);
    free(dsol);
    free(deff);
    free(dcus);
    free(dhow);
    free(dmag);
}

static const char *view_id_or(const cJSON *view)
{
    const char *id = util_jstr_set(view, "id");
    return id ? id : "-";
}

int decision_submit(const struct hctx *ctx, const cJSON *payload)
{
    const cJSON *view = cJSON_GetObjectItemCaseSensitive(payload, "view");
    const char *user = payload_user(payload);
    if (!user || !ctx->store) {
        LOG_WARN("decision: submission without a user", "");
        return job_result(ctx);
    }
    struct decision_input in;
    cJSON *errors = parse_input(ctx, payload, &in);
    if (errors) {
        /* Checked at ack time already; things changed since (access, the
         * incident) or the form was forged: refused, and the sender told. */
        const char *why = util_jstr_set(errors, "solution");
        char *t = xasprintf("Your short-term decision was not recorded: %s",
                            why ? why : "the form did not pass its checks.");
        char key[200];
        snprintf(key, sizeof(key), "decision-refused/%s", view_id_or(view));
        job_dm(ctx, 0, key, user, t, NULL);
        LOG_WARN("decision: submission refused at work time", "user:s incident:l", user, (long long)in.incident_id);
        free(t);
        cJSON_Delete(errors);
        input_finish(&in);
        return job_result(ctx);
    }
    struct incident inc;
    if (store_incident_get(ctx->store, in.incident_id, &inc) != 0) {
        input_finish(&in);
        return job_result(ctx);
    }
    const char *view_id = util_jstr_set(view, "id");
    char form[96], tag[120];
    snprintf(form, sizeof(form), "%s", view_id ? view_id : "");
    snprintf(tag, sizeof(tag), "[form %s]", form);
    if (view_id && form_recorded(ctx, inc.id, tag)) {
        LOG_INFO("decision: the same form was submitted again; recorded once", "incident:l", (long long)inc.id);
        incident_finish(&inc);
        input_finish(&in);
        return job_result(ctx);
    }
    for (size_t i = 0; i < N_FIELDS; i++)
        mask_replace(&in.v[i]);     /* the store keeps the masked text only */
    struct decision d;
    memset(&d, 0, sizeof(d));
    d.incident_id = inc.id;
    d.author = (char *)user;
    d.created_ms = ctx->now_ms();
    d.solution = in.v[F_SOLUTION];
    d.options = in.v[F_OPTIONS][0] ? in.v[F_OPTIONS] : NULL;
    d.effectiveness = in.v[F_EFFECT];
    d.customers = in.v[F_CUSTOMERS];
    d.how_affected = in.v[F_HOW];
    d.magnitude = in.v[F_MAGNITUDE];
    d.consequences = in.v[F_CONSEQ][0] ? in.v[F_CONSEQ] : NULL;
    int rc = store_decision_add(ctx->store, &d);
    if (rc == 0) {
        if (!view_id)
            snprintf(form, sizeof(form), "d%" PRId64, d.id);
        rc = inc_timeline_add(ctx, inc.id, user, "decision", "short-term decision #%" PRId64 " recorded by <@%s> %s",
                              d.id, user, view_id ? tag : "");
    }
    if (rc != 0) {
        LOG_ERROR("decision: cannot record; kept for a replay", "incident:l error:s", (long long)inc.id,
                  store_strerror(rc));
    } else {
        plan_decision(ctx, &inc, &d, form);
        LOG_INFO("decision recorded", "incident:l decision:l", (long long)inc.id, (long long)d.id);
    }
    incident_finish(&inc);
    input_finish(&in);
    return rc < 0 ? rc : job_result(ctx);
}

/* ---- fix delivered, and validation ---- */

/* The decision a button's value names and its incident; 0, or -1 after
 * telling the presser. */
static int button_decision(const struct hctx *ctx, const cJSON *payload, const cJSON *action, struct decision *d,
                           struct incident *inc)
{
    memset(d, 0, sizeof(*d));
    memset(inc, 0, sizeof(*inc));
    const char *v = util_jstr_set(action, "value");
    char *end = NULL;
    long long id = v ? strtoll(v, &end, 10) : 0;
    if (id <= 0 || !end || *end || store_decision_get(ctx->store, id, d) != 0) {
        job_button_notice(ctx, payload, action, "decision-unknown", "I cannot find that decision any more.", false);
        return -1;
    }
    if (store_incident_get(ctx->store, d->incident_id, inc) != 0) {
        decision_finish(d);
        job_button_notice(ctx, payload, action, "decision-unknown", "I cannot find that incident any more.", false);
        return -1;
    }
    return 0;
}

static void minutes_text(int minutes, char *out, size_t len)
{
    if (minutes % 60 == 0 && minutes >= 60)
        snprintf(out, len, "%d hour%s", minutes / 60, minutes == 60 ? "" : "s");
    else
        snprintf(out, len, "%d minute%s", minutes, minutes == 1 ? "" : "s");
}

int decision_fix_delivered(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = payload_user(payload);
    struct decision d;
    struct incident inc;
    if (!user || button_decision(ctx, payload, action, &d, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    if (decision_check(ctx, &inc, user, payload_channel(payload), msg, sizeof(msg)) != 0) {
        job_button_notice(ctx, payload, action, "fix-refused", msg, false);
    } else if (d.fix_delivered_ms) {
        snprintf(msg, sizeof(msg), "The fix of decision #%" PRId64 " was already marked delivered by <@%s>.", d.id,
                 d.fix_delivered_by ? d.fix_delivered_by : "someone");
        job_button_notice(ctx, payload, action, "fix-again", msg, false);
    } else {
        int64_t now = ctx->now_ms();
        store_decision_fix_delivered(ctx->store, d.id, user, now);
        inc_timeline_add(ctx, inc.id, user, "fix_delivered",
                         "short-term fix of decision #%" PRId64 " delivered (<@%s>)",
                         d.id, user);
        int minutes = ctx->cfg->validate_after_minutes > 0 ? ctx->cfg->validate_after_minutes : 240;
        char when[32];
        minutes_text(minutes, when, sizeof(when));
        char *text = xasprintf(":package: <@%s> marked the short-term fix of decision #%" PRId64 " as delivered. "
                               "In %s I will ask the %s, <@%s>, to validate that it was effective.",
                               user, d.id, when, inc.owner ? "owner" : "reporter", inc.owner ? inc.owner : inc.reporter ? inc.reporter : "?");
        char key[96];
        snprintf(key, sizeof(key), "decision/%" PRId64 "/fix_delivered", d.id);
        job_post_incident(ctx, &inc, key, text, NULL);
        free(text);
        char tkey[64], tp[64];
        snprintf(tkey, sizeof(tkey), "validate/%" PRId64, d.id);
        snprintf(tp, sizeof(tp), "{\"decision\":%" PRId64 "}", d.id);
        store_timer_set(ctx->store, tkey, "validate_prompt", inc.id, now + (int64_t)minutes * 60000, tp, now);
    }
    decision_finish(&d);
    incident_finish(&inc);
    return job_result(ctx);
}

void decision_validate_prompt_fire(const struct hctx *ctx, const struct sched_timer *t)
{
    cJSON *p = t->payload ? cJSON_Parse(t->payload) : NULL;
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "decision");
    int64_t id = cJSON_IsNumber(n) ? (int64_t)n->valuedouble : 0;
    cJSON_Delete(p);
    struct decision d;
    struct incident inc;
    memset(&d, 0, sizeof(d));
    memset(&inc, 0, sizeof(inc));
    if (id <= 0 || store_decision_get(ctx->store, id, &d) != 0) {
        LOG_WARN("validate prompt: unknown decision", "decision:l", (long long)id);
        return;
    }
    if (d.validated != -1 || store_incident_get(ctx->store, d.incident_id, &inc) != 0) {
        decision_finish(&d);
        return;   /* answered already (or no incident): nothing to ask */
    }
    const char *to = inc.owner ? inc.owner : inc.reporter;
    if (to) {
        char *sol = mrkdwn_user(d.solution, 1500);
        char *text = xasprintf("Is the short-term fix for SIRT-%" PRId64 " validated as effective?", inc.id);
        char *body = xasprintf("*Is the short-term fix for SIRT-%" PRId64 " validated as effective?*\n"
                               "Decision #%" PRId64 ", delivered by <@%s>. Chosen solution:\n>%s\n"
                               "Check that the problem is really gone (logs, reproduction steps), then answer. "
                               "Channel: {{incident.channel}}.",
                               inc.id, d.id, d.fix_delivered_by ? d.fix_delivered_by : "someone", sol);
        cJSON *blocks = cJSON_CreateArray();
        cJSON_AddItemToArray(blocks, bk_section(body));
        char val[32];
        snprintf(val, sizeof(val), "%" PRId64, d.id);
        cJSON *acts = bk_actions("decision_validate");
        cJSON *els = cJSON_GetObjectItemCaseSensitive(acts, "elements");
        cJSON_AddItemToArray(els, bk_button("Yes, effective", "decision_validated_yes", val, "primary"));
        cJSON_AddItemToArray(els, bk_button("No, not effective", "decision_validated_no", val, "danger"));
        cJSON_AddItemToArray(blocks, acts);
        char key[128];
        snprintf(key, sizeof(key), "SIRT-%" PRId64 "/decision/%" PRId64 "/validate_prompt/%" PRId64, inc.id, d.id,
                 t->id);
        job_dm(ctx, inc.id, key, to, text, blocks);
        inc_timeline_add(ctx, inc.id, "sirtbot", "validate_prompt",
                         "asked <@%s> to validate the fix of decision #%" PRId64,
                         to, d.id);
        free(sol);
        free(text);
        free(body);
    }
    decision_finish(&d);
    incident_finish(&inc);
}

int decision_validated(const struct hctx *ctx, const cJSON *payload, const cJSON *action)
{
    const char *user = payload_user(payload);
    const char *aid = util_jstr_set(action, "action_id");
    bool yes = aid && strcmp(aid, "decision_validated_yes") == 0;
    struct decision d;
    struct incident inc;
    if (!user || !aid || button_decision(ctx, payload, action, &d, &inc) != 0)
        return job_result(ctx);
    char msg[300];
    if (!inc_authorized(ctx, &inc, user)) {
        snprintf(msg, sizeof(msg), "Only the SIRT team and the people on SIRT-%" PRId64 " can validate its fixes.",
                 inc.id);
        job_button_notice(ctx, payload, action, "validated-refused", msg, false);
    } else if (d.validated != -1) {
        snprintf(msg, sizeof(msg), "<@%s> already validated decision #%" PRId64 "'s fix as %s.",
                 d.validated_by ? d.validated_by : "someone", d.id, d.validated ? "effective" : "NOT effective");
        job_button_notice(ctx, payload, action, "validated-again", msg, false);
    } else {
        int64_t now = ctx->now_ms();
        store_decision_validated(ctx->store, d.id, yes, user, now);
        inc_timeline_add(ctx, inc.id, user, "fix_validated",
                         "short-term fix of decision #%" PRId64 " validated as %s by <@%s>",
                         d.id, yes ? "effective" : "NOT effective", user);
        char *text = yes ? xasprintf(":white_check_mark: <@%s> validated the short-term fix (decision #%" PRId64
                                     ") as effective.", user, d.id)
                         : xasprintf(":x: <@%s> validated the short-term fix (decision #%" PRId64 ") as NOT "
                                     "effective: the short-term decision needs revisiting (`/sirt decision SIRT-%"
                                     PRId64 "`).", user, d.id, inc.id);
        char key[96];
        snprintf(key, sizeof(key), "decision/%" PRId64 "/validated", d.id);
        job_post_incident(ctx, &inc, key, text, NULL);
        free(text);
        snprintf(msg, sizeof(msg), "Thanks: recorded that the short-term fix for SIRT-%" PRId64 " is %s.", inc.id,
                 yes ? "effective" : "NOT effective");
        job_button_notice(ctx, payload, action, "validated-thanks", msg, true);
        snprintf(key, sizeof(key), "validate/%" PRId64, d.id);
        store_timer_cancel(ctx->store, key);
    }
    decision_finish(&d);
    incident_finish(&inc);
    return job_result(ctx);
}
