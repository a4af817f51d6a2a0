/* test_e2e_health: the orchestrator endpoints of SIRT_HTTP on the real bot.
 * /livez stays 200 through a Slack outage (a liveness probe must not restart
 * a bot that only lost Slack); /readyz and /healthz are 503 with the reason
 * while the socket is down and 200 again once the bot has reconnected. */
#include <string.h>

#include "harness.h"
#include "test.h"

TEST(e2e_livez_readyz_through_slack_outage)
{
    struct fx fx;
    fx_init(&fx);
    int port = fx_start_http(&fx, NULL);
    struct buf body;
    buf_init(&body, 1 << 16);

    /* Online: live and ready, on all three paths. */
    ASSERT_EQ(fx_http_get(port, "/livez", &body), 200);
    ASSERT_STR_EQ(body.data, "ok\n");
    ASSERT_EQ(fx_http_get(port, "/readyz", &body), 200);
    ASSERT_STR_EQ(body.data, "ok\n");
    ASSERT_EQ(fx_http_get(port, "/healthz", &body), 200);
    ASSERT_STR_EQ(body.data, "ok\n");

    /* Slack goes away: the socket drops and the next two
     * apps.connections.open calls fail, so the bot stays in backoff for a
     * few seconds (0.5-1 s, then 1-2 s, then 2-4 s). */
    fake_slack_fail(fx.slack, "apps.connections.open", 2, 503, NULL, 0);
    fake_slack_drop(fx.slack);
    ASSERT(fx_wait(&fx, fx_pred_offline, NULL, 5000));
    fx_run_for(&fx, 200);
    long ready = fx_http_get(port, "/readyz", &body);
    ASSERT_EQ(ready, 503);
    ASSERT_CONTAINS(body.data, "slack: ");
    ASSERT_NOT_CONTAINS(body.data, "store");
    ASSERT_EQ(fx_http_get(port, "/healthz", &body), 503);
    ASSERT_EQ(fx_http_get(port, "/livez", &body), 200);
    ASSERT_STR_EQ(body.data, "ok\n");

    /* Through the whole outage (bounded: 20 s), livez never fails; readyz
     * comes back once the bot is online again. */
    int polls = 0, live_fail = 0;
    bool back = false;
    for (; polls < 200 && !back; polls++) {
        fx_run_for(&fx, 100);
        if (fx_http_get(port, "/livez", &body) != 200)
            live_fail++;
        back = fx_http_get(port, "/readyz", &body) == 200;
    }
    ASSERT(back);
    ASSERT_EQ(live_fail, 0);
    ASSERT_STR_EQ(body.data, "ok\n");
    ASSERT_GE(fake_slack_call_count(fx.slack, "apps.connections.open"), 3);
    ASSERT_EQ(fake_slack_ws_count(fx.slack), 1);
    ASSERT_EQ(fx_http_get(port, "/healthz", &body), 200);

    /* Still a working bot after the outage. */
    const char *eid = fake_slack_send_slash(fx.slack, "U0REPORT1", "C0PUBLIC1", "help");
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    buf_finish(&body);
    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    fx_finish(&fx);
}
