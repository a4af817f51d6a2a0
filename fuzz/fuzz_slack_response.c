/* fuzz_slack_response: a Slack Web API answer ("<status> [<retry-after>]\n<body>",
 * see response.h) through api_parse_response (what the client makes of it),
 * the outbox's outcome rules for it (eff_outcome_api), and the pieces the
 * Slack effects read from a 2xx body: the bot's own channel in a
 * conversations.list page, ids, ts, the user's zone.  Owns nothing across
 * inputs. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/effects_internal.h"
#include "../bot/log.h"
#include "../bot/slack_api.h"
#include "response.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    log_set_level(LOG_LVL_ERROR);
    struct http_response resp;
    char *body;
    resp_split(data, size, &resp, &body);
    for (int response_url = 0; response_url <= 1; response_url++) {
        struct api_result r;
        memset(&r, 0, sizeof(r));
        r.http_status = resp.status;
        r.retry_after_s = resp.retry_after_s;
        char code[32];
        cJSON *json = api_parse_response(resp.status, resp.body, resp.body_len, response_url, &r, code);
        if (!r.error || (r.err != API_OK && !r.error[0]))
            __builtin_trap();   /* every failure names itself */
        struct effect_result out;
        char err[128];          /* the smallest buffer a caller passes */
        for (int mutating = 0; mutating <= 1; mutating++) {
            memset(&out, 0, sizeof(out));
            eff_outcome_api(&r, mutating, &out, err, sizeof(err));
            if (!memchr(err, '\0', sizeof(err)))
                __builtin_trap();
            /* The error is shown in Slack: whole characters only. */
            if (utf8_valid((const unsigned char *)r.error, strlen(r.error)) &&
                !utf8_valid((const unsigned char *)err, strlen(err)))
                __builtin_trap();
        }
        (void)eff_slack_error_retryable(r.error);
        if (r.err == API_OK && json) {
            const cJSON *chans = cJSON_GetObjectItemCaseSensitive(json, "channels");
            (void)eff_find_own_channel(chans, "sirt-1-token-leak", "U0BOT0001");
            (void)eff_str(cJSON_GetObjectItemCaseSensitive(json, "channel"), "id");
            (void)eff_str(cJSON_GetObjectItemCaseSensitive(json, "user"), "tz");
            (void)eff_str(cJSON_GetObjectItemCaseSensitive(json, "view"), "id");
            (void)eff_str(json, "ts");
            (void)eff_str(cJSON_GetObjectItemCaseSensitive(json, "response_metadata"), "next_cursor");
        }
        cJSON_Delete(json);
    }
    char name[81];
    eff_channel_name(resp.body, 2, name);
    if (strlen(name) > 80)
        __builtin_trap();
    free(body);
    return 0;
}
