/* inc: the incident a request is about and who may see it — finding it by
 * id or channel, the access rule for its details, and its timeline entries.
 * Runs inside the caller's store transaction; the incident filled in by
 * inc_for belongs to the caller (incident_finish). */
#include "inc.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/config.h"
#include "../bot/mask.h"
#include "../bot/util.h"
#include "handlers.h"
#include "job.h"

int64_t inc_parse_id(const char *w)
{
    if (!w)
        return 0;
    while (*w == '#' || *w == '*' || *w == '`')
        w++;
    if ((w[0] == 'S' || w[0] == 's') && (w[1] == 'I' || w[1] == 'i') && (w[2] == 'R' || w[2] == 'r')
        && (w[3] == 'T' || w[3] == 't') && w[4] == '-')
        w += 5;
    if (!isdigit((unsigned char)*w))
        return 0;
    int64_t n = 0;
    for (int i = 0; isdigit((unsigned char)*w) && i < 15; i++, w++)
        n = n * 10 + (*w - '0');
    if (*w && !isspace((unsigned char)*w) && *w != '*' && *w != '`' && *w != ',' && *w != '.' && *w != '|')
        return 0;
    return n;
}

int inc_for(const struct hctx *ctx, const char *channel_id, const char *args, struct incident *inc,
            const char **rest, char *err, size_t errlen)
{
    memset(inc, 0, sizeof(*inc));
    const char *a = args ? args : "";
    while (isspace((unsigned char)*a))
        a++;
    int64_t id = inc_parse_id(a);
    if (rest)
        *rest = a;
    if (id > 0) {
        const char *p = a;
        while (*p && !isspace((unsigned char)*p))
            p++;
        while (isspace((unsigned char)*p))
            p++;
        if (rest)
            *rest = p;
        if (store_incident_get(ctx->store, id, inc) == 0)
            return 0;
        snprintf(err, errlen, "There is no incident SIRT-%" PRId64 ".", id);
        return -1;
    }
    if (channel_id && store_incident_by_channel(ctx->store, channel_id, inc) == 0)
        return 0;
    snprintf(err, errlen, "Which incident? Give its id (e.g. `SIRT-12`), or ask inside the incident's channel.");
    return -1;
}

int inc_for_reply(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc,
                  struct sirt_reply *out)
{
    char err[300];
    if (inc_for(ctx, req->channel_id, req->args, inc, NULL, err, sizeof(err)) == 0)
        return 0;
    reply_set_text(out, "%s", err);
    return -1;
}

int inc_for_req(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc)
{
    char err[300];
    return inc_for(ctx, req->channel_id, req->args, inc, NULL, err, sizeof(err));
}

int inc_of_button(const struct hctx *ctx, const cJSON *action, struct incident *inc)
{
    memset(inc, 0, sizeof(*inc));
    int64_t id = inc_parse_id(util_jstr(action, "value"));
    if (id <= 0 || !ctx->store)
        return -1;
    return store_incident_get(ctx->store, id, inc) == 0 ? 0 : -1;
}

int inc_for_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action, const char *what,
                   bool replace, struct incident *inc)
{
    if (inc_of_button(ctx, action, inc) == 0)
        return 0;
    char w[64];
    snprintf(w, sizeof(w), "%s-unknown", what);
    job_button_notice(ctx, payload, action, w, "I cannot find that incident any more.", replace);
    return -1;
}

bool inc_authorized(const struct hctx *ctx, const struct incident *inc, const char *user)
{
    if (!user || !inc)
        return false;
    if (ctx->cfg && cfg_strv_has(&ctx->cfg->sirt_team, user))
        return true;
    if ((inc->reporter && strcmp(inc->reporter, user) == 0) || (inc->owner && strcmp(inc->owner, user) == 0))
        return true;
    return ctx->store && store_member_is(ctx->store, inc->id, user) == 1;
}

bool inc_reply_private(const struct hctx *ctx, const struct sirt_req *req, const struct incident *inc)
{
    (void)ctx;
    if (req->source == REQ_SLASH || req->source == REQ_DM)
        return true;
    return inc && inc->channel_id && req->channel_id && strcmp(inc->channel_id, req->channel_id) == 0;
}

bool inc_in_channel(const struct incident *inc, const char *channel)
{
    return inc && inc->channel_id && channel && strcmp(inc->channel_id, channel) == 0;
}

int inc_timeline_add(const struct hctx *ctx, int64_t incident_id, const char *actor, const char *kind,
                     const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char *m = mask_secrets(buf);    /* entries may quote what a user typed */
    int rc = store_timeline_add(ctx->store, incident_id, ctx->now_ms(), actor, kind, m);
    free(m);
    return rc;
}
