/* harness: drive the real bot binary from a test on one libuv loop.
 * fx_init() creates the loop and a fake Slack; fx_spawn() starts bot/sirtbot
 * (path from $SIRTBOT_BIN, default bot/sirtbot) with a clean environment
 * (SLACK_* pointing at the fake, SIRT_CONFIG/SIRT_DB in a fresh temp dir,
 * plus extra "NAME=value" entries, where "NAME=" with nothing removes a
 * default) and captures its stderr.  fx_wait() runs the loop until a
 * predicate holds or the timeout passes.  fx_finish() kills what is left,
 * closes everything and removes the temp dir. */
#ifndef SIRT_HARNESS_H
#define SIRT_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "../bot/util.h"
#include "fakes/fake_slack.h"

struct fx {
    uv_loop_t loop;
    struct fake_slack *slack;
    char dir[256];               /* temp dir for config and db */
    char config_path[300];
    uv_process_t proc;
    uv_pipe_t err_pipe;
    bool running;
    bool exited;
    int64_t exit_status;
    int term_signal;
    struct buf stderr_buf;       /* everything the bot wrote on stderr */
};

typedef bool (*fx_pred)(struct fx *fx, void *ud);

void fx_init(struct fx *fx);
/* Writes the team config file used by the next fx_spawn (default: a small
 * valid config with one component "gitaly"). */
void fx_write_config(struct fx *fx, const char *json);
/* env: NULL-terminated extra "NAME=value" strings, may be NULL. Returns 0. */
int fx_spawn(struct fx *fx, const char *const *env);
/* Spawns and waits until the fake has an open socket that got hello. */
void fx_start(struct fx *fx, const char *const *env);
bool fx_wait(struct fx *fx, fx_pred pred, void *ud, int timeout_ms);
/* Runs the loop for ms regardless. */
void fx_run_for(struct fx *fx, int ms);
/* Sends SIGTERM and waits (up to timeout) for exit; returns exit status or -1. */
int fx_stop(struct fx *fx, int timeout_ms);
/* Waits for the bot to exit on its own; returns exit status or -1 on timeout. */
int fx_wait_exit(struct fx *fx, int timeout_ms);
void fx_finish(struct fx *fx);

/* Common predicates */
bool fx_pred_online(struct fx *fx, void *ud);              /* ws_count >= 1 */
bool fx_pred_acked(struct fx *fx, void *envelope_id);
bool fx_pred_exited(struct fx *fx, void *ud);
/* ud: const char *method; true once fake_slack_call_count(method) >= 1 */
bool fx_pred_called(struct fx *fx, void *method);
bool fx_wait_calls(struct fx *fx, const char *method, size_t n, int timeout_ms);
/* True if the bot's stderr so far contains s. */
bool fx_stderr_has(struct fx *fx, const char *s);

#endif
