/* response: the input format of the three response fuzz targets.  The
 * first line is "<HTTP status> [<Retry-After seconds>]", the rest is the
 * body, e.g. "200\n{\"ok\":true}".  resp_split() fills a struct
 * http_response whose body points into the input (borrowed, NUL-terminated
 * copy in *owned, which the caller frees). */
#ifndef SIRT_FUZZ_RESPONSE_H
#define SIRT_FUZZ_RESPONSE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/http.h"
#include "../bot/util.h"

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

#endif
