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
#include "../bot/log.h"
#include "response.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    struct http_response resp;
    char *body;
    resp_split(data, size, &resp, &body);
    struct effect_result out;
    char err[96];           /* smaller than any caller's: the cut is exercised */
    bool body_utf8 = utf8_valid((const unsigned char *)resp.body, resp.body_len);
    for (int mutating = 0; mutating <= 1; mutating++) {
        memset(&out, 0, sizeof(out));
        eff_outcome_http(&resp, mutating, "pagerduty", &out, err, sizeof(err));
        if (!memchr(err, '\0', sizeof(err)))
            __builtin_trap();
        /* The error is shown in Slack: a valid body gives valid text. */
        if (body_utf8 && !utf8_valid((const unsigned char *)err, strlen(err)))
            __builtin_trap();
        if (out.outcome != EFFECT_DONE && !err[0])
            __builtin_trap();   /* a failure always says why */
    }
    cJSON *j = eff_parse(&resp);
    (void)eff_str(j, "dedup_key");
    (void)eff_str(j, "status");
    const char *email = eff_pd_first_email(j);
    if (email && !email[0])
        __builtin_trap();
    cJSON_Delete(j);
    free(body);
    return 0;
}
