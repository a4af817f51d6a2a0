/* handlers: the tables the router dispatches on — verbs (alphabetical),
 * block actions by action_id, view submissions by callback_id — and the
 * shared replies for unknown verbs and for verbs this version does not
 * run yet.  Tables are static and read-only. */
#include "handlers.h"

#include <string.h>

#include "../bot/app.h"
#include "../bot/config.h"
#include "../bot/util.h"

/* Verbs that DESIGN.md lists and later versions bring.  Someone may be
 * typing one of these during a real incident: say so plainly and point them
 * at people, never stay silent. */
static void later_respond(struct sirt_app *app, const struct sirt_req *req, struct sirt_reply *out)
{
    const char *ch = app && app->cfg && app->cfg->sirt_channel ? app->cfg->sirt_channel : NULL;
    if (ch)
        reply_set_text(out, "`%s` is not available in this version of sirtbot yet. "
                            "If you are reporting a security incident, post in <#%s> "
                            "or page the security on-call now. `/sirt help` lists what works today.",
                       req->verb, ch);
    else
        reply_set_text(out, "`%s` is not available in this version of sirtbot yet. "
                            "If you are reporting a security incident, page the security on-call now. "
                            "`/sirt help` lists what works today.",
                       req->verb);
}

const struct sirt_verb handlers_verbs[] = {
    { "assign", "assign SIRT-n @user", "make @user the incident's appsec owner", later_respond, NULL },
    { "decision", "decision [SIRT-n]", "record a short-term decision (modal)", later_respond, NULL },
    { "handoff", "handoff [SIRT-n] [@user]", "hand the incident off now", later_respond, NULL },
    { "help", "help", "this list", help_respond, NULL },
    { "oncall", "oncall", "who is the security on-call right now", later_respond, NULL },
    { "page", "page [SIRT-n]", "page the security on-call for the incident", later_respond, NULL },
    { "report", "report [summary]", "report a security incident (opens a form)", report_respond, report_work },
    { "resolve", "resolve SIRT-n", "resolve the incident (and its page)", later_respond, NULL },
    { "review", "review", "post the weekly review digest in the SIRT channel", later_respond, NULL },
    { "status", "status [SIRT-n]", "status of an incident, or the list of open ones", later_respond, NULL },
    { "timeline", "timeline SIRT-n", "the incident's timeline as Markdown, for the postmortem", later_respond, NULL },
};
const size_t handlers_n_verbs = ARRAY_LEN(handlers_verbs);

/* The verbs this version really runs; help marks the others. */
bool handlers_verb_available(const struct sirt_verb *v)
{
    return v->respond != later_respond || v->work != NULL;
}

const struct sirt_verb *handlers_verb(const char *name)
{
    for (size_t i = 0; i < handlers_n_verbs; i++)
        if (strcmp(handlers_verbs[i].name, name) == 0)
            return &handlers_verbs[i];
    return NULL;
}

static const struct sirt_action actions[] = {
    { "sirt_decision", report_later_action },
    { "sirt_handoff", report_later_action },
    { "sirt_page", report_later_action },
    { "sirt_report_open", report_open_action },
    { "sirt_resolve", report_later_action },
    { NULL, NULL },
};

static const struct sirt_view views[] = {
    { "sirt_report", report_validate, report_submit },
    { NULL, NULL, NULL },
};

const struct sirt_action *handlers_action(const char *action_id)
{
    for (size_t i = 0; i < ARRAY_LEN(actions) && actions[i].action_id; i++)
        if (strcmp(actions[i].action_id, action_id) == 0)
            return &actions[i];
    return NULL;
}

const struct sirt_view *handlers_view(const char *callback_id)
{
    for (size_t i = 0; i < ARRAY_LEN(views) && views[i].callback_id; i++)
        if (strcmp(views[i].callback_id, callback_id) == 0)
            return &views[i];
    return NULL;
}
