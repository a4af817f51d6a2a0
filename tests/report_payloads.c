/* report_payloads: see report_payloads.h. */
#include "report_payloads.h"

const struct report_fields report_secret_s1 = {
    .title = "Cache poisoning in repository mirror",
    .what = "Mirrored repositories serve another tenant's refs.",
    .severity = "1",
    .priority = "2",
    .component = "gitaly",
    .repro = "git clone https://mirror.example/a/b",
};

const struct report_fields report_session_s2 = {
    .title = "Session fixation in login",
    .what = "Session id not rotated after login",
    .severity = "2",
    .priority = "2",
    .component = "gitaly",
    .repro = "POST /users/sign_in",
};

const char *const report_secret_words[4] = { "Cache", "poisoning", "mirror", "tenant" };

void view_text_value(cJSON *values, const char *block, const char *v)
{
    cJSON *e = cJSON_AddObjectToObject(cJSON_AddObjectToObject(values, block), "value");
    cJSON_AddStringToObject(e, "type", "plain_text_input");
    if (v)
        cJSON_AddStringToObject(e, "value", v);
    else
        cJSON_AddNullToObject(e, "value");
}

void view_select_value(cJSON *values, const char *block, const char *v)
{
    cJSON *e = cJSON_AddObjectToObject(cJSON_AddObjectToObject(values, block), "value");
    cJSON_AddStringToObject(e, "type", "static_select");
    if (!v) {
        cJSON_AddNullToObject(e, "selected_option");
        return;
    }
    cJSON *o = cJSON_AddObjectToObject(e, "selected_option");
    cJSON *t = cJSON_AddObjectToObject(o, "text");
    cJSON_AddStringToObject(t, "type", "plain_text");
    cJSON_AddStringToObject(t, "text", v);
    cJSON_AddStringToObject(o, "value", v);
}

cJSON *view_submission_payload(const struct view_submission *v, cJSON **values)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "view_submission");
    cJSON *u = cJSON_AddObjectToObject(p, "user");
    cJSON_AddStringToObject(u, "id", v->user);
    if (v->team)
        cJSON_AddStringToObject(u, "team_id", "T0FAKE001");
    if (v->app)
        cJSON_AddStringToObject(p, "api_app_id", "A0FAKE001");
    cJSON_AddStringToObject(p, "trigger_id", v->trigger_id);
    cJSON *view = cJSON_AddObjectToObject(p, "view");
    cJSON_AddStringToObject(view, "id", v->view_id);
    cJSON_AddStringToObject(view, "type", "modal");
    cJSON_AddStringToObject(view, "callback_id", v->callback_id);
    cJSON_AddStringToObject(view, "private_metadata", v->metadata);
    *values = cJSON_AddObjectToObject(cJSON_AddObjectToObject(view, "state"), "values");
    cJSON_AddArrayToObject(p, "response_urls");
    return p;
}

cJSON *decision_submission_payload(const struct view_submission *v, const struct decision_answers *a)
{
    struct view_submission d = *v;
    if (!d.callback_id)
        d.callback_id = "sirt_decision";
    cJSON *values;
    cJSON *p = view_submission_payload(&d, &values);
    const struct {
        const char *block, *value;
    } rows[] = {
        { "solution", a->solution }, { "options", a->options }, { "effectiveness", a->effectiveness },
        { "customers", a->customers }, { "how", a->how }, { "magnitude", a->magnitude },
        { "consequences", a->consequences },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        view_text_value(values, rows[i].block, rows[i].value);
    return p;
}

/* The report modal as Slack sends it: the fields of a real submission
 * (team, user names, token, hash, ...) on top of the common ones. */
cJSON *report_submission_payload(const char *view_id, const char *user, const struct report_fields *f)
{
    struct view_submission vs = { .user = user, .view_id = view_id, .callback_id = "sirt_report",
                                  .metadata = "{\"origin\":\"C0PUBLIC1\"}", .trigger_id = "1337.42.view",
                                  .app = true, .team = true };
    cJSON *values;
    cJSON *p = view_submission_payload(&vs, &values);
    cJSON *team = cJSON_AddObjectToObject(p, "team");
    cJSON_AddStringToObject(team, "id", "T0FAKE001");
    cJSON_AddStringToObject(team, "domain", "fake");
    cJSON *u = cJSON_GetObjectItemCaseSensitive(p, "user");
    cJSON_AddStringToObject(u, "username", "reporter");
    cJSON_AddStringToObject(u, "name", "reporter");
    cJSON_AddStringToObject(p, "token", "verif");
    cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "view");
    cJSON_AddStringToObject(v, "team_id", "T0FAKE001");
    cJSON_AddStringToObject(v, "hash", "1700000000.abcdef");
    cJSON_AddStringToObject(v, "app_id", "A0FAKE001");
    cJSON_AddStringToObject(v, "bot_id", "B0BOT0001");
    view_text_value(values, "title", f->title);
    view_text_value(values, "what", f->what);
    view_select_value(values, "severity", f->severity);
    view_select_value(values, "priority", f->priority);
    view_select_value(values, "component", f->component);
    view_text_value(values, "repro", f->repro);
    view_text_value(values, "link", f->link);
    return p;
}
