/* report_payloads: see report_payloads.h. */
#include "report_payloads.h"

static void text_value(cJSON *values, const char *block, const char *v)
{
    cJSON *b = cJSON_AddObjectToObject(values, block);
    cJSON *e = cJSON_AddObjectToObject(b, "value");
    cJSON_AddStringToObject(e, "type", "plain_text_input");
    if (v)
        cJSON_AddStringToObject(e, "value", v);
    else
        cJSON_AddNullToObject(e, "value");
}

static void select_value(cJSON *values, const char *block, const char *v)
{
    cJSON *b = cJSON_AddObjectToObject(values, block);
    cJSON *e = cJSON_AddObjectToObject(b, "value");
    cJSON_AddStringToObject(e, "type", "static_select");
    if (v) {
        cJSON *o = cJSON_AddObjectToObject(e, "selected_option");
        cJSON *t = cJSON_AddObjectToObject(o, "text");
        cJSON_AddStringToObject(t, "type", "plain_text");
        cJSON_AddStringToObject(t, "text", v);
        cJSON_AddStringToObject(o, "value", v);
    } else {
        cJSON_AddNullToObject(e, "selected_option");
    }
}

cJSON *report_submission_payload(const char *view_id, const char *user, const struct report_fields *f)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "view_submission");
    cJSON *team = cJSON_AddObjectToObject(p, "team");
    cJSON_AddStringToObject(team, "id", "T0FAKE001");
    cJSON_AddStringToObject(team, "domain", "fake");
    cJSON *u = cJSON_AddObjectToObject(p, "user");
    cJSON_AddStringToObject(u, "id", user);
    cJSON_AddStringToObject(u, "username", "reporter");
    cJSON_AddStringToObject(u, "name", "reporter");
    cJSON_AddStringToObject(u, "team_id", "T0FAKE001");
    cJSON_AddStringToObject(p, "api_app_id", "A0FAKE001");
    cJSON_AddStringToObject(p, "token", "verif");
    cJSON_AddStringToObject(p, "trigger_id", "1337.42.view");
    cJSON *v = cJSON_AddObjectToObject(p, "view");
    cJSON_AddStringToObject(v, "id", view_id);
    cJSON_AddStringToObject(v, "team_id", "T0FAKE001");
    cJSON_AddStringToObject(v, "type", "modal");
    cJSON_AddStringToObject(v, "callback_id", "sirt_report");
    cJSON_AddStringToObject(v, "private_metadata", "{\"origin\":\"C0PUBLIC1\"}");
    cJSON_AddStringToObject(v, "hash", "1700000000.abcdef");
    cJSON_AddStringToObject(v, "app_id", "A0FAKE001");
    cJSON_AddStringToObject(v, "bot_id", "B0BOT0001");
    cJSON *state = cJSON_AddObjectToObject(v, "state");
    cJSON *values = cJSON_AddObjectToObject(state, "values");
    text_value(values, "title", f->title);
    text_value(values, "what", f->what);
    select_value(values, "severity", f->severity);
    select_value(values, "priority", f->priority);
    select_value(values, "component", f->component);
    text_value(values, "repro", f->repro);
    text_value(values, "link", f->link);
    cJSON_AddArrayToObject(p, "response_urls");
    return p;
}
