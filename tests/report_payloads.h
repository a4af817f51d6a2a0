/* report_payloads: builds view_submission payloads of the report modal in
 * Slack's shape (view.state.values.<block_id>.value.{value|selected_option}),
 * for unit and end-to-end tests.  Returned objects are owned by the caller. */
#ifndef SIRT_REPORT_PAYLOADS_H
#define SIRT_REPORT_PAYLOADS_H

#include <cjson/cJSON.h>

struct report_fields {
    const char *title, *what, *severity, *priority, *component, *repro, *link;
};

cJSON *report_submission_payload(const char *view_id, const char *user, const struct report_fields *f);

#endif
