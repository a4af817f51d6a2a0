/* inc: the incident a request is about and who may see its details, and
 * its timeline entries.  Everything here runs inside the caller's store
 * transaction and never touches the network. */
#ifndef SIRT_HANDLERS_INC_H
#define SIRT_HANDLERS_INC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../bot/dispatch.h"
#include "../bot/store.h"

/* The incident a request names: "SIRT-12", "sirt-12" or "12" as the first
 * word of args (then *rest points after it), else the incident whose
 * private channel channel_id is.  0 and inc filled (caller finishes it), or
 * -1 with a one-line message for the user in err. */
int inc_for(const struct hctx *ctx, const char *channel_id, const char *args, struct incident *inc,
            const char **rest, char *err, size_t errlen);
/* inc_for on req's channel and args, for a verb's two phases: for
 * respond(), inc_for_reply makes the reason out's text when there is no
 * such incident; for work(), inc_for_req drops it (respond() told the
 * user).  0 and inc filled (caller finishes it), or -1. */
int inc_for_reply(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc,
                  struct sirt_reply *out);
int inc_for_req(const struct hctx *ctx, const struct sirt_req *req, struct incident *inc);
/* The incident a pressed button's value names ("SIRT-n"): 0 and inc
 * filled (caller finishes it), or -1 (inc zeroed).  inc_for_button then
 * tells whoever pressed it "I cannot find that incident any more."
 * (job_button_notice with what "<what>-unknown" and replace);
 * inc_of_button says nothing. */
int inc_of_button(const struct hctx *ctx, const cJSON *action, struct incident *inc);
int inc_for_button(const struct hctx *ctx, const cJSON *payload, const cJSON *action, const char *what,
                   bool replace, struct incident *inc);
/* Parses "SIRT-12" / "sirt-12" / "12"; 0 if not an incident id. */
int64_t inc_parse_id(const char *word);

/* May user see the incident's details?  Members of sirt_team, the
 * reporter, the owner, and everyone recorded on the incident. */
bool inc_authorized(const struct hctx *ctx, const struct incident *inc, const char *user);
/* Is a reply to req seen only by people who may see inc's details?  A slash
 * command reply is ephemeral (the asker only); a DM is the asker only; a
 * mention is public unless it was made in the incident's own channel. */
bool inc_reply_private(const struct hctx *ctx, const struct sirt_req *req, const struct incident *inc);
/* Is channel the incident's own private channel? */
bool inc_in_channel(const struct incident *inc, const char *channel);

/* Timeline entry now, printf-style text (masked); 0 or a negative STORE_E*. */
int inc_timeline_add(const struct hctx *ctx, int64_t incident_id, const char *actor, const char *kind,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
