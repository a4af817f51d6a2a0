/* fake_http_ws: a websocket endpoint on a fake_http's ports, for a fake
 * whose peer upgrades on the same port as its REST calls (fake_slack's
 * Socket Mode).  fake_http keeps the HTTP side; lws hands the websocket
 * reasons (FILTER_PROTOCOL_CONNECTION, ESTABLISHED, RECEIVE, RECEIVE_PONG,
 * SERVER_WRITEABLE, WS_PEER_INITIATED_CLOSE, CLOSED) to fn. */
#ifndef SIRT_FAKE_HTTP_WS_H
#define SIRT_FAKE_HTTP_WS_H

#include <libwebsockets.h>

struct fake_http_ws {
    /* ud: fake_http_opts.ud; pss: the owner's pss_size bytes for this
     * connection (zeroed by lws).  Returns what an lws callback returns. */
    int (*fn)(void *ud, struct lws *wsi, enum lws_callback_reasons reason, void *pss, void *in, size_t len);
    size_t pss_size;
};

#endif
