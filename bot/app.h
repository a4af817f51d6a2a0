/* app: the handles the platform's modules share, owned by the composition
 * root (app/main.c).  Handlers never see it: they get the narrow struct
 * hctx (bot/dispatch.h), which holds nothing that reaches the network. */
#ifndef SIRT_APP_H
#define SIRT_APP_H

#include <stdbool.h>
#include <uv.h>

#include "sha256.h"

struct cfg;
struct http_client;
struct api_client;
struct metrics;
struct sm;
struct router;
struct store;
struct outbox;
struct scheduler;
struct storeq;
struct unames;

struct sirt_app {
    uv_loop_t *loop;
    struct cfg *cfg;
    struct http_client *http;
    struct api_client *api;
    struct metrics *metrics;
    struct sm *sm;
    struct router *router;
    struct store *store;
    struct outbox *outbox;
    struct scheduler *scheduler;
    /* The store thread (NULL in unit tests: everything then runs inline)
     * and that thread's own view of the app, which the router, the
     * scheduler and the outbox use there: a copy of this struct whose
     * network fields are NULL and whose identity fields (bot_user_id,
     * bot_id, team_url) are updated by message (main's ident_st).  Both
     * owned by main. */
    struct storeq *storeq;
    struct sirt_app *st_app;
    /* Slack display names the effects looked up (users.info), loop thread
     * only; NULL in the store thread's view and in unit tests (no cache).
     * Owned by main (effects_names.c). */
    struct unames *unames;
    char bot_user_id[32];   /* from auth.test; "" until known */
    char bot_id[32];
    char team_url[256];     /* from auth.test, e.g. "https://acme.slack.com/"; "" until known */
    /* The key of the outbox's metadata tokens (effects_once.c), derived
     * from cfg->slack_bot_token at the first post and kept for the process:
     * the bot token comes from the environment, which a SIGHUP reload does
     * not re-read.  Loop thread only (effects run there). */
    unsigned char outbox_key[SHA256_LEN];
    bool outbox_key_set;
};

#endif
