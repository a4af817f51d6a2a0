/* End-to-end over TLS: the real bot binary against a fake Slack whose
 * Socket Mode URL is wss:// on 127.0.0.1, with a throwaway CA made at run
 * time (tests/harness.h, FX_SLACK_TLS).  The bot sets no CA file of its
 * own: lws falls back to OpenSSL's default verify paths, so the trust store
 * is chosen the way it is in production, by SSL_CERT_FILE / SSL_CERT_DIR or
 * else the system store (/etc/ssl/certs).  These tests prove that the
 * handshake verifies the chain and the name: a trusted CA connects, an
 * unknown CA or a certificate for another name is refused, and the bot
 * keeps retrying instead of dying.
 *
 * libcurl (Debian, OpenSSL backend) is built with a CA bundle path
 * (/etc/ssl/certs/ca-certificates.crt) and never reads SSL_CERT_FILE itself
 * (only the curl command-line tool does), so the bot's HTTP client passes
 * SSL_CERT_FILE / SSL_CERT_DIR on to it; e2e_tls_web_api_honours_ssl_cert_file
 * pins both facts down.  The other tests keep the fake's Web API on plain
 * http and only the websocket on TLS. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "fakes/fake_slack.h"
#include "harness.h"
#include "test.h"

/* Under valgrind a start and a few TLS handshakes take seconds. */
static int slow(int ms)
{
    return getenv("SIRTBOT_WRAPPER") ? ms * 6 : ms;
}

/* Connected over wss, answered a slash command in the ack, clean SIGTERM. */
static void expect_tls_session(struct fx *fx, const char *const *env)
{
    fx_start(fx, env);
    ASSERT_EQ(fake_slack_ws_total(fx->slack), 1);
    ASSERT_EQ(fake_slack_ws_tls_total(fx->slack), 1);
    /* The fake counts the socket online once hello is written; the bot
     * logs it once hello is read. */
    ASSERT(fx_wait_stderr(fx, "\"msg\":\"socket mode online\"", slow(5000)));
    const char *eid = fake_slack_send_slash(fx->slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT_NOT_NULL(eid);
    ASSERT(fx_wait(fx, fx_pred_acked, (void *)eid, slow(5000)));
    ASSERT_CONTAINS(fx_ack_text(fx, eid), "/sirt report");
    ASSERT_CONTAINS(fx_ack_text(fx, eid), "/sirt help");
    ASSERT_EQ(fake_slack_bad_frames(fx->slack), 0);
    ASSERT_EQ(fx_stop(fx, slow(5000)), 0);
    ASSERT(fx_stderr_has(fx, "\"why\":\"SIGTERM\""));
}

/* The handshake is refused: no socket ever reaches the fake, the failure is
 * logged, the bot schedules a reconnect, asks for a fresh URL again, and is
 * still running when told to stop (and then exits 0). */
static void expect_refused(struct fx *fx, const char *const *env, const char *why)
{
    ASSERT_EQ(fx_spawn(fx, env), 0);
    ASSERT(fx_wait_stderr(fx, "socket mode reconnect scheduled", slow(15000)));
    /* A second attempt, with a fresh apps.connections.open: not wedged. */
    ASSERT(fx_wait_calls(fx, "apps.connections.open", 2, slow(15000)));
    ASSERT(fx_wait_stderr(fx, "\"why\":\"socket closed\"", slow(5000)));
    fx_run_for(fx, 300);
    ASSERT(fx->running);
    ASSERT(!fx->exited);
    ASSERT_EQ(fake_slack_ws_total(fx->slack), 0);
    ASSERT_EQ(fake_slack_ws_count(fx->slack), 0);
    ASSERT_EQ(fake_slack_ack_count(fx->slack), 0);
    const char *log = fx_stderr_since_spawn(fx);
    ASSERT_NOT_CONTAINS(log, "\"msg\":\"socket mode online\"");
    ASSERT_CONTAINS(log, "\"msg\":\"websocket connection error: the TLS handshake failed");
    ASSERT_CONTAINS(log, why);
    ASSERT_EQ(fx_stop(fx, slow(5000)), 0);
}

TEST_T(e2e_tls_wss_with_the_ca_in_ssl_cert_file, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_SLACK_TLS);
    ASSERT(str_starts(fx.tls_ca, fx.dir));
    ASSERT_NE(fake_slack_tls_port(fx.slack), 0);
    ASSERT_NE(fake_slack_tls_port(fx.slack), fake_slack_port(fx.slack));
    char *ca = xasprintf("SSL_CERT_FILE=%s", fx.tls_ca);
    const char *env[] = { ca, NULL };
    expect_tls_session(&fx, env);
    /* The token still went to the plain-http Web API fake; the socket URL
     * the bot dialled was the fake's wss:// one. */
    ASSERT_GE(fake_slack_call_count(fx.slack, "apps.connections.open"), 1);
    ASSERT_EQ(fake_slack_ws_refused(fx.slack), 0);
    free(ca);
    fx_finish(&fx);
}

TEST_T(e2e_tls_other_ca_in_ssl_cert_file_is_refused, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_SLACK_TLS);
    char other[400];
    ASSERT_EQ(fx_tls_make_ca(&fx, "other", other, sizeof(other)), 0);
    char *ca = xasprintf("SSL_CERT_FILE=%s", other);
    const char *env[] = { ca, NULL };
    expect_refused(&fx, env, "unable to get local issuer certificate");
    free(ca);
    fx_finish(&fx);
}

TEST_T(e2e_tls_system_store_does_not_know_the_ca, 120)
{
    struct fx fx;
    fx_init_opts(&fx, FX_SLACK_TLS);
    /* The child's environment is clean: no SSL_CERT_FILE / SSL_CERT_DIR, so
     * OpenSSL's defaults (the system store) apply. */
    const char *env[] = { "SSL_CERT_FILE=", "SSL_CERT_DIR=", NULL };
    expect_refused(&fx, env, "unable to get local issuer certificate");
    fx_finish(&fx);
}

TEST_T(e2e_tls_certificate_for_another_name_is_refused, 120)
{
    /* Signed by the CA the bot trusts, but for another host: the name check
     * (ccinfo.host = the URL's host, here the address 127.0.0.1) refuses it. */
    struct fx fx;
    struct fx_tls_opts o = { "DNS:wrong.example,IP:127.0.0.2", "wrong.example", "127.0.0.1" };
    fx_init_tls(&fx, 0, &o);
    char *ca = xasprintf("SSL_CERT_FILE=%s", fx.tls_ca);
    const char *env[] = { ca, NULL };
    expect_refused(&fx, env, "mismatch");
    free(ca);
    fx_finish(&fx);
}

/* True when the bot's lookup (AF_UNSPEC, first answer) of name gives 127.0.0.1. */
static bool resolves_to_loopback_v4(const char *name)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, "443", &hints, &res) != 0 || !res)
        return false;
    bool ok = res->ai_family == AF_INET &&
              ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
    freeaddrinfo(res);
    return ok;
}

TEST_T(e2e_tls_wss_by_host_name, 120)
{
    /* A DNS name in the URL: SNI and the name check use "localhost"; the
     * certificate names only DNS:localhost. */
    if (!resolves_to_loopback_v4("localhost")) {
        fprintf(stderr, "  skipped: localhost does not resolve to 127.0.0.1 first here\n");
        return;
    }
    struct fx fx;
    struct fx_tls_opts o = { "DNS:localhost", "localhost", "localhost" };
    fx_init_tls(&fx, 0, &o);
    char *ca = xasprintf("SSL_CERT_FILE=%s", fx.tls_ca);
    const char *env[] = { ca, NULL };
    expect_tls_session(&fx, env);
    free(ca);
    fx_finish(&fx);
}

/* POST auth.test to the fake's https listener from this process with
 * libcurl, running the test loop (the fake lives on it) while curl works.
 * cainfo NULL leaves libcurl's default trust store.  Returns the CURLcode. */
static CURLcode https_auth_test(struct fx *fx, const char *cainfo, long *status)
{
    char *url = xasprintf("%s/auth.test", fake_slack_tls_api_url(fx->slack));
    CURLM *m = curl_multi_init();
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer xoxb-test-token");
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
    if (cainfo)
        curl_easy_setopt(e, CURLOPT_CAINFO, cainfo);
    curl_multi_add_handle(m, e);
    CURLcode rc = CURLE_OPERATION_TIMEDOUT;
    for (int i = 0; i < 2000; i++) {   /* 2000 x <= 5 ms */
        int running = 0, left = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg = curl_multi_info_read(m, &left);
        if (msg && msg->msg == CURLMSG_DONE) {
            rc = msg->data.result;
            break;
        }
        uv_run(&fx->loop, UV_RUN_NOWAIT);
        curl_multi_poll(m, NULL, 0, 5, NULL);
    }
    *status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_multi_remove_handle(m, e);
    curl_easy_cleanup(e);
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
    if (sink)
        fclose(sink);
    free(url);
    return rc;
}

TEST_T(e2e_tls_web_api_honours_ssl_cert_file, 120)
{
    /* libcurl itself, in this process: the https listener is fine when the
     * CA is handed over with CURLOPT_CAINFO, and SSL_CERT_FILE in the
     * environment changes nothing. */
    struct fx fx;
    fx_init_opts(&fx, FX_SLACK_TLS);
    long status = 0;
    ASSERT_EQ(https_auth_test(&fx, fx.tls_ca, &status), CURLE_OK);
    ASSERT_EQ(status, 200);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "auth.test"), 1);
    ASSERT_EQ(setenv("SSL_CERT_FILE", fx.tls_ca, 1), 0);
    ASSERT_EQ(https_auth_test(&fx, NULL, &status), CURLE_PEER_FAILED_VERIFICATION);
    ASSERT_EQ(fake_slack_call_count(fx.slack, "auth.test"), 1);
    unsetenv("SSL_CERT_FILE");

    /* The bot is not libcurl's default: its HTTP client hands OpenSSL's
     * SSL_CERT_FILE / SSL_CERT_DIR to libcurl, so the Web API trusts what
     * the websocket trusts.  SLACK_API_URL on the https listener, the CA
     * in SSL_CERT_FILE: online over https + wss. */
    char *ca = xasprintf("SSL_CERT_FILE=%s", fx.tls_ca);
    char *api = xasprintf("SLACK_API_URL=%s", fake_slack_tls_api_url(fx.slack));
    ASSERT(str_starts(api, "SLACK_API_URL=https://127.0.0.1:"));
    const char *env[] = { ca, api, NULL };
    expect_tls_session(&fx, env);
    ASSERT_GE(fake_slack_call_count(fx.slack, "apps.connections.open"), 1);
    free(ca);
    free(api);
    fx_finish(&fx);
}
