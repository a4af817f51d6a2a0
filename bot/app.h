/* app: the handles a handler or platform module may use, owned by the
 * composition root (app/main.c).  Handlers get a borrowed pointer to the
 * store thread's view (st_app, below); they never call the network: every
 * side effect is an outbox job written in their transaction. */
#ifndef SIRT_APP_H
#define SIRT_APP_H

#include <uv.h>

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
     * and that thread's own view of the app: a copy of this struct whose
     * network fields are NULL, whose identity fields (bot_user_id, team_url,
     * appsec_tz) are updated by message (main's app_st_*), and which alone
     * the handlers see.  Both owned by main. */
    struct storeq *storeq;
    struct sirt_app *st_app;
    /* Resolved zone of cfg->appsec[i] (config tz, else Slack users.info,
     * else NULL until known); owned by main. */
    char **appsec_tz;
    /* Slack display names the effects looked up (users.info), loop thread
     * only; NULL in the store thread's view and in unit tests (no cache).
     * Owned by main (effects_names.c). */
    struct unames *unames;
    char bot_user_id[32];   /* from auth.test; "" until known */
    char bot_id[32];
    char team_url[256];     /* from auth.test, e.g. "https://acme.slack.com/"; "" until known */
};

#endif
