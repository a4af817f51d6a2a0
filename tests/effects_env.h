/* effects_env: the fixture of the effect tests (test_effects*.c).  One loop
 * with the fake Slack (EFX_SLACK_FAKE) or the scripted http_peer
 * (EFX_SLACK_PEER) as Slack, the peer also standing for GitLab and
 * PagerDuty, and a struct sirt_app wired to them; efx_run starts one outbox
 * job and checks done is called once, never from inside effect_start.
 * Everything an efx_* call returns is borrowed from the env or the got. */
#ifndef SIRT_EFFECTS_ENV_H
#define SIRT_EFFECTS_ENV_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../bot/app.h"
#include "../bot/config.h"
#include "../bot/effects.h"
#include "../bot/store.h"
#include "fakes/fake_slack.h"
#include "fakes/http_peer.h"

#define EFX_GL_TOKEN "glpat-effectstest0000001"
#define EFX_PD_KEY "e93facc04764012d7bfb002500d5d1a6"
#define EFX_JSON_HDR "Content-Type: application/json\r\n"

enum efx_slack { EFX_SLACK_FAKE, EFX_SLACK_PEER };

struct efx {
    uv_loop_t loop;
    struct fake_slack *fs;       /* EFX_SLACK_FAKE only */
    struct http_peer *peer;      /* GitLab, PagerDuty, and Slack in EFX_SLACK_PEER mode */
    struct http_client *http;
    struct api_client *api;
    struct cfg cfg;
    struct sirt_app app;
    char *api_url;
    bool http_closed, api_closed;   /* set by a test that closed them itself */
};
void efx_init(struct efx *e, enum efx_slack mode);
/* Closes what is still open, runs the loop dry and closes it. */
void efx_finish(struct efx *e);

/* What the effect's done callback reported. */
struct efx_got {
    int calls;
    bool sync;                   /* done ran inside effect_start */
    enum effect_outcome outcome;
    char error[256];
    long retry_after_ms;
    bool maybe_sent;
    cJSON *result;               /* copy; efx_got_free frees it */
};
bool efx_got_done(void *ud);     /* an http_peer_run_until condition on a got */
void efx_got_free(struct efx_got *g);

struct efx_job {
    const char *op;
    const char *payload;         /* JSON text */
    int64_t incident_id;
    bool maybe_sent;
    int64_t created_ms;
    const char *idem_key;        /* NULL: none (posts carry no metadata) */
};
/* Starts the job (done must not have run yet when effect_start returns). */
void efx_start(struct efx *e, const struct efx_job *js, const struct incident *inc, struct efx_got *g);
/* efx_start, then runs the loop until done, and checks it ran once. */
void efx_run(struct efx *e, const struct efx_job *js, const struct incident *inc, struct efx_got *g);

/* What efx_expect checks: the outcome always; retry_after_ms when not 0;
 * maybe_sent unless EFX_SENT_ANY; error when not NULL. */
enum efx_sent { EFX_SENT_ANY, EFX_SENT, EFX_NOT_SENT };
struct efx_want {
    enum effect_outcome outcome;
    long retry_after_ms;
    enum efx_sent sent;
    const char *error;
};
/* efx_run, the checks of want (a failure names the op and the field), and
 * efx_got_free. */
void efx_expect(struct efx *e, const struct efx_job *js, const struct incident *inc, struct efx_want want);

/* g->result[path1][path2] (path2 may be NULL): the string, or NULL; the
 * number, or -1. */
const char *efx_res_str(const struct efx_got *g, const char *path1, const char *path2);
double efx_res_num(const struct efx_got *g, const char *path1, const char *path2);
/* The arguments of the fake Slack's idx-th call of method. */
cJSON *efx_call_json(const struct efx *e, const char *method, size_t idx);
/* The peer's i-th request; its body parsed (the caller deletes it). */
const struct http_peer_request *efx_req(const struct efx *e, size_t i);
cJSON *efx_req_body(const struct efx *e, size_t i);
/* Queues a JSON answer on the peer. */
void efx_push_json(struct efx *e, int status, const char *body);
/* An S1 incident with id and a title, nothing else. */
void efx_incident_init(struct incident *inc, int64_t id);

#endif
