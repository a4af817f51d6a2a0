/* fuzz_pagerduty_response: a PagerDuty answer ("<status> [<retry-after>]\n<body>",
 * see response.h) as the pd.* effects read it: the outcome rules
 * (eff_outcome_http, with the masked error summary of the body), the
 * Events API's dedup_key, and the first on-call's email from GET /oncalls.
 * Owns nothing across inputs. */
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
    cJSON *j = resp_rest_begin(data, size, "pagerduty", &resp, &body);
    (void)eff_str(j, "dedup_key");
    (void)eff_str(j, "status");
    const char *email = eff_pd_first_email(j);
    if (email && !email[0])
        __builtin_trap();
    cJSON_Delete(j);
    free(body);
    return 0;
}
