/* effect_ops: the one table of the ops the outbox can perform (see
 * effects.h "struct effect_op"): each op's entry point, what a failure
 * notice calls it, whether its failure is told at all, where the notice
 * goes, how long it may wait to start, and its retry class.  A new op is
 * one line here.  The table is static and immutable: the pointers handed
 * out live as long as the program. */
#include <string.h>

#include "effects.h"
#include "effects_internal.h"
#include "util.h"

/* A trigger_id lives 3 s: a modal that could not open by then never will. */
#define VIEWS_OPEN_TTL_MS 2500

/* Alphabetical.  Quiet ops: notices themselves, a poll repeated every minute
 * while it matters (pd.page_status), or ops whose user sees Slack's own
 * error.  notice_dm: the op makes the incident channel usable, so its
 * failure notice goes to the reporter instead. */
static const struct effect_op ops[] = {
    /* name, start, what (failure notices), quiet, notice_dm, ttl_ms, retry */
    { "gitlab.add_members",    eff_gitlab_add_members,    "adding members to the GitLab project",    false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.create_issue",   eff_gitlab_create_issue,   "creating the confidential GitLab issue",  false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.create_project", eff_gitlab_create_project, "creating the private GitLab project",     false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.issue_state",    eff_gitlab_issue_state,    "closing or reopening the GitLab issue",   false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.link",           eff_gitlab_link,           "linking an existing GitLab issue",        false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.note",           eff_gitlab_note,           "adding a note to the GitLab issue",       false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "gitlab.update_issue",   eff_gitlab_update_issue,   "updating the GitLab issue's labels",      false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.oncall",             eff_pd_oncall,             "finding the secops on-call (PagerDuty)",  false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.page_status",        eff_pd_page_status,        "reading the page's status (PagerDuty)",   true,  false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.resolve",            eff_pd_resolve,            "resolving the PagerDuty incident",        false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "pd.trigger",            eff_pd_trigger,            "paging the security on-call (PagerDuty)", false, false, 0,                 EFFECT_CLASS_PAGE },
    { "slack.create_channel",  eff_slack_create_channel,  "creating the private Slack channel",      false, true,  0,                 EFFECT_CLASS_DEFAULT },
    { "slack.dm",              eff_slack_dm,              "sending a direct message",                false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.ephemeral",       eff_slack_ephemeral,       "showing a message only you can see",      true,  false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.file_bytes",      eff_slack_file_bytes,      "uploading a file's content to Slack",     false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.file_complete",   eff_slack_file_complete,   "sharing an uploaded file in Slack",       false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.file_upload",     eff_slack_file_upload,     "uploading a file to Slack",               false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.invite",          eff_slack_invite,          "inviting people to the incident channel", false, true,  0,                 EFFECT_CLASS_DEFAULT },
    { "slack.post",            eff_slack_post,            "posting a message",                       false, false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.response_url",    eff_slack_response_url,    "answering a slash command",               true,  false, 0,                 EFFECT_CLASS_DEFAULT },
    { "slack.views_open",      eff_slack_views_open,      "opening a form",                          true,  false, VIEWS_OPEN_TTL_MS, EFFECT_CLASS_DEFAULT },
};

const struct effect_op *effect_op_find(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(ops); i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

const struct effect_op *effect_op_at(size_t i)
{
    return i < ARRAY_LEN(ops) ? &ops[i] : NULL;
}

bool effect_known(const char *op)
{
    return effect_op_find(op) != NULL;
}

enum effect_retry_class effect_retry_class(const char *op)
{
    const struct effect_op *e = effect_op_find(op);
    return e ? e->retry : EFFECT_CLASS_DEFAULT;
}
