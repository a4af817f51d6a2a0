/* fuzz_gitlab_response: a GitLab REST answer ("<status> [<retry-after>]\n<body>",
 * see response.h) as the gitlab.* effects read it: the outcome rules
 * (eff_outcome_http, with the masked "message"/"error" summary), a created
 * project or issue (id, iid, path, web_url), the issue/note found by the
 * job's marker when reconciling, and a user id from GET /users.  Owns
 * nothing across inputs. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/effects_internal.h"
#include "response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_response resp;
    char *body;
    cJSON *j = resp_rest_begin(data, size, "gitlab", &resp, &body);
    (void)eff_int(j, "id");
    (void)eff_int(j, "iid");
    (void)eff_str(j, "path_with_namespace");
    (void)eff_str(j, "web_url");
    (void)eff_find_marker(j, "description", "sirt-job-17");
    (void)eff_find_marker(j, "body", "sirt-job-17");
    (void)eff_gitlab_user_id(j, "alice");
    char *with = eff_with_marker(eff_str(j, "description"), "sirt-job-17");
    if (!strstr(with, "sirt-job-17"))
        __builtin_trap();
    free(with);
    cJSON_Delete(j);
    free(body);
    return 0;
}
