/* response: the input format of the three response fuzz targets.  The
 * first line is "<HTTP status> [<Retry-After seconds>]", the rest is the
 * body, e.g. "200\n{\"ok\":true}".  resp_split() fills a struct
 * http_response whose body points into the input (borrowed, NUL-terminated
 * copy in *owned, which the caller frees).  resp_check_outcome() runs the
 * HTTP outcome rules on it with the checks every REST target shares;
 * resp_rest_begin() is how the REST targets (GitLab, PagerDuty) start. */
#ifndef SIRT_FUZZ_RESPONSE_H
#define SIRT_FUZZ_RESPONSE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/effects_internal.h"
#include "../bot/http.h"
#include "../bot/log.h"
#include "../bot/util.h"
#include "utf8.h"

static inline void resp_split(const uint8_t *data, size_t size, struct http_response *r, char **owned)
{
    memset(r, 0, sizeof(*r));
    r->err = HTTP_OK;
    r->errmsg = "";
    r->retry_after_s = -1;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head = nl ? (size_t)(nl - data) : size;
    char line[32];
    size_t n = head < sizeof(line) - 1 ? head : sizeof(line) - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    char *end = NULL;
    r->status = strtol(line, &end, 10);
    if (end && *end == ' ')
        r->retry_after_s = strtol(end + 1, NULL, 10);
    /* The body keeps its embedded NULs, as curl hands them over. */
    size_t off = nl ? head + 1 : size;
    *owned = xmalloc(size - off + 1);
    memcpy(*owned, data + off, size - off);
    (*owned)[size - off] = '\0';
    r->body = *owned;
    r->body_len = size - off;
}

/* eff_outcome_http as the effects call it, mutating or not, into a buffer
 * smaller than any caller's (so the cut is exercised).  Traps unless the
 * error is NUL-terminated, valid UTF-8 when the body was (it is shown in
 * Slack), and non-empty for every outcome but DONE (a failure says why). */
static inline void resp_check_outcome(const struct http_response *resp, const char *service)
{
    struct effect_result out;
    char err[96];
    bool body_utf8 = utf8_valid((const unsigned char *)resp->body, resp->body_len);
    for (int mutating = 0; mutating <= 1; mutating++) {
        memset(&out, 0, sizeof(out));
        eff_outcome_http(resp, mutating, service, &out, err, sizeof(err));
        if (!memchr(err, '\0', sizeof(err)))
            __builtin_trap();
        if (body_utf8 && !utf8_valid((const unsigned char *)err, strlen(err)))
            __builtin_trap();
        if (out.outcome != EFFECT_DONE && !err[0])
            __builtin_trap();
    }
}

/* Quiet logs, the input split into *resp (body copy in *owned, the caller
 * frees it), the outcome rules checked for service, and the body parsed as
 * the effects parse it (the caller deletes it; NULL when it is not JSON). */
static inline cJSON *resp_rest_begin(const uint8_t *data, size_t size, const char *service,
                                     struct http_response *resp, char **owned)
{
    log_set_level(LOG_LVL_ERROR);
    resp_split(data, size, resp, owned);
    resp_check_outcome(resp, service);
    return eff_parse(resp);
}

#endif
