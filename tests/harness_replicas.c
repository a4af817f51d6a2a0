/* harness_replicas: several real bot processes on fx's loop (see the
 * replicas section of harness.h), and the "exactly once" checks over the
 * fakes' records.  Owns each replica's process handle and log file
 * descriptor only for the duration of a spawn (the child keeps the file);
 * fx_finish() calls fx_replicas_finish(), which SIGKILLs what still runs
 * and closes the handles before the loop is closed. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define FX_REP_MAX_ARGS 64

static struct fx_replica *rep_at(struct fx *fx, int i)
{
    if (i < 1 || i > fx->n_reps)
        TEST_FAIL("fx: no replica %d (have %d)", i, fx->n_reps);
    return &fx->reps[i - 1];
}

void fx_replicas_init(struct fx *fx, int n, const char *db)
{
    if (n < 1 || n > FX_MAX_REPLICAS)
        TEST_FAIL("fx_replicas_init: %d replicas (1..%d)", n, FX_MAX_REPLICAS);
    if (fx->n_reps)
        TEST_FAIL("fx_replicas_init: called twice");
    fx->n_reps = n;
    fx->rep_sqlite = db == NULL;
    if (db)
        str_lcpy(fx->rep_db, db, sizeof(fx->rep_db));
    else
        snprintf(fx->rep_db, sizeof(fx->rep_db), "%s/sirt.db", fx->dir);
    for (int i = 0; i < n; i++) {
        struct fx_replica *r = &fx->reps[i];
        memset(r, 0, sizeof(*r));
        r->fx = fx;
        r->index = i + 1;
        snprintf(r->tag, sizeof(r->tag), "r%d", i + 1);
        snprintf(r->log_path, sizeof(r->log_path), "%s/replica-%d.log", fx->dir, i + 1);
    }
    fake_slack_set_spread(fx->slack, FAKE_SLACK_SPREAD_ROUND_ROBIN, 0);
}

static void rep_closed(uv_handle_t *h)
{
    struct fx_replica *r = container_of((uv_process_t *)h, struct fx_replica, proc);
    r->proc_open = false;
}

static void rep_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct fx_replica *r = container_of(p, struct fx_replica, proc);
    r->running = false;
    r->exited = true;
    r->exit_status = status;
    r->term_signal = term_signal;
    uv_close((uv_handle_t *)p, rep_closed);
}

static bool pred_rep_closed(struct fx *fx, void *ud)
{
    (void)fx;
    return !((struct fx_replica *)ud)->proc_open;
}

int fx_replica_spawn(struct fx *fx, int i, const char *const *extra)
{
    struct fx_replica *r = rep_at(fx, i);
    if (r->running) {
        fprintf(stderr, "fx_replica_spawn: replica %d is still running\n", i);
        return UV_EBUSY;
    }
    if (r->proc_open && !fx_wait(fx, pred_rep_closed, r, 1000))
        TEST_FAIL("fx_replica_spawn: replica %d's previous handle did not close", i);
    char api[128];
    if (fake_slack_client_api_url(fx->slack, r->tag, api, sizeof(api)) != 0)
        TEST_FAIL("fx_replica_spawn: no client URL for %s", r->tag);
    if (!r->http_port)
        r->http_port = fx_free_port();
    if (r->http_port <= 0)
        TEST_FAIL("fx_replica_spawn: no free port for SIRT_HTTP");

    /* ours first, the test's extras after (they win) */
    const char *mine[FX_MAX_ENV + 3];
    char *db = xasprintf("SIRT_DB=%s", fx->rep_db);
    char *http = xasprintf("SIRT_HTTP=127.0.0.1:%d", r->http_port);
    int nm = 0;
    mine[nm++] = db;
    mine[nm++] = http;
    for (int k = 0; extra && extra[k] && nm < FX_MAX_ENV + 2; k++)
        mine[nm++] = extra[k];
    mine[nm] = NULL;
    char *env[FX_MAX_ENV + 1];
    int ne = fx_build_env(fx, env, api, mine);
    free(db);
    free(http);

    int logfd = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        TEST_FAIL("fx_replica_spawn: cannot open %s: %s", r->log_path, strerror(errno));
    dprintf(logfd, "==== fx: replica %d, start %d (%s)\n", i, r->spawns + 1, fx->rep_db);

    char *wrapper = xstrdup(getenv("SIRTBOT_WRAPPER"));
    const char *bin = getenv("SIRTBOT_BIN");
    if (!bin || !bin[0])
        bin = "bot/sirtbot";
    char *argv[FX_REP_MAX_ARGS + 2];
    int na = 0;
    if (wrapper) {
        char *save = NULL;
        for (char *w = strtok_r(wrapper, " \t", &save); w && na < FX_REP_MAX_ARGS; w = strtok_r(NULL, " \t", &save))
            argv[na++] = w;
    }
    argv[na++] = (char *)bin;
    argv[na] = NULL;

    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = logfd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = logfd;
    uv_process_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.file = argv[0];
    opt.args = argv;
    opt.env = env;
    opt.exit_cb = rep_exit_cb;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    r->exited = false;
    r->exit_status = 0;
    r->term_signal = 0;
    int rc = uv_spawn(&fx->loop, &r->proc, &opt);
    r->proc_open = true;
    if (rc == 0) {
        r->running = true;
        r->spawns++;
        r->pid = r->proc.pid;
    } else {
        fprintf(stderr, "fx_replica_spawn: cannot start %s: %s\n", argv[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&r->proc, rep_closed);
    }
    close(logfd);
    for (int k = 0; k < ne; k++)
        free(env[k]);
    free(wrapper);
    return rc;
}

bool fx_replica_running(const struct fx *fx, int i)
{
    return i >= 1 && i <= fx->n_reps && fx->reps[i - 1].running;
}

bool fx_replicas_connected(struct fx *fx)
{
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].running && fake_slack_ws_count_tag(fx->slack, fx->reps[i].tag) < 1)
            return false;
    return true;
}

static bool pred_connected_or_exit(struct fx *fx, void *ud)
{
    (void)ud;
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].spawns && !fx->reps[i].running)
            return true;   /* one died: stop waiting */
    return fx_replicas_connected(fx);
}

bool fx_replicas_wait_connected(struct fx *fx, int timeout_ms)
{
    return fx_wait(fx, pred_connected_or_exit, NULL, timeout_ms) && fx_replicas_connected(fx);
}

static void print_log_tail(const struct fx *fx, int i)
{
    char *log = fx_replica_log(fx, i);
    size_t n = strlen(log);
    fprintf(stderr, "---- replica %d log (last 2 KiB of %s):\n%s\n----\n", i, fx->reps[i - 1].log_path,
            log + (n > 2048 ? n - 2048 : 0));
    free(log);
}

static bool pred_all_running(struct fx *fx)
{
    for (int i = 0; i < fx->n_reps; i++)
        if (!fx->reps[i].running)
            return false;
    return true;
}

static int start_timeout(void)
{
    return getenv("SIRTBOT_WRAPPER") ? 60000 : 15000;
}

static void fail_unconnected(struct fx *fx, const char *what)
{
    /* one that exited first (its log says why), else one still unconnected */
    for (int pass = 0; pass < 2; pass++)
    for (int i = 1; i <= fx->n_reps; i++) {
        const struct fx_replica *r = &fx->reps[i - 1];
        if (!r->spawns || (r->running && fake_slack_ws_count_tag(fx->slack, r->tag) >= 1) || (pass == 0 && r->running))
            continue;
        print_log_tail(fx, i);
        TEST_FAIL("%s: replica %d not connected (running=%d exit=%lld signal=%d; timeout %d ms)", what, i,
                  r->running, (long long)r->exit_status, r->term_signal, start_timeout());
    }
    TEST_FAIL("%s: replicas not connected", what);
}

void fx_replicas_start(struct fx *fx, const char *const *env)
{
    if (!fx->n_reps)
        TEST_FAIL("fx_replicas_start: fx_replicas_init first");
    for (int i = 1; i <= fx->n_reps; i++) {
        if (fx->reps[i - 1].running)
            continue;
        int rc = fx_replica_spawn(fx, i, env);
        if (rc)
            TEST_FAIL("fx_replicas_start: replica %d: %s", i, uv_strerror(rc));
    }
    if (!fx_replicas_wait_connected(fx, start_timeout()) || !pred_all_running(fx))
        fail_unconnected(fx, "fx_replicas_start");
}

void fx_replica_restart(struct fx *fx, int i, const char *const *env)
{
    int rc = fx_replica_spawn(fx, i, env);
    if (rc)
        TEST_FAIL("fx_replica_restart: replica %d: %s", i, uv_strerror(rc));
    if (!fx_replicas_wait_connected(fx, start_timeout()) || !fx_replica_running(fx, i))
        fail_unconnected(fx, "fx_replica_restart");
}

static bool pred_rep_exited(struct fx *fx, void *ud)
{
    (void)fx;
    return ((struct fx_replica *)ud)->exited;
}

static int rep_code(const struct fx_replica *r)
{
    return r->term_signal ? 128 + r->term_signal : (int)r->exit_status;
}

int fx_replica_wait_exit(struct fx *fx, int i, int timeout_ms)
{
    struct fx_replica *r = rep_at(fx, i);
    if (!r->spawns)
        return -1;
    if (!fx_wait(fx, pred_rep_exited, r, timeout_ms))
        return -1;
    return rep_code(r);
}

int fx_replica_kill(struct fx *fx, int i)
{
    struct fx_replica *r = rep_at(fx, i);
    if (!r->running)
        return r->exited ? rep_code(r) : -1;
    uv_process_kill(&r->proc, SIGKILL);
    r->killed = true;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r->killed_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    return fx_replica_wait_exit(fx, i, 5000);
}

int fx_replica_stop(struct fx *fx, int i, int timeout_ms)
{
    struct fx_replica *r = rep_at(fx, i);
    if (r->running)
        uv_process_kill(&r->proc, SIGTERM);
    return fx_replica_wait_exit(fx, i, timeout_ms);
}

static bool pred_all_exited(struct fx *fx, void *ud)
{
    (void)ud;
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].running)
            return false;
    return true;
}

int fx_replicas_stop(struct fx *fx, int timeout_ms)
{
    bool stopped[FX_MAX_REPLICAS] = { false };
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].running) {
            uv_process_kill(&fx->reps[i].proc, SIGTERM);
            stopped[i] = true;
        }
    if (!fx_wait(fx, pred_all_exited, NULL, timeout_ms))
        return -1;
    for (int i = 0; i < fx->n_reps; i++)
        if (stopped[i] && rep_code(&fx->reps[i]) != 0)
            return rep_code(&fx->reps[i]);
    return 0;
}

void fx_replicas_finish(struct fx *fx)
{
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].running)
            uv_process_kill(&fx->reps[i].proc, SIGKILL);
    fx_wait(fx, pred_all_exited, NULL, 5000);
    for (int i = 0; i < fx->n_reps; i++) {
        struct fx_replica *r = &fx->reps[i];
        if (r->proc_open && !uv_is_closing((uv_handle_t *)&r->proc)) {
            r->running = false;   /* would not die: give up on it, close our handle */
            uv_close((uv_handle_t *)&r->proc, rep_closed);
        }
    }
}

void fx_replicas_set_clock(struct fx *fx, int64_t epoch_ms)
{
    fx_set_clock(fx, epoch_ms);
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].running)
            uv_process_kill(&fx->reps[i].proc, SIGUSR1);
}

char *fx_replica_log(const struct fx *fx, int i)
{
    if (i < 1 || i > fx->n_reps)
        return xstrdup("");
    char *s = test_read_file(fx->reps[i - 1].log_path, NULL);
    return s ? s : xstrdup("");
}

bool fx_replica_log_has(const struct fx *fx, int i, const char *s)
{
    char *log = fx_replica_log(fx, i);
    bool has = strstr(log, s) != NULL;
    free(log);
    return has;
}

/* ------------------------------------------------------------------ */
/* exactly once */

static const char *arg(const struct fake_call *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->json, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool call_ok(const struct fake_call *c)
{
    return c->status == 200 && !c->error;
}

/* Appends one violation to why (bounded) and counts it. */
static void note(size_t *bad, char *why, size_t n, const char *fmt, const char *a, const char *b)
{
    (*bad)++;
    if (!why || n == 0)
        return;
    size_t used = strnlen(why, n);
    if (*bad == 1)
        used = 0, why[0] = '\0';
    if (*bad > 5 || used + 8 >= n)
        return;
    snprintf(why + used, n - used, "%s" , *bad > 1 ? "; " : "");
    used = strnlen(why, n);
    snprintf(why + used, n - used, fmt, a ? a : "", b ? b : "");
}

size_t fx_slack_calls_where(struct fx *fx, const char *method, const char *key, const char *value)
{
    size_t hits = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, method); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, method, i);
        const char *v = arg(c, key);
        if (call_ok(c) && v && value && strcmp(v, value) == 0)
            hits++;
    }
    return hits;
}

size_t fx_slack_errors(struct fx *fx, const char *method, const char *err)
{
    size_t hits = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, method); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, method, i);
        if (c->error && err && strcmp(c->error, err) == 0)
            hits++;
    }
    return hits;
}

size_t fx_once_by(struct fx *fx, const char *method, const char *key, char *why, size_t n)
{
    size_t bad = 0, count = fake_slack_call_count(fx->slack, method);
    if (why && n)
        why[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, method, i);
        const char *v = arg(c, key);
        if (!call_ok(c) || !v)
            continue;
        bool first = true;
        for (size_t k = 0; k < i && first; k++) {
            const struct fake_call *p = fake_slack_call(fx->slack, method, k);
            const char *pv = arg(p, key);
            first = !(call_ok(p) && pv && strcmp(pv, v) == 0);
        }
        if (!first)
            note(&bad, why, n, "%s twice (by %s)", v, c->client);
    }
    return bad;
}

/* True when client is the tag of a replica that was SIGKILLed. */
static bool client_killed(const struct fx *fx, const char *client)
{
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].killed && client && strcmp(fx->reps[i].tag, client) == 0)
            return true;
    return false;
}

/* A create answered name_taken is a second attempt at a channel, allowed
 * only as the takeover of a killed replica's create: that replica sent it
 * and died before recording the answer, so another replica, which cannot
 * know whether it reached Slack (Slack has no idempotency key for it),
 * tries again, is told name_taken and adopts the channel (the counts and
 * fx_once_by above still require one channel per name). */
size_t fx_channels_once(struct fx *fx, char *why, size_t n)
{
    size_t bad = fx_once_by(fx, "conversations.create", "name", why, n);
    size_t count = fake_slack_call_count(fx->slack, "conversations.create");
    for (size_t i = 0; i < count; i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "conversations.create", i);
        if (!c->error || strcmp(c->error, "name_taken") != 0)
            continue;
        const char *first_by = NULL;
        for (size_t k = 0; k < i && !first_by; k++) {
            const struct fake_call *p = fake_slack_call(fx->slack, "conversations.create", k);
            if (call_ok(p) && arg(p, "name") && arg(c, "name") && strcmp(arg(p, "name"), arg(c, "name")) == 0)
                first_by = p->client;
        }
        bool takeover = first_by && client_killed(fx, first_by) && strcmp(first_by, c->client) != 0;
        if (!takeover)
            note(&bad, why, n, "%s created again (name_taken, by %s)", arg(c, "name"), c->client);
    }
    return bad;
}

static bool is_dm(const char *ch)
{
    return ch && (ch[0] == 'D' || ch[0] == 'U' || ch[0] == 'W');
}

/* The text a post is compared by: "text", else the whole body. */
static const char *post_text(const struct fake_call *c)
{
    const char *t = arg(c, "text");
    return t ? t : c->body;
}

static size_t posts_once(struct fx *fx, bool dms_only, char *why, size_t n)
{
    size_t bad = 0, count = fake_slack_call_count(fx->slack, "chat.postMessage");
    if (why && n)
        why[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        const char *ch = arg(c, "channel");
        if (!call_ok(c) || !ch || (dms_only && !is_dm(ch)))
            continue;
        for (size_t k = 0; k < i; k++) {
            const struct fake_call *p = fake_slack_call(fx->slack, "chat.postMessage", k);
            const char *pch = arg(p, "channel");
            if (call_ok(p) && pch && strcmp(pch, ch) == 0 && strcmp(post_text(p), post_text(c)) == 0) {
                note(&bad, why, n, "to %s twice: \"%.80s\"", ch, post_text(c));
                break;
            }
        }
    }
    return bad;
}

size_t fx_dms_once(struct fx *fx, char *why, size_t n)
{
    return posts_once(fx, true, why, n);
}

size_t fx_posts_once(struct fx *fx, char *why, size_t n)
{
    return posts_once(fx, false, why, n);
}

size_t fx_dm_count(struct fx *fx, const char *user, const char *text_part)
{
    /* the fake's conversations.open answers D + the user id without its U */
    char dm[64];
    snprintf(dm, sizeof(dm), "D%s", user && (user[0] == 'U' || user[0] == 'W') ? user + 1 : user ? user : "");
    size_t hits = 0;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "chat.postMessage"); i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, "chat.postMessage", i);
        const char *ch = arg(c, "channel");
        if (!call_ok(c) || !ch || (strcmp(ch, dm) != 0 && strcmp(ch, user) != 0))
            continue;
        if (!text_part || strstr(post_text(c), text_part))
            hits++;
    }
    return hits;
}

/* The second trigger of a dedup key is the takeover of a killed replica's
 * trigger when the first reached PagerDuty before that replica was killed
 * (which then could not record the answer), the second after, and the
 * second opened no incident (PagerDuty folds it into the open one: no new
 * page).  first is the index of the first trigger. */
static bool pd_takeover_retry(struct fx *fx, size_t first, const char *key)
{
    const struct fake_pd_event *a = fake_pagerduty_event(fx->pd, first), *b = NULL;
    for (size_t k = first + 1; k < fake_pagerduty_event_count(fx->pd) && !b; k++) {
        const struct fake_pd_event *e = fake_pagerduty_event(fx->pd, k);
        if (e->action && strcmp(e->action, "trigger") == 0 && e->dedup_key && strcmp(e->dedup_key, key) == 0)
            b = e;
    }
    if (!a || !b || b->new_incident)
        return false;
    for (int i = 0; i < fx->n_reps; i++)
        if (fx->reps[i].killed && a->t_us < fx->reps[i].killed_us && b->t_us > fx->reps[i].killed_us)
            return true;
    return false;
}

/* A link to the incident's GitLab issue among a trigger's "links". */
static bool has_issue_link(const cJSON *ev)
{
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(ev, "links")) {
        const char *href = util_jstr(l, "href");
        if (href && strstr(href, "/-/issues/"))
            return true;
    }
    return false;
}

/* The second trigger of a dedup key is the documented link update: the
 * page left without the GitLab issue link (its soft wait for the issue
 * ran out, e.g. on a loaded machine), and a second trigger under the same
 * key carries it, folded by PagerDuty into the open incident (no new
 * page).  first is the index of the first trigger. */
static bool pd_links_update(struct fx *fx, size_t first, const char *key)
{
    const cJSON *a = fake_pagerduty_event_json(fx->pd, first), *b = NULL;
    size_t bi = 0;
    for (size_t k = first + 1; k < fake_pagerduty_event_count(fx->pd) && !b; k++) {
        const cJSON *e = fake_pagerduty_event_json(fx->pd, k);
        const char *act = util_jstr(e, "event_action"), *dk = util_jstr(e, "dedup_key");
        if (act && strcmp(act, "trigger") == 0 && dk && strcmp(dk, key) == 0) {
            b = e;
            bi = k;
        }
    }
    return a && b && !has_issue_link(a) && has_issue_link(b) && !fake_pagerduty_event(fx->pd, bi)->new_incident;
}

size_t fx_pd_triggers_once(struct fx *fx, size_t want_keys, char *why, size_t n)
{
    size_t bad = 0, keys = 0;
    if (why && n)
        why[0] = '\0';
    if (!fx->pd)
        return 0;
    size_t count = fake_pagerduty_event_count(fx->pd);
    for (size_t i = 0; i < count; i++) {
        const cJSON *ev = fake_pagerduty_event_json(fx->pd, i);
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(ev, "event_action");
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(ev, "dedup_key");
        if (!cJSON_IsString(act) || strcmp(act->valuestring, "trigger") != 0 || !cJSON_IsString(key))
            continue;
        bool first = true;
        for (size_t k = 0; k < i && first; k++) {
            const cJSON *pe = fake_pagerduty_event_json(fx->pd, k);
            const cJSON *pa = cJSON_GetObjectItemCaseSensitive(pe, "event_action");
            const cJSON *pk = cJSON_GetObjectItemCaseSensitive(pe, "dedup_key");
            first = !(cJSON_IsString(pa) && strcmp(pa->valuestring, "trigger") == 0 && cJSON_IsString(pk)
                      && strcmp(pk->valuestring, key->valuestring) == 0);
        }
        if (!first)
            continue;
        keys++;
        size_t t = fake_pagerduty_trigger_count(fx->pd, key->valuestring);
        if (t == 2 && (pd_takeover_retry(fx, i, key->valuestring) || pd_links_update(fx, i, key->valuestring)))
            continue;
        if (t != 1) {
            char num[160];
            /* what each trigger was: time from the first kill, whether it
             * carried the issue link, whether it opened an incident */
            uint64_t kill_us = 0;
            for (int r = 0; r < fx->n_reps; r++)
                if (fx->reps[r].killed && (!kill_us || fx->reps[r].killed_us < kill_us))
                    kill_us = fx->reps[r].killed_us;
            size_t len = (size_t)snprintf(num, sizeof(num), "%zu", t);
            for (size_t k = i; k < count && len < sizeof(num) - 24; k++) {
                const struct fake_pd_event *e = fake_pagerduty_event(fx->pd, k);
                if (e->action && strcmp(e->action, "trigger") == 0 && e->dedup_key
                    && strcmp(e->dedup_key, key->valuestring) == 0)
                    len += (size_t)snprintf(num + len, sizeof(num) - len, " [%+.1fs%s%s]",
                                            ((double)e->t_us - (double)kill_us) / 1e6,
                                            has_issue_link(fake_pagerduty_event_json(fx->pd, k)) ? " link" : "",
                                            e->new_incident ? " new" : "");
            }
            note(&bad, why, n, "%s triggered %s times", key->valuestring, num);
        }
    }
    if (want_keys && keys != want_keys) {
        char a[32], b[32];
        snprintf(a, sizeof(a), "%zu", keys);
        snprintf(b, sizeof(b), "%zu", want_keys);
        note(&bad, why, n, "%s dedup keys paged, want %s", a, b);
    }
    return bad;
}

size_t fx_gitlab_once(struct fx *fx, char *why, size_t n)
{
    size_t bad = 0;
    if (why && n)
        why[0] = '\0';
    if (!fx->gitlab)
        return 0;
    size_t np = fake_gitlab_project_count(fx->gitlab), ni = fake_gitlab_issue_count(fx->gitlab);
    for (size_t i = 0; i < np; i++) {
        const cJSON *p = fake_gitlab_project(fx->gitlab, i);
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(p, "path_with_namespace");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
        const char *ps = cJSON_IsString(path) ? path->valuestring : "?";
        for (size_t k = 0; k < i; k++) {
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(fake_gitlab_project(fx->gitlab, k), "path_with_namespace");
            if (cJSON_IsString(q) && strcmp(q->valuestring, ps) == 0)
                note(&bad, why, n, "project %s twice%s", ps, "");
        }
        size_t issues = 0;
        for (size_t k = 0; k < ni; k++) {
            const cJSON *pid = cJSON_GetObjectItemCaseSensitive(fake_gitlab_issue(fx->gitlab, k), "project_id");
            if (cJSON_IsNumber(pid) && cJSON_IsNumber(id) && pid->valueint == id->valueint)
                issues++;
        }
        if (issues != 1) {
            char num[32];
            snprintf(num, sizeof(num), "%zu", issues);
            note(&bad, why, n, "project %s has %s issues", ps, num);
        }
    }
    return bad;
}
