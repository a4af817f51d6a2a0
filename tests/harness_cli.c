/* harness_cli: runs the real bot binary with command-line arguments
 * (--version, --check-config, backup FILE) in the fixture's environment,
 * while the fixture's loop keeps the fakes answering.  Everything it
 * allocates is returned to the caller (out, err) or freed before return. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

struct cli_run {
    uv_process_t proc;
    uv_pipe_t out_pipe, err_pipe;
    struct buf out, err;
    bool exited;
    int64_t status;
    int term_signal;
    int open_handles;
};

static void cli_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    static char chunk[65536];
    *b = uv_buf_init(chunk, sizeof(chunk));
}

static void cli_closed(uv_handle_t *h)
{
    struct cli_run *r = h->data;
    r->open_handles--;
}

static void cli_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct cli_run *r = s->data;
    struct buf *into = s == (uv_stream_t *)&r->out_pipe ? &r->out : &r->err;
    if (n > 0)
        buf_append(into, b->base, (size_t)n);
    else if (n < 0 && !uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, cli_closed);
}

static void cli_exit(uv_process_t *p, int64_t status, int sig)
{
    struct cli_run *r = p->data;
    r->exited = true;
    r->status = status;
    r->term_signal = sig;
    uv_close((uv_handle_t *)p, cli_closed);
}

static bool pred_cli_done(struct fx *fx, void *ud)
{
    (void)fx;
    struct cli_run *r = ud;
    return r->exited && r->open_handles == 0;
}

int fx_cli_run(struct fx *fx, const char *const *args, const char *const *extra_env, char **out, char **err,
               int timeout_ms)
{
    char *env[FX_MAX_ENV + 1];
    int ne = fx_build_env(fx, env, NULL, extra_env);
    const char *bin = getenv("SIRTBOT_BIN");
    if (!bin || !bin[0])
        bin = "bot/sirtbot";
    char *wrapper = xstrdup(getenv("SIRTBOT_WRAPPER"));
    char *argv[96];
    int na = 0;
    char *save = NULL;
    for (char *w = wrapper ? strtok_r(wrapper, " ", &save) : NULL; w && na < 64; w = strtok_r(NULL, " ", &save))
        argv[na++] = w;
    argv[na++] = (char *)bin;
    for (int i = 0; args && args[i] && na < 94; i++)
        argv[na++] = (char *)args[i];
    argv[na] = NULL;

    struct cli_run *r = xcalloc(1, sizeof(*r));
    buf_init(&r->out, 16u << 20);
    buf_init(&r->err, 16u << 20);
    uv_pipe_init(&fx->loop, &r->out_pipe, 0);
    uv_pipe_init(&fx->loop, &r->err_pipe, 0);
    r->proc.data = r->out_pipe.data = r->err_pipe.data = r;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->out_pipe;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&r->err_pipe;
    uv_process_options_t opt;
    memset(&opt, 0, sizeof(opt));
    opt.file = argv[0];
    opt.args = argv;
    opt.env = env;
    opt.exit_cb = cli_exit;
    opt.stdio = stdio;
    opt.stdio_count = 3;
    int rc = uv_spawn(&fx->loop, &r->proc, &opt);
    r->open_handles = 3;
    if (rc != 0) {
        r->exited = true;
        r->status = -1;
        buf_printf(&r->err, "fx_cli_run: cannot start %s: %s\n", argv[0], uv_strerror(rc));
        uv_close((uv_handle_t *)&r->proc, cli_closed);
        uv_close((uv_handle_t *)&r->out_pipe, cli_closed);
        uv_close((uv_handle_t *)&r->err_pipe, cli_closed);
    } else {
        uv_read_start((uv_stream_t *)&r->out_pipe, cli_alloc, cli_read);
        uv_read_start((uv_stream_t *)&r->err_pipe, cli_alloc, cli_read);
    }
    if (!fx_wait(fx, pred_cli_done, r, timeout_ms)) {
        if (!r->exited)
            uv_process_kill(&r->proc, SIGKILL);
        fx_wait(fx, pred_cli_done, r, 5000);
        if (!pred_cli_done(fx, r))
            TEST_FAIL("fx_cli_run: %s did not finish in %d ms", bin, timeout_ms);
    }
    int status = r->term_signal ? 128 + r->term_signal : (int)r->status;
    *out = buf_take(&r->out);
    *err = buf_take(&r->err);
    buf_finish(&r->out);
    buf_finish(&r->err);
    free(r);
    for (int i = 0; i < ne; i++)
        free(env[i]);
    free(wrapper);
    return status;
}
