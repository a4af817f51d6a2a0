/* fake_clients: see fake_clients.h.  The helper threads only run blocking
 * socket/libcurl code; the loop and the fakes stay on the test thread.  The
 * one libcurl easy handle and the wake-up async live from the first use to
 * fc_end(). */
#include "fake_clients.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakes/fake_http.h"
#include "test.h"
/* ------------------------------------------------------------------ */
/* run a blocking step on a helper thread while the loop runs */


/* Wakes the loop when a helper thread finishes (closed in fc_end). */
static uv_async_t g_wake;
static bool g_wake_on;

static void wake_cb(uv_async_t *a)
{
    (void)a;
}

void fc_wake_init(struct fx *fx)
{
    if (!g_wake_on)
        uv_async_init(&fx->loop, &g_wake, wake_cb);
    g_wake_on = true;
}

void *fc_job_main(void *p)
{
    struct fc_job *j = p;
    j->fn(j->arg);
    atomic_store(&j->done, 1);
    uv_async_send(&g_wake);
    return NULL;
}

bool fc_pred_job(struct fx *fx, void *ud)
{
    (void)fx;
    return atomic_load(&((struct fc_job *)ud)->done) != 0;
}

void fc_off_loop(struct fx *fx, void (*fn)(void *), void *arg)
{
    struct fc_job j = { fn, arg, 0 };
    pthread_t t;
    fc_wake_init(fx);
    if (pthread_create(&t, NULL, fc_job_main, &j) != 0)
        TEST_FAIL("pthread_create");
    if (!fx_wait(fx, fc_pred_job, &j, 20000))
        TEST_FAIL("helper thread did not finish in 20 s");
    pthread_join(t, NULL);
}

/* ------------------------------------------------------------------ */
/* HTTP client (libcurl easy, one handle per test so keep-alive is used) */

static CURL *g_curl;


size_t fc_write_buf(char *p, size_t sz, size_t n, void *ud)
{
    buf_append(ud, p, sz * n);
    return sz * n;
}

static void hdr_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t ln = strlen(name);
    if (n <= ln || strncasecmp(line, name, ln) != 0)
        return;
    const char *v = line + ln;
    size_t vn = n - ln;
    while (vn && (*v == ' '))
        v++, vn--;
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
        vn--;
    snprintf(out, cap, "%.*s", (int)vn, v);
}

static size_t http_header(char *p, size_t sz, size_t n, void *ud)
{
    struct fc_http *h = ud;
    hdr_value(p, sz * n, "retry-after:", h->retry_after, sizeof(h->retry_after));
    hdr_value(p, sz * n, "content-type:", h->resp_type, sizeof(h->resp_type));
    return sz * n;
}

void fc_http_job(void *arg)
{
    struct fc_http *h = arg;
    if (!g_curl && !h->fresh)
        g_curl = curl_easy_init();
    CURL *c = h->fresh ? curl_easy_init() : g_curl;
    curl_easy_reset(c);
    struct curl_slist *hdrs = NULL;
    char line[512];
    if (h->auth) {
        snprintf(line, sizeof(line), "Authorization: %s", h->auth);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (h->ctype) {
        snprintf(line, sizeof(line), "Content-Type: %s", h->ctype);
        hdrs = curl_slist_append(hdrs, line);
    }
    for (size_t i = 0; i < ARRAY_LEN(h->hdrs) && h->hdrs[i]; i++)
        hdrs = curl_slist_append(hdrs, h->hdrs[i]);
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms > 0 ? h->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fc_write_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->err);
    if (strcmp(h->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body ? h->body : "");
    } else {
        if (strcmp(h->method, "GET") != 0 || h->body)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
        if (h->body)
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body);
    }
    uint64_t t0 = uv_hrtime();
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
    else
        h->status = -1;
    h->ms = (uv_hrtime() - t0) / 1000000u;
    curl_slist_free_all(hdrs);
    if (h->fresh)
        curl_easy_cleanup(c);
}

void fc_http_run(struct fx *fx, struct fc_http *h)
{
    buf_init(&h->resp, 4u << 20);
    h->status = 0;
    h->retry_after[0] = h->resp_type[0] = h->err[0] = '\0';
    fc_off_loop(fx, fc_http_job, h);
    if (h->status < 0 && !h->may_fail)
        TEST_FAIL("curl %s %s: %s", h->method, h->url, h->err);
}

void fc_http_done(struct fc_http *h)
{
    buf_finish(&h->resp);
}

void fc_http_raw(struct fx *fx, struct fc_http *h)
{
    h->fresh = true;
    h->may_fail = true;
    fc_http_run(fx, h);
}

/* Calls the fake's Web API; returns the parsed answer (caller deletes). */
cJSON *fc_api(struct fx *fx, const char *http_method, const char *method, const char *auth, const char *ctype,
                  const char *body_or_query, long *status)
{
    char url[512];
    bool get = strcmp(http_method, "GET") == 0;
    snprintf(url, sizeof(url), "%s/%s%s%s", fake_slack_api_url(fx->slack), method,
             get && body_or_query ? "?" : "", get && body_or_query ? body_or_query : "");
    struct fc_http h = { .method = http_method, .url = url, .auth = auth, .ctype = ctype,
                      .body = get ? NULL : body_or_query };
    fc_http_run(fx, &h);
    if (status)
        *status = h.status;
    cJSON *j = cJSON_Parse(h.resp.data ? h.resp.data : "");
    fc_http_done(&h);
    return j;
}


cJSON *fc_call(struct fx *fx, const char *method, const char *url, const char *h1, const char *h2, const char *body,
               long *status)
{
    struct fc_http h = { .method = method, .url = url, .hdrs = { h1 ? h1 : h2, h1 ? h2 : NULL }, .body = body };
    fc_http_raw(fx, &h);
    if (status)
        *status = h.status;
    cJSON *j = cJSON_Parse(h.resp.data ? h.resp.data : "");
    fc_http_done(&h);
    return j;
}

void fc_api_expect(struct fx *fx, const char *http_method, const char *method, const char *ctype,
                   const char *body_or_query, const char *path, const char *want)
{
    long st;
    cJSON *j = fc_api(fx, http_method, method, XOXB, ctype, body_or_query, &st);
    const char *got = fc_jstr(j, path);
    if (!got || strcmp(got, want) != 0)
        TEST_FAIL("%s %s %s: %s is \"%s\", want \"%s\"", http_method, method, body_or_query ? body_or_query : "",
                  path, got ? got : "(null)", want);
    cJSON_Delete(j);
}

long fc_call_status(struct fx *fx, const char *method, const char *url, const char *h1, const char *h2,
                    const char *body)
{
    long st;
    cJSON_Delete(fc_call(fx, method, url, h1, h2, body, &st));
    return st;
}

long fc_http_status(struct fx *fx, struct fc_http *h)
{
    fc_http_raw(fx, h);
    long st = h->status;
    fc_http_done(h);
    return st;
}

const cJSON *fc_jpath(const cJSON *o, const char *path)
{
    char tmp[160];
    str_lcpy(tmp, path, sizeof(tmp));
    const cJSON *cur = o;
    char *save = NULL;
    for (char *k = strtok_r(tmp, ".", &save); k && cur; k = strtok_r(NULL, ".", &save)) {
        if (cJSON_IsArray(cur))
            cur = cJSON_GetArrayItem(cur, atoi(k));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, k);
    }
    return cur;
}

const char *fc_jstr(const cJSON *o, const char *path)
{
    const cJSON *v = fc_jpath(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double fc_jnum(const cJSON *o, const char *path)
{
    const cJSON *v = fc_jpath(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

const cJSON *fc_jget(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* ------------------------------------------------------------------ */
/* a tiny blocking websocket client (RFC 6455, client frames masked) */



static int fill(struct wsc *c, size_t want)
{
    for (int i = 0; c->len < want && i < 100000; i++) {
        if (c->cap - c->len < 65536) {
            if (c->cap >= (16u << 20))
                return -1;
            c->cap = c->cap ? c->cap * 2 : 131072;
            c->rx = xrealloc(c->rx, c->cap);
        }
        ssize_t n = recv(c->fd, c->rx + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
    return c->len >= want ? 0 : -1;
}

static void consume(struct wsc *c, size_t n)
{
    memmove(c->rx, c->rx + n, c->len - n);
    c->len -= n;
}

void wsc_open(struct wsc *c, int port, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { 5, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return;
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return;
    /* read up to the end of the response head; keep what follows */
    for (int i = 0; i < 64; i++) {
        if (c->len) {
            size_t hl = 0;
            for (size_t k = 0; k + 4 <= c->len && !hl; k++)
                if (memcmp(c->rx + k, "\r\n\r\n", 4) == 0)
                    hl = k + 4;
            if (hl) {
                size_t sl = strcspn((char *)c->rx, "\r");
                snprintf(c->status, sizeof(c->status), "%.*s", (int)(sl < hl ? sl : 0), (char *)c->rx);
                consume(c, hl);
                return;
            }
        }
        if (fill(c, c->len + 1) != 0)
            return;
    }
}

void wsc_close(struct wsc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->rx);
    c->rx = NULL;
    c->len = c->cap = 0;
}

void wsc_read(struct wsc *c, struct wsc_frame *fr)
{
    memset(fr, 0, sizeof(*fr));
    fr->rc = -1;
    if (fill(c, 2) != 0)
        return;
    size_t hl = 2, plen = c->rx[1] & 0x7f;
    if (plen == 126) {
        if (fill(c, 4) != 0)
            return;
        plen = ((size_t)c->rx[2] << 8) | c->rx[3];
        hl = 4;
    } else if (plen == 127) {
        if (fill(c, 10) != 0)
            return;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | c->rx[2 + i];
        hl = 10;
    }
    if (plen > (8u << 20) || fill(c, hl + plen) != 0)
        return;
    fr->op = c->rx[0] & 0x0f;
    fr->fin = (c->rx[0] & 0x80) != 0;
    fr->data = xstrndup((char *)c->rx + hl, plen);
    fr->len = plen;
    fr->rc = 0;
    consume(c, hl + plen);
}

int wsc_send(struct wsc *c, int op, bool fin, const void *p, size_t n)
{
    unsigned char *b = xmalloc(n + 14);
    size_t hl = 2;
    b[0] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        b[1] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        b[1] = 0x80 | 126;
        b[2] = (unsigned char)(n >> 8);
        b[3] = (unsigned char)n;
        hl = 4;
    } else {
        b[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            b[2 + i] = (unsigned char)(n >> (56 - 8 * i));
        hl = 10;
    }
    static const unsigned char mask[4] = { 0x12, 0x34, 0x56, 0x78 };
    memcpy(b + hl, mask, 4);
    hl += 4;
    for (size_t i = 0; i < n; i++)
        b[hl + i] = ((const unsigned char *)p)[i] ^ mask[i & 3];
    size_t off = 0;
    for (int i = 0; off < hl + n && i < 10000; i++) {
        ssize_t w = send(c->fd, b + off, hl + n - off, MSG_NOSIGNAL);
        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0)
            off += (size_t)w;
    }
    free(b);
    return off == hl + n ? 0 : -1;
}

int wsc_text(struct wsc *c, const char *s)
{
    return wsc_send(c, 1, true, s, strlen(s));
}


void fc_open_job(void *arg)
{
    struct fc_ws_step *s = arg;
    wsc_open(s->c, s->port, s->path);
}

void fc_read_job(void *arg)
{
    struct fc_ws_step *s = arg;
    wsc_read(s->c, &s->fr);
}

/* Reads one frame while the loop runs; fails the test on EOF/timeout. */
struct wsc_frame fc_next_frame(struct fx *fx, struct wsc *c)
{
    struct fc_ws_step s = { .c = c };
    fc_off_loop(fx, fc_read_job, &s);
    if (s.fr.rc != 0)
        TEST_FAIL("websocket: no frame (EOF or 5 s timeout)");
    return s.fr;
}

/* True if nothing arrives within ms (loop running meanwhile). */
bool fc_quiet_for(struct fx *fx, struct wsc *c, int ms)
{
    fx_run_for(fx, ms);
    if (c->len)
        return false;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    return poll(&p, 1, 0) == 0;
}

/* Gets a ticket URL from apps.connections.open; returns its path part. */
char *fc_new_ticket_path(struct fx *fx)
{
    long st;
    cJSON *j = fc_api(fx, "POST", "apps.connections.open", XAPP, FORMT, "", &st);
    ASSERT_EQ(st, 200);
    const char *url = fc_jstr(j, "url");
    ASSERT_NOT_NULL(url);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "ws://127.0.0.1:%d/link/?ticket=", fake_slack_port(fx->slack));
    ASSERT(str_starts(url, prefix));
    ASSERT_CONTAINS(url, "&app_id=A0FAKE001");
    char *path = xstrdup(strstr(url + 5, "/link/"));
    cJSON_Delete(j);
    return path;
}

void fc_ws_connect(struct fx *fx, struct wsc *c, const char *path)
{
    struct fc_ws_step s = { .c = c, .port = fake_slack_port(fx->slack), .path = path };
    fc_off_loop(fx, fc_open_job, &s);
}

/* Connects with a fresh ticket and reads hello. */
void fc_ws_online(struct fx *fx, struct wsc *c)
{
    char *path = fc_new_ticket_path(fx);
    fc_ws_connect(fx, c, path);
    free(path);
    ASSERT_CONTAINS(c->status, " 101");
    struct wsc_frame fr = fc_next_frame(fx, c);
    ASSERT_EQ(fr.op, 1);
    cJSON *h = cJSON_Parse(fr.data);
    ASSERT_STR_EQ(fc_jstr(h, "type"), "hello");
    ASSERT_STR_EQ(fc_jstr(h, "debug_info.host"), "applink-fake-1");
    ASSERT_STR_EQ(fc_jstr(h, "connection_info.app_id"), "A0FAKE001");
    ASSERT(cJSON_IsNumber(fc_jget(h, "num_connections")));
    cJSON_Delete(h);
    free(fr.data);
}

bool fc_pred_ws_open_is(struct fx *fx, void *ud)
{
    return fake_slack_ws_open(fx->slack) == *(int *)ud;
}

bool fc_pred_ws_count_is(struct fx *fx, void *ud)
{
    return fake_slack_ws_count(fx->slack) == *(int *)ud;
}

void fc_begin(struct fx *fx)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fx_init(fx);
}

void fc_begin_opts(struct fx *fx, int flags)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fx_init_opts(fx, flags);
}

void fc_end(struct fx *fx)
{
    if (g_wake_on)
        uv_close((uv_handle_t *)&g_wake, NULL);
    g_wake_on = false;
    fx_finish(fx);
    ASSERT_EQ(fake_slack_live_count(), 0);
    ASSERT_EQ(fake_http_live_count(), 0);
    if (g_curl)
        curl_easy_cleanup(g_curl);
    g_curl = NULL;
    curl_global_cleanup();
}
