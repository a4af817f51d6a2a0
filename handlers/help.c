/* help: `/sirt help` and `@sirt help` — the commands of docs/commands.md, with the
 * slash form or the mention form depending on where it was asked.  Pure:
 * builds the reply text only.  Also the reply to an unknown verb. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/util.h"
#include "handlers.h"

/* Built per request from the verb table, with buf_puts rather than a
 * printf per line (a vsnprintf per verb was most of the reply's cost).  Not
 * cached: respond runs on the loop (slash, store_free) and on the store
 * thread (mentions), so a cache would be state shared by both threads. */
static void commands_text(const struct sirt_req *req, struct buf *b)
{
    bool slash = req->source == REQ_SLASH;
    const char *pfx = slash ? "/sirt" : "@sirt";
    buf_puts(b, "*sirtbot* runs the security incident workflow: report, page, decide, hand off, review.\n"
                "Use `");
    buf_puts(b, pfx);
    buf_puts(b, slash ? " <command>` (or mention @sirt / DM me):\n" : " <command>` (or the /sirt slash command):\n");
    for (size_t i = 0; i < handlers_n_verbs; i++) {
        const struct sirt_verb *v = &handlers_verbs[i];
        buf_puts(b, "• `");
        buf_puts(b, pfx);
        buf_puts(b, " ");
        buf_puts(b, v->usage);
        buf_puts(b, "` — ");
        buf_puts(b, v->summary);
        buf_puts(b, "\n");
    }
    buf_puts(b, "Inside an incident channel the incident is implied. Incident details stay in the "
                "private channel, the confidential issue and DMs to the people on it.");
}

void help_respond(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    (void)ctx;
    struct buf b;
    buf_init(&b, 0);
    commands_text(req, &b);
    free(out->text);
    out->text = buf_take(&b);
}

void handlers_unknown(const struct hctx *ctx, const struct sirt_req *req, struct sirt_reply *out)
{
    (void)ctx;
    struct buf b;
    buf_init(&b, 0);
    /* Echo at most a short, sanitised verb: it came from a user. */
    char shown[33];
    size_t k = 0;
    for (const char *p = req->verb; *p && k < sizeof(shown) - 1; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
            shown[k++] = *p;
    shown[k] = '\0';
    buf_printf(&b, "I don't know the command `%s`.\n", k ? shown : "?");
    commands_text(req, &b);
    free(out->text);
    out->text = buf_take(&b);
}
