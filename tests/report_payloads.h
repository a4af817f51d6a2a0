/* report_payloads: builds view_submission payloads in Slack's shape
 * (view.state.values.<block_id>.value.{value|selected_option}) for unit and
 * end-to-end tests and the demo: the report modal, the decision form, and
 * any other form from its parts.  Returned objects are owned by the
 * caller. */
#ifndef SIRT_REPORT_PAYLOADS_H
#define SIRT_REPORT_PAYLOADS_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct report_fields {
    const char *title, *what, *severity, *priority, *component, *repro, *link;
};

/* An S1 report (cache poisoning in a repository mirror) whose words must
 * never reach people outside the incident, and four words of its title and
 * text to look for where they must not be (access, status and review tests). */
extern const struct report_fields report_secret_s1;
extern const char *const report_secret_words[4];
/* An S2 report (session fixation in login) of the handoff tests. */
extern const struct report_fields report_session_s2;

cJSON *report_submission_payload(const char *view_id, const char *user, const struct report_fields *f);

/* A view_submission: type, user.id (with team: user.team_id "T0FAKE001"),
 * api_app_id "A0FAKE001" (with app), trigger_id, view {id, type "modal",
 * callback_id, private_metadata}, an empty view.state.values (handed back
 * in *values for the caller to fill) and response_urls []. */
struct view_submission {
    const char *user, *view_id, *callback_id, *metadata, *trigger_id;
    bool app, team;
};
cJSON *view_submission_payload(const struct view_submission *v, cJSON **values);
/* values.<block>.value: a plain_text_input (v NULL: "value": null) / a
 * static_select with selected_option v (NULL: "selected_option": null). */
void view_text_value(cJSON *values, const char *block, const char *v);
void view_select_value(cJSON *values, const char *block, const char *v);

/* The decision form's answers in its block order; NULL: an empty field. */
struct decision_answers {
    const char *solution, *options, *effectiveness, *customers, *how, *magnitude, *consequences;
};
/* view_submission_payload of v (callback_id "sirt_decision" when NULL)
 * with the answers as plain text inputs. */
cJSON *decision_submission_payload(const struct view_submission *v, const struct decision_answers *a);

#endif
