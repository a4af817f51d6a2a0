/* handlers: the tables the router dispatches on — verbs (alphabetical),
 * block actions by action_id, view submissions by callback_id, and the
 * scheduler's timer kinds — and the replies the verbs build.  Tables are
 * static and read-only; the composition root passes them in. */
#include "handlers.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/util.h"

const struct sirt_verb handlers_verbs[] = {
    { "add", "add [SIRT-n] @user …", "add people to the incident: channel, GitLab project, and the context by DM", add_respond, add_work, false },
    { "assign", "assign SIRT-n @user", "make @user the incident's appsec owner", assign_respond, assign_work, false },
    { "decision", "decision [SIRT-n]", "record a short-term decision (opens a form)", decision_respond, decision_work, false },
    { "handoff", "handoff [SIRT-n] [@user]", "hand the incident off now (to @user, or the next engineer along the sun)", handoff_respond, handoff_work, false },
    { "help", "help", "this list", help_respond, NULL, true },
    { "improve", "improve [SIRT-n] <text>", "note a process improvement for the weekly review (SIRT team)", improve_respond, improve_work, false },
    { "link", "link [SIRT-n] <issue URL>", "attach an existing GitLab issue: the repro goes there, the issues link each other", link_respond, link_work, false },
    { "oncall", "oncall", "who is the security on-call right now", oncall_respond, oncall_work, false },
    { "page", "page [SIRT-n]", "page the security on-call for the incident", page_respond, page_work, false },
    { "release", "release [SIRT-n] <URL>", "record the long-term fix (critical security release issue or MR)", release_respond, release_work, false },
    { "reopen", "reopen SIRT-n", "reopen a resolved incident and its GitLab issue (SIRT team)", reopen_respond, reopen_work, false },
    { "report", "report [summary]", "report a security incident (opens a form)", report_respond, report_work, false },
    { "resolve", "resolve SIRT-n", "resolve the incident, its page and its GitLab issue", resolve_respond, resolve_work, false },
    { "review", "review", "post the weekly review digest in the SIRT channel", review_respond, review_work, false },
    { "severity", "severity [SIRT-n] S<1-4> [P<1-4>]", "change the incident's severity/priority (S1 adds the responders; first S1/P1 pages)", severity_respond, severity_work, false },
    { "status", "status [SIRT-n]", "status of an incident, or the list of open ones", status_respond, status_work, false },
    { "timeline", "timeline SIRT-n", "upload the incident's timeline as a Markdown file, for the postmortem", timeline_respond, timeline_work, false },
};
const size_t handlers_n_verbs = ARRAY_LEN(handlers_verbs);

const struct sirt_verb *handlers_verb(const char *name)
{
    for (size_t i = 0; i < handlers_n_verbs; i++)
        if (strcmp(handlers_verbs[i].name, name) == 0)
            return &handlers_verbs[i];
    return NULL;
}

static const struct sirt_action actions[] = {
    { "decision_fix_delivered", decision_fix_delivered },
    { "decision_validated_no", decision_validated },
    { "decision_validated_yes", decision_validated },
    { "handoff_accept", handoff_accept_action },
    { "handoff_choose", handoff_choose_action },
    { "handoff_keep", handoff_keep_action },
    { "handoff_take", handoff_take_action },
    { "review_improvement_done", review_improvement_done_action },
    { "resolve_anyway", release_resolve_anyway },
    { "resolve_cancel", release_resolve_cancel },
    { "sirt_add", add_button },
    { "sirt_decision", decision_button },
    { "sirt_handoff", handoff_button },
    { "sirt_page", page_button },
    { "sirt_report_open", report_open_action },
    { "sirt_resolve", resolve_button },
    { "sirt_severity", severity_button },
    { NULL, NULL },
};

static const struct sirt_view views[] = {
    { "sirt_add", add_validate, add_submit },
    { "sirt_decision", decision_validate, decision_submit },
    { "sirt_report", report_validate, report_submit },
    { "sirt_severity", severity_validate, severity_submit },
    { NULL, NULL, NULL },
};

static const struct sirt_timer_kind timer_kinds[] = {
    { "handback", handoff_handback_fire },
    { "handoff_auto", handoff_auto_fire },
    { "handoff_prompt", handoff_prompt_fire },
    { "handoff_unaccepted", handoff_unaccepted_fire },
    { "page_ack", page_ack_fire },
    { "release_reminder", release_reminder_fire },
    { "retention", retention_fire },
    { "validate_prompt", decision_validate_prompt_fire },
    { "weekly_review", review_fire },
    { NULL, NULL },
};

const struct sirt_timer_kind *handlers_timer(const char *kind)
{
    for (size_t i = 0; i < ARRAY_LEN(timer_kinds) && timer_kinds[i].kind; i++)
        if (strcmp(timer_kinds[i].kind, kind) == 0)
            return &timer_kinds[i];
    return NULL;
}

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

const struct router_table handlers_router_table = {
    .verb = handlers_verb,
    .action = handlers_action,
    .view = handlers_view,
    .unknown = handlers_unknown,
};

const struct sched_kinds handlers_sched_kinds = {
    .find = handlers_timer,
};

/* ---- replies ---- */

void reply_set_text(struct sirt_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(r->text);
    r->text = xvasprintf(fmt, ap);
    va_end(ap);
}

void reply_finish(struct sirt_reply *r)
{
    free(r->text);
    cJSON_Delete(r->blocks);
    r->text = NULL;
    r->blocks = NULL;
}
