/* harness: see harness.h.  Owns the test's uv loop, the fake Slack, the
 * child process with its stderr pipe, and a temp dir; fx_finish() releases
 * all of them.  Every wait is bounded by a timer on the loop and by a
 * monotonic deadline. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define FX_STDERR_CAP  (8u << 20)
#define FX_MAX_ARGS    64

const char fx_default_config[] =
    FX_CONFIG_HEAD
    "    {\"user\": \"U0APPSEC1\", \"tz\": \"America/Los_Angeles\", \"hours\": \"09:00-17:00\", \"gitlab\": \"alice\"},\n"
    "    {\"user\": \"U0APPSEC2\", \"tz\": \"Europe/Amsterdam\", \"hours\": \"09:00-17:00\"}\n"
    "  ],\n"
    "  \"secops_oncall\": {\"pagerduty_schedule\": \"PSCHED1\", \"fallback_user\": \"U0SECOPS1\"},\n"
    "  \"components\": [\n"
    "    {\"name\": \"gitaly\", \"em\": \"U0EM00001\", \"pm\": \"U0PM00001\", \"channel\": \"C0GITALY1\",\n"
    "     \"gitlab_em\": \"em-gitaly\", \"gitlab_pm\": \"pm-gitaly\"}\n"
    "  ],\n"
    "  \"handoff\": {\"lead_minutes\": 30},\n"
    "  \"gitlab\": {\"namespace_id\": 42}\n"
    "}\n";

static const struct {
    const char *id, *name, *tz;
} fx_users[] = {
    { "U0SIRT001", "sirt1", "UTC" },
    { "U0SIRT002", "sirt2", "Europe/London" },
    { "U0APPSEC1", "alice", "America/Los_Angeles" },
    { "U0APPSEC2", "bob", "Europe/Amsterdam" },
    { "U0SECOPS1", "secops", "America/New_York" },
    { "U0EM00001", "em-gitaly", "UTC" },
    { "U0PM00001", "pm-gitaly", "UTC" },
    { "U0DIRSEC1", "dirsec", "UTC" },
    { "U0DIRINF1", "dirinf", "UTC" },
    { "U0REPORT1", "reporter", "UTC" },
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void write_all(int fd, const char *p, size_t n)
{
    for (int tries = 0; n > 0 && tries < 1000; tries++) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* The wait timers repeat every FX_TICK_MS after their deadline: uv_run
 * (UV_RUN_ONCE) runs due timers before it polls, and a timer that fired
 * there (the loop's clock was behind, e.g. the test was descheduled on a
 * busy machine) would leave the poll without a timeout: blocked until some
 * I/O, maybe for ever.  Still active, it bounds the poll. */
#define FX_TICK_MS 10

static void timer_cb(uv_timer_t *t)
{
    struct fx *fx = container_of(t, struct fx, timer);
    fx->timer_fired = true;
}

void fx_write_config(struct fx *fx, const char *json)
{
    FILE *fp = fopen(fx->config_path, "w");
    if (!fp)
        TEST_FAIL("fx: cannot write %s: %s", fx->config_path, strerror(errno));
    fputs(json, fp);
    if (fclose(fp) != 0)
        TEST_FAIL("fx: cannot write %s", fx->config_path);
}

void fx_init(struct fx *fx)
{
    fx_init_opts(fx, 0);
}

void fx_init_opts(struct fx *fx, int flags)
{
    fx_init_tls(fx, flags, NULL);
}

void fx_init_tls(struct fx *fx, int flags, const struct fx_tls_opts *o)
{
    memset(fx, 0, sizeof(*fx));
    int rc = uv_loop_init(&fx->loop);
    if (rc)
        TEST_FAIL("fx: uv_loop_init: %s", uv_strerror(rc));
    uv_timer_init(&fx->loop, &fx->timer);
    buf_init(&fx->stderr_buf, FX_STDERR_CAP);

    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = "/tmp";
    int n = snprintf(fx->dir, sizeof(fx->dir), "%s/sirt-fx-XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof(fx->dir) || !mkdtemp(fx->dir))
        TEST_FAIL("fx: mkdtemp under %s: %s", tmp, strerror(errno));
    snprintf(fx->config_path, sizeof(fx->config_path), "%s/sirt.json", fx->dir);
    fx_write_config(fx, fx_default_config);

    if (o || (flags & FX_SLACK_TLS)) {
        const char *san = o && o->san ? o->san : "IP:127.0.0.1,DNS:localhost";
        const char *cn = o && o->cn ? o->cn : "sirtbot fake slack";
        char cert[400], key[400];
        if (fx_tls_make_ca(fx, "fx", fx->tls_ca, sizeof(fx->tls_ca)) != 0 ||
            fx_tls_make_cert(fx, "fx", "fake-slack", san, cn, cert, key, sizeof(cert)) != 0)
            TEST_FAIL("fx: cannot make the throwaway certificates (is the openssl tool installed?)");
        struct fake_slack_tls t = { cert, key, o && o->ws_host ? o->ws_host : "127.0.0.1", 0 };
        fx->slack = fake_slack_create_tls(&fx->loop, 0, &t);
        if (!fx->slack)
            TEST_FAIL("fx: fake_slack_create_tls failed");
    } else {
        fx->slack = fake_slack_create(&fx->loop, 0);
        if (!fx->slack)
            TEST_FAIL("fx: fake_slack_create failed");
    }
    for (size_t i = 0; i < ARRAY_LEN(fx_users); i++) {
        char email[64];
        snprintf(email, sizeof(email), "%s@example.com", fx_users[i].name);
        fake_slack_add_user(fx->slack, fx_users[i].id, fx_users[i].name, email, fx_users[i].tz);
    }
    if (flags & FX_PAGERDUTY) {
        fx->pd = fake_pagerduty_create(&fx->loop, 0);
        if (!fx->pd)
            TEST_FAIL("fx: fake_pagerduty_create failed");
        fake_pagerduty_set_oncall(fx->pd, "PSCHED1", "PSECOPS01", "secops", "secops@example.com");
    }
    if (flags & FX_GITLAB) {
        fx->gitlab = fake_gitlab_create(&fx->loop, 0);
        if (!fx->gitlab)
            TEST_FAIL("fx: fake_gitlab_create failed");
        fake_gitlab_add_user(fx->gitlab, 201, "alice");
        fake_gitlab_add_user(fx->gitlab, 202, "em-gitaly");
        fake_gitlab_add_user(fx->gitlab, 203, "pm-gitaly");
    }
}

/* ------------------------------------------------------------------ */
/* child process */

static void proc_closed(uv_handle_t *h)
{
    struct fx *fx = container_of((uv_process_t *)h, struct fx, proc);
    fx->proc_open = false;
}

static void pipe_closed(uv_handle_t *h)
{
    struct fx *fx = container_of((uv_pipe_t *)h, struct fx, err_pipe);
    fx->pipe_open = false;
}

static void close_pipe(struct fx *fx)
{
    if (fx->pipe_open && !uv_is_closing((uv_handle_t *)&fx->err_pipe))
        uv_close((uv_handle_t *)&fx->err_pipe, pipe_closed);
}

static void exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    struct fx *fx = container_of(p, struct fx, proc);
    fx->running = false;
    fx->exited = true;
    fx->exit_status = status;
    fx->term_signal = term_signal;
    uv_close((uv_handle_t *)p, proc_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    b->base = xmalloc(65536);
    b->len = 65536;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct fx *fx = container_of((uv_pipe_t *)s, struct fx, err_pipe);
    if (nread > 0) {
        size_t n = (size_t)nread;
        size_t room = fx->stderr_buf.cap - fx->stderr_buf.len;
        buf_append(&fx->stderr_buf, b->base, n < room ? n : room);
        write_all(STDERR_FILENO, b->base, n);
    } else if (nread < 0) {
        close_pipe(fx);
    }
    free(b->base);
}

/* Runs the loop without blocking for long until cond() or max_ms pass. */
static void spin_until(struct fx *fx, bool (*cond)(struct fx *), int max_ms)
{
    uv_update_time(&fx->loop);
    fx->timer_fired = false;
    uv_timer_start(&fx->timer, timer_cb, (uint64_t)max_ms, FX_TICK_MS);
    uint64_t deadline = now_ms() + (uint64_t)max_ms;
    for (long i = 0; i < 10000000L && !cond(fx) && !fx->timer_fired && now_ms() < deadline; i++)
        uv_run(&fx->loop, UV_RUN_ONCE);
    uv_timer_stop(&fx->timer);
}

static bool handles_closed(struct fx *fx)
{
    return !fx->proc_open && !fx->pipe_open;
}

static bool pipe_closed_cond(struct fx *fx)
{
    return !fx->pipe_open;
}

/* Splits s on spaces/tabs into argv (pointers into s, which is modified). */
static int split_words(char *s, char **argv, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(s, " \t", &save); w && n < max; w = strtok_r(NULL, " \t", &save))
        argv[n++] = w;
    return n;
}

static bool env_name_eq(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");
    return la == lb && strncmp(a, b, la) == 0;
}

/* Adds or replaces NAME=value in env (owned strings); "NAME=" removes. */
static void env_put(char **env, int *n, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq || eq == entry)
        return;
    for (int i = 0; i < *n; i++) {
        if (env_name_eq(env[i], entry)) {
            free(env[i]);
            env[i] = env[--*n];
            env[*n] = NULL;
            break;
        }
    }
    if (eq[1] && *n < FX_MAX_ENV)
        env[(*n)++] = xstrdup(entry);
}

/* The child's environment (see harness.h) into env (owned strings,
 * NULL-terminated); api_url NULL = the fake's plain URL.  Returns the count. */
int fx_build_env(struct fx *fx, char **env, const char *api_url, const char *const *extra)
{
    int ne = 0;
    env[ne++] = xstrdup("SLACK_APP_TOKEN=xapp-1-A0FAKE001-test");
    env[ne++] = xstrdup("SLACK_BOT_TOKEN=xoxb-test-token");
    env[ne++] = xasprintf("SLACK_API_URL=%s", api_url ? api_url : fake_slack_api_url(fx->slack));
    env[ne++] = xasprintf("SIRT_CONFIG=%s", fx->config_path);
    env[ne++] = xasprintf("SIRT_DB=%s/sirt.db", fx->dir);
    env[ne++] = xstrdup("SIRT_LOG=debug");
    if (fx->clock_set)
        env[ne++] = xasprintf("SIRT_CLOCK_FILE=%s/clock", fx->dir);
    if (fx->pd) {
        env[ne++] = xstrdup("PAGERDUTY_ROUTING_KEY=" FAKE_PD_ROUTING_KEY);
        env[ne++] = xasprintf("PAGERDUTY_EVENTS_URL=%s", fake_pagerduty_events_url(fx->pd));
        env[ne++] = xasprintf("PAGERDUTY_API_URL=%s", fake_pagerduty_url(fx->pd));
        env[ne++] = xstrdup("PAGERDUTY_API_TOKEN=" FAKE_PD_API_TOKEN);
    }
    if (fx->gitlab) {
        env[ne++] = xasprintf("GITLAB_URL=%s", fake_gitlab_url(fx->gitlab));
        env[ne++] = xstrdup("GITLAB_TOKEN=" FAKE_GITLAB_TOKEN);
    }
    static const char *const pass[] = { "PATH", "HOME", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
    for (size_t i = 0; i < ARRAY_LEN(pass); i++) {
        const char *v = getenv(pass[i]);
        if (v)
            env[ne++] = xasprintf("%s=%s", pass[i], v);
    }
    env[ne] = NULL;
    for (int i = 0; extra && extra[i] && i < FX_MAX_ENV; i++)
        env_put(env, &ne, extra[i]);
    env[ne] = NULL;

    return ne;
}

int fx_spawn(struct fx *fx, const char *const *extra)
{
    if (fx->running) {
        fprintf(stderr, "fx_spawn: a child is still running\n");
        return UV_EBUSY;
    }
    /* A previous child's handles must be closed before reuse. */
    if (!handles_closed(fx)) {
        spin_until(fx, pipe_closed_cond, 1000);
        close_pipe(fx);
        spin_until(fx, handles_closed, 1000);
        if (!handles_closed(fx))
            TEST_FAIL("fx_spawn: previous child's handles did not close");
    }

    char *env[FX_MAX_ENV + 1];
    int ne = fx_build_env(fx, env, NULL, extra);
    char *wrapper = xstrdup(getenv("SIRTBOT_WRAPPER"));
    const char *bin = getenv("SIRTBOT_BIN");
    if (!bin || !bin[0])
        bin = "bot/sirtbot";
    if (strchr(bin, '/') && access(bin, X_OK) != 0) {
        /* say so now rather than fork a child that only fails to exec */
        int rc = uv_translate_sys_error(errno);
        fprintf(stderr, "fx_spawn: cannot run %s: %s\n", bin, uv_strerror(rc));
        for (int i = 0; i < ne; i++)
            free(env[i]);
        free(wrapper);
        return rc;
    }
    char *argv[FX_MAX_ARGS + 2];
    int na = wrapper ? split_words(wrapper, argv, FX_MAX_ARGS) : 0;
    argv[na++] = (char *)bin;
    argv[na] = NULL;

    uv_pipe_init(&fx->loop, &fx->err_pipe, 0);
    fx->pipe_open = true;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = STDERR_FILENO;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&fx->err_pipe;

    uv_process_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.file = argv[0];
    opt.args = argv;
    opt.env = env;
    opt.exit_cb = exit_cb;
    opt.stdio = stdio;
    opt.stdio_count = 3;

    fx->exited = false;
    fx->exit_status = 0;
    fx->term_signal = 0;
    fx->spawn_offset = fx->stderr_buf.len;
    int rc = uv_spawn(&fx->loop, &fx->proc, &opt);
    if (rc == 0) {
        fx->proc_open = true;
        fx->running = true;
        fx->spawns++;
        uv_read_start((uv_stream_t *)&fx->err_pipe, alloc_cb, read_cb);
    } else {
        fprintf(stderr, "fx_spawn: cannot start %s: %s\n", argv[0], uv_strerror(rc));
        /* libuv wants the failed process handle closed too */
        fx->proc_open = true;
        uv_close((uv_handle_t *)&fx->proc, proc_closed);
        close_pipe(fx);
        spin_until(fx, handles_closed, 1000);
    }
    for (int i = 0; i < ne; i++)
        free(env[i]);
    free(wrapper);
    return rc;
}

bool fx_wait(struct fx *fx, fx_pred pred, void *ud, int timeout_ms)
{
    if (pred(fx, ud))
        return true;
    /* Under a wrapper (valgrind, two at a time on two cores) everything the
     * bot does is 10-50x slower: a wait bounds a failure, not a speed, so it
     * stretches (a passing wait still returns as soon as it holds). */
    if (getenv("SIRTBOT_WRAPPER") && timeout_ms > 0 && timeout_ms < INT32_MAX / 3)
        timeout_ms *= 3;
    uv_update_time(&fx->loop);
    fx->timer_fired = false;
    uv_timer_start(&fx->timer, timer_cb, (uint64_t)(timeout_ms > 0 ? timeout_ms : 0), FX_TICK_MS);
    uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    bool ok = false;
    for (long i = 0; i < 100000000L; i++) {
        uv_run(&fx->loop, UV_RUN_ONCE);
        if (pred(fx, ud)) {
            ok = true;
            break;
        }
        if (fx->timer_fired || now_ms() >= deadline)
            break;
    }
    uv_timer_stop(&fx->timer);
    return ok;
}

static bool pred_never(struct fx *fx, void *ud)
{
    (void)fx;
    (void)ud;
    return false;
}

void fx_run_for(struct fx *fx, int ms)
{
    fx_wait(fx, pred_never, NULL, ms);
}

static bool pred_online_or_exited(struct fx *fx, void *ud)
{
    return fx->exited || fx_pred_online(fx, ud);
}

void fx_start(struct fx *fx, const char *const *env)
{
    int rc = fx_spawn(fx, env);
    if (rc)
        TEST_FAIL("fx_start: spawn failed: %s", uv_strerror(rc));
    int timeout = getenv("SIRTBOT_WRAPPER") ? 60000 : 15000;
    if (!fx_wait(fx, pred_online_or_exited, NULL, timeout) || !fx_pred_online(fx, NULL))
        TEST_FAIL("fx_start: bot not online within %d ms (exited=%d status=%lld signal=%d)", timeout,
                  fx->exited, (long long)fx->exit_status, fx->term_signal);
}

static int exit_code(const struct fx *fx)
{
    return fx->term_signal ? 128 + fx->term_signal : (int)fx->exit_status;
}

int fx_wait_exit(struct fx *fx, int timeout_ms)
{
    if (!fx->exited && !fx->running)
        return -1;   /* never spawned */
    if (!fx_wait(fx, fx_pred_exited, NULL, timeout_ms))
        return -1;
    spin_until(fx, pipe_closed_cond, 1000);
    return exit_code(fx);
}

int fx_kill(struct fx *fx)
{
    if (!fx->running)
        return fx->exited ? fx_wait_exit(fx, 0) : -1;
    uv_process_kill(&fx->proc, SIGKILL);
    return fx_wait_exit(fx, 5000);
}

int fx_stop(struct fx *fx, int timeout_ms)
{
    if (fx->running)
        uv_process_kill(&fx->proc, SIGTERM);
    return fx_wait_exit(fx, timeout_ms);
}

/* ------------------------------------------------------------------ */
/* teardown */

/* Removes dir's contents (depth and entry count bounded), then dir. */
static void rm_tree(const char *dir, int depth)
{
    if (depth > 4)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        for (int n = 0; n < 10000 && (e = readdir(d)) != NULL; n++) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = xasprintf("%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                rm_tree(p, depth + 1);
            else
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void print_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "  fx_finish: handle left: %s%s%s\n", uv_handle_type_name(uv_handle_get_type(h)),
            uv_is_active(h) ? " active" : "", uv_is_closing(h) ? " closing" : "");
}

static void watchdog_cb(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void watchdog_closed(uv_handle_t *h)
{
    (void)h;
}

void fx_finish(struct fx *fx)
{
    fx_replicas_finish(fx);
    if (fx->running) {
        uv_process_kill(&fx->proc, SIGKILL);
        fx_wait(fx, fx_pred_exited, NULL, 5000);
    }
    if (fx->pipe_open)
        spin_until(fx, pipe_closed_cond, fx->exited ? 500 : 0);
    close_pipe(fx);
    if (fx->proc_open && fx->running) {
        /* the child would not die: give up on it, but close our handle */
        uv_close((uv_handle_t *)&fx->proc, proc_closed);
        fx->running = false;
    }
    uv_close((uv_handle_t *)&fx->timer, NULL);
    if (fx->slack && !fx->allow_block_refusals && fake_slack_block_refusals(fx->slack) > 0) {
        fprintf(stderr, "  FAIL %s:%d: the fake Slack refused %zu payload(s) as Slack would; last: %s\n", __FILE__,
                __LINE__, fake_slack_block_refusals(fx->slack), fake_slack_last_refusal(fx->slack));
        exit(1);
    }
    fake_slack_destroy(fx->slack);
    fx->slack = NULL;
    fake_pagerduty_destroy(fx->pd);
    fx->pd = NULL;
    fake_gitlab_destroy(fx->gitlab);
    fx->gitlab = NULL;

    /* Run to completion; an unreferenced watchdog bounds the wait. */
    bool fired = false;
    uv_timer_t wd;
    uv_timer_init(&fx->loop, &wd);
    wd.data = &fired;
    uv_timer_start(&wd, watchdog_cb, 5000, FX_TICK_MS);
    uv_unref((uv_handle_t *)&wd);
    for (long i = 0; i < 10000000L && !fired && uv_run(&fx->loop, UV_RUN_ONCE) != 0;)
        i++;
    uv_close((uv_handle_t *)&wd, watchdog_closed);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    int rc = uv_loop_close(&fx->loop);
    if (rc) {
        uv_walk(&fx->loop, print_handle, NULL);
        TEST_FAIL("fx_finish: uv_loop_close: %s (handles still open)", uv_strerror(rc));
    }
    if (fx->dir[0])
        rm_tree(fx->dir, 0);
    fx->dir[0] = '\0';
    buf_finish(&fx->stderr_buf);
}

bool fx_stderr_has(struct fx *fx, const char *s)
{
    return fx->stderr_buf.data && strstr(fx->stderr_buf.data, s) != NULL;
}

const char *fx_stderr_since_spawn(struct fx *fx)
{
    if (!fx->stderr_buf.data || fx->spawn_offset > fx->stderr_buf.len)
        return "";
    return fx->stderr_buf.data + fx->spawn_offset;
}

void fx_set_clock(struct fx *fx, int64_t epoch_ms)
{
    char path[320], tmp[330];
    snprintf(path, sizeof(path), "%s/clock", fx->dir);
    snprintf(tmp, sizeof(tmp), "%s/clock.tmp", fx->dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        TEST_FAIL("fx_set_clock: cannot write %s", tmp);
    fprintf(f, "%lld\n", (long long)epoch_ms);
    fclose(f);
    if (rename(tmp, path) != 0)
        TEST_FAIL("fx_set_clock: cannot rename to %s", path);
    fx->clock_set = true;
    if (fx->running && !fx->exited)
        uv_process_kill(&fx->proc, SIGUSR1);
}
