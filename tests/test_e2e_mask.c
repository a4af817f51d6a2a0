/* End-to-end masking: a report (and a decision) carrying one secret of each
 * common format goes through the real bot to fake Slack, GitLab and
 * PagerDuty.  No secret body may appear in any request the fakes received,
 * in the bot's log, in the channel name, or anywhere in the SQLite file
 * (every column of every table, read with the sqlite3 API after the bot
 * stopped, and the raw bytes of the file).  The team's mask.extra_patterns
 * from the config are applied too. */
#define _GNU_SOURCE             /* memmem */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_gitlab.h"
#include "fakes/fake_pagerduty.h"
#include "fakes/fake_slack.h"
#include "harness.h"
#include "report_payloads.h"
#include "test.h"

/* Each secret's body: a piece of letters and digits only, so it is found
 * whatever escaping (JSON, form encoding) a request applied around it. */
static const char *const bodies[] = {
    "Q3EGUIL5SNDB7XRT",                         /* AWS access key id */
    "NksnRH9ucAUsdMlHUvTCQCy",                  /* aws_secret_access_key= */
    "Bn4Mc7Df0Gh3Jk6LpQwErTyU",                 /* AWS_SECRET_ACCESS_KEY= */
    "wJalrXUtnFEMI",                            /* AWS secret next to its key id */
    "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d",     /* ghp_ */
    "KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR",     /* gho_ */
    "FAc9QeWJKY40uvSwMFLZDe1f8rESQedUStPK",     /* ghs_ */
    "QoaF1LlqsajAIxNKu8iS2G8NPRVdD53X83RZJ",    /* github_pat_ */
    "Zx9Yw8Vu7Ts6Rq5Po4Nm",                     /* glpat- */
    "RegTok3nAbCdEfGhIjKl",                     /* GR1348941 runner registration */
    "t1RunnerAuthT0ken99xyz",                   /* glrt- */
    "0987654321AbCdEfGhIjKlMn",                 /* xoxb- */
    "UsrT0kenQwErTyUiOpAsDf",                   /* xoxp- */
    "ff00aa11bb22cc33dd44",                     /* xapp- */
    "MjAdTdlzC5T4uUhf7kvmlP7H",                 /* hooks.slack.com */
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo",     /* PEM private key */
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6",     /* JWT payload */
    "XHCabM6JOF8EFd0Nhcy",                      /* JWT signature */
    "Zp0zVZomHFwUbbYrEqmSM9wC",                 /* sk_live_ */
    "Z7Uw9xfogoEmvnEN5N1aE6Pw",                 /* rk_test_ */
    "ZPf1Qh6yYTWmE4lBYOvfZ8UzDzV8fUkk",         /* whsec_ */
    "qdt7s8Stqcbnr3yBdGBLEPH1qhT61qtc4xa",      /* AIza */
    "TroSHjnvIxhvijw4",                         /* Azure AccountKey= */
    "5r1pY4OjE2jBMptUsGr7CmY",                  /* Azure AD client secret */
    "ufUxbvJDCTbyvHNsG9eh6Yo4gfqrc5XlrWi0",     /* npm_ */
    "PlJhx2jIclHkCiHp6bR1IqfEouHgxzNNAL5w",     /* pypi- */
    "zrZSgqbjG3uhkWKFLf6xuI5aHUQ",              /* dckr_pat_ */
    "afq0fjzLczbttOofL9H2WjQ5TY4MyWuUF",        /* SG. */
    "d4072014b3ce107f80e222f828767efc",         /* Twilio SK */
    "7pzNk8cL6j5IXAAjlsHUqJoUD",                /* sk-proj- */
    "gqv81RKMGHZEM9YpvujA",                     /* sk-ant- */
    "PgPassw0rdInUrl",                          /* postgres://user:pass@ */
    "BearerT0kenValue77",                       /* Authorization: Bearer */
    "CookieSess10nValue",                       /* Cookie: */
    "SetCookieSess10n",                         /* Set-Cookie: */
    "XApiKeyValue0042",                         /* X-Api-Key: */
    "Hunter2Passw0rd",                          /* password= */
    "JsonPassw0rdValue",                        /* "password": "..." */
    "YamlT0kenValue",                           /* token: (YAML) */
    "Z6dqmVe5Mvxrv99NcqVTSu7rtaUWM6ZO",         /* high entropy next to "api key" */
    "CurlUserPassw0rd",                         /* curl -u user:pass */
    "Q7W3E9R1T5Y2U8I4O6P0A3S5D7",         /* ACME- (the team's extra pattern) */
    "T1tleGhT0kenAbCdEfGhIjKlMnOpQrSt",         /* in the title: ghp_ */
    "Ti7lePassw0rd",                            /* in the title: password= */
    "L1nkPassw0rd",                             /* in the issue link */
    "Dec1s1onT0kenBody",                        /* in a decision field */
};

#define WHAT                                                                                                   \
    "A CI job printed its environment. AWS: AKIAQ3EGUIL5SNDB7XRT with aws_secret_access_key="                  \
    "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 and AWS_SECRET_ACCESS_KEY=Xk2pW9vLq8Rt5Yz1Bn4Mc7Df0Gh3Jk6LpQwErTyU " \
    "and the pair AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.\n"                               \
    "GitHub ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d gho_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR "                   \
    "ghs_FAc9QeWJKY40uvSwMFLZDe1f8rESQedUStPK github_pat_11Ai0B3JrTAwR4y9ojfljo_"                                \
    "QoaF1LlqsajAIxNKu8iS2G8NPRVdD53X83RZJzzzzgEOzdmenCkhvMdgaKj\n"                                             \
    "GitLab glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm GR1348941RegTok3nAbCdEfGhIjKl glrt-t1RunnerAuthT0ken99xyz\n"             \
    "Slack xoxb-1234567890-0987654321AbCdEfGhIjKlMn xoxp-1234-5678-9012-UsrT0kenQwErTyUiOpAsDf "                  \
    "xapp-1-A0123ABC-456-ff00aa11bb22cc33dd44 https://hooks.slack.com/services/T03OQSG5LO/B050DJZDNB/"          \
    "MjAdTdlzC5T4uUhf7kvmlP7H\n"                                                                                \
    "Stripe sk_live_Zp0zVZomHFwUbbYrEqmSM9wC rk_test_Z7Uw9xfogoEmvnEN5N1aE6Pw whsec_ZPf1Qh6yYTWmE4lBYOvfZ8UzDzV8fUkk\n" \
    "Google AIzaqdt7s8Stqcbnr3yBdGBLEPH1qhT61qtc4xa\n"                                                          \
    "Azure DefaultEndpointsProtocol=https;AccountName=sirt;AccountKey=xswmLCR5nrkejg9TroSHjnvIxhvijw4/"          \
    "MEYKxRmBc48HwuTpEHFTnPmBm4MzsUZzgojOeoHxP7KF4ODx7ULsjw==;EndpointSuffix=core.windows.net and "              \
    "58m8Q~5r1pY4OjE2jBMptUsGr7CmY_uCu3-ZR1zT\n"                                                                \
    "npm_ufUxbvJDCTbyvHNsG9eh6Yo4gfqrc5XlrWi0 pypi-AgEIcHlwaS5vcmc2HZt-PlJhx2jIclHkCiHp6bR1IqfEouHgxzNNAL5wIScGebcy8F5n3 " \
    "dckr_pat_zrZSgqbjG3uhkWKFLf6xuI5aHUQ 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 " \
    "SKd4072014b3ce107f80e222f828767efc\n"                                                                       \
    "OpenAI sk-proj-7pzNk8cL6j5IXAAjlsHUqJoUD-_Ydua_5ZMs1SWOpQaPRYpzbLGViYXjU2JgJngKtFI3OyV2dZT3BlbkFJ648JJnUfd7 " \
    "Anthropic sk-ant-api03-gqv81RKMGHZEM9YpvujA-C5Q52ryFlwRlOEVHzc0X0AWIRh-JUqBlIFXZ53Ncqe28_ajY75FnCttAA\n"    \
    "DB postgres://sirt:PgPassw0rdInUrl@db.internal:5432/sirt; the api key is Z6dqmVe5Mvxrv99NcqVTSu7rtaUWM6ZO; " \
    "vendor key ACME-Q7W3E9R1T5Y2U8I4O6P0A3S5D7."

#define REPRO                                                                                                  \
    "curl -u deploy:CurlUserPassw0rd https://gitlab.example.com/api/v4/projects\n"                               \
    "GET /api/v4/user HTTP/1.1\nAuthorization: Bearer BearerT0kenValue77\nCookie: _gitlab_session=abc; "        \
    "sid=CookieSess10nValue\nX-Api-Key: XApiKeyValue0042\n\nHTTP/1.1 200 OK\n"                                  \
    "Set-Cookie: session=SetCookieSess10n; Path=/; HttpOnly\n"                                                   \
    "config: password=Hunter2Passw0rd&user=bob {\"user\": \"bob\", \"password\": \"JsonPassw0rdValue\"}\n"      \
    "token: YamlT0kenValue\n"                                                                                    \
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n" \
    "-----END RSA PRIVATE KEY-----\n"                                                                            \
    "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgT3BzIiwiaWF0IjoxNzE2MjM5MDIyfQ" \
    ".XHCabM6JOF8EFd0Nhcy-1kGD2VD-eR1UYzaLiA-zNyD"

static const struct report_fields leaky = {
    .title = "CI logs leaked ghp_T1tleGhT0kenAbCdEfGhIjKlMnOpQrSt and password=Ti7lePassw0rd",
    .what = WHAT,
    .severity = "1",
    .priority = "1",
    .component = "gitaly",
    .repro = REPRO,
    .link = "https://ci:L1nkPassw0rd@gitlab.example.com/gitlab-org/gitaly/-/issues/7",
};

static void check_text(const char *where, const char *what, const char *text)
{
    if (!text)
        return;
    for (size_t k = 0; k < ARRAY_LEN(bodies); k++)
        if (strstr(text, bodies[k]))
            TEST_FAIL("secret body %s found in %s (%s)", bodies[k], where, what);
}

static bool pred_settled(struct fx *fx, void *ud)
{
    (void)ud;
    bool pinned = false;
    for (size_t i = 0; i < fake_slack_call_count(fx->slack, "pins.add"); i++)
        pinned |= fake_slack_call(fx->slack, "pins.add", i)->status == 200;
    return pinned && fake_slack_channel_count(fx->slack) >= 1 && fake_gitlab_issue_count(fx->gitlab) >= 1
           && fake_pagerduty_event_count(fx->pd) >= 1 && fake_gitlab_note_count(fx->gitlab) >= 1
           && fake_slack_call_count(fx->slack, "conversations.open") >= 3;
}

static bool pred_decision_posted(struct fx *fx, void *ud)
{
    (void)ud;
    return fake_gitlab_note_count(fx->gitlab) >= 2;
}

static void check_requests(struct fx *fx)
{
    size_t n = fake_slack_call_count(fx->slack, NULL);
    ASSERT_GE(n, 10);
    for (size_t i = 0; i < n; i++) {
        const struct fake_call *c = fake_slack_call(fx->slack, NULL, i);
        check_text("a request to fake Slack", c->method, c->body);
    }
    size_t g = fake_gitlab_call_count(fx->gitlab, NULL);
    ASSERT_GE(g, 3);
    for (size_t i = 0; i < g; i++) {
        const struct fake_http_request *r = fake_gitlab_call(fx->gitlab, NULL, i);
        check_text("a request to fake GitLab", r->path, r->body);
        check_text("a request path to fake GitLab", r->path, r->path);
        check_text("a request query to fake GitLab", r->path, r->query);
    }
    struct fake_http *ph = fake_pagerduty_http(fx->pd);
    size_t np = fake_http_count(ph, NULL);
    ASSERT_GE(np, 1);
    for (size_t i = 0; i < np; i++) {
        const struct fake_http_request *r = fake_http_request(ph, NULL, i);
        check_text("a request to fake PagerDuty", r->path, r->body);
        check_text("a request query to fake PagerDuty", r->path, r->query);
    }
    check_text("the bot's log", "stderr", fx->stderr_buf.data);
}

/* Every column of every table, through the sqlite3 API. */
static void check_database(const char *path)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *tables = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &tables, NULL),
              SQLITE_OK);
    size_t n_tables = 0, n_values = 0;
    bool saw_title = false, saw_decision = false;
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(tables, 0);
        char sql[200];
        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", t);
        sqlite3_stmt *st = NULL;
        ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                if (sqlite3_column_type(st, c) != SQLITE_TEXT && sqlite3_column_type(st, c) != SQLITE_BLOB)
                    continue;
                int len = sqlite3_column_bytes(st, c);
                const char *v = sqlite3_column_blob(st, c);
                char *s = xstrndup(v ? v : "", (size_t)len);
                check_text(t, sqlite3_column_name(st, c), s);
                saw_title |= strstr(s, "CI logs leaked ghp_[MASKED]") != NULL;
                saw_decision |= strcmp(t, "decisions") == 0 && strstr(s, "Rotate ") != NULL;
                n_values++;
                free(s);
            }
        sqlite3_finalize(st);
        n_tables++;
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    ASSERT_GE(n_tables, 5);
    ASSERT_GE(n_values, 20);
    ASSERT(saw_title);          /* the masked text is what is stored */
    ASSERT(saw_decision);
}

/* The raw bytes of the file too (deleted rows, e.g. the inbox, are zeroed
 * by secure_delete). */
static void check_file_bytes(const char *path)
{
    struct buf b;
    if (!fx_read_file(path, &b)) {
        buf_finish(&b);
        return;                 /* no -wal left after a clean stop */
    }
    for (size_t k = 0; k < ARRAY_LEN(bodies); k++)
        if (b.len && memmem(b.data, b.len, bodies[k], strlen(bodies[k])))
            TEST_FAIL("secret body %s found in the bytes of %s", bodies[k], path);
    buf_finish(&b);
}

static cJSON *decision_payload(void)
{
    struct view_submission v = { .user = "U0SIRT001", .view_id = "V0MASKDEC1", .metadata = "{\"incident\":1}",
                                 .trigger_id = "1337.44.view", .app = true };
    struct decision_answers a = { "Revoke token glpat-Dec1s1onT0kenBody and disable job logs",
                                  "Rotate everything; password: Dec1s1onT0kenBody", "Stops new leaks",
                                  "All CI users", "Logs unavailable", "Medium", "Support tickets" };
    return decision_submission_payload(&v, &a);
}

TEST_T(e2e_mask_every_format_everywhere, 90)
{
    struct fx fx;
    fx_init_opts(&fx, FX_PAGERDUTY | FX_GITLAB);
    cJSON *cfg = cJSON_Parse(fx_default_config);
    cJSON *mask = cJSON_AddObjectToObject(cfg, "mask");
    cJSON *pats = cJSON_AddArrayToObject(mask, "extra_patterns");
    cJSON_AddItemToArray(pats, cJSON_CreateString("ACME-(?<s>[A-Z0-9]{24,})"));
    char *cfg_text = cJSON_Print(cfg);
    fx_write_config(&fx, cfg_text);
    cJSON_free(cfg_text);
    cJSON_Delete(cfg);
    fx_set_clock(&fx, 1795600800000LL);     /* Wednesday 10:00 UTC */
    fx_start(&fx, NULL);

    cJSON *p = report_submission_payload("V0MASKALL1", "U0REPORT1", &leaky);
    const char *eid = fake_slack_send_interactive(fx.slack, p);
    cJSON_Delete(p);
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    ASSERT(fx_wait(&fx, pred_settled, NULL, 30000));

    cJSON *d = decision_payload();
    eid = fake_slack_send_interactive(fx.slack, d);
    cJSON_Delete(d);
    ASSERT(fx_wait(&fx, fx_pred_acked, (void *)eid, 5000));
    ASSERT(fx_wait(&fx, pred_decision_posted, NULL, 15000));
    fx_run_for(&fx, 300);

    /* The channel name: from the masked title, masked words dropped. */
    const struct fake_channel *ch = fake_slack_channel(fx.slack, 0);
    ASSERT_STR_EQ(ch->name, "sirt-1-ci-logs-leaked-and");
    /* The summary still says what happened, with the secrets masked. */
    bool summary = false;
    for (size_t i = 0; i < fake_slack_call_count(fx.slack, "chat.postMessage"); i++) {
        const char *b = fake_slack_call(fx.slack, "chat.postMessage", i)->body;
        summary |= b && strstr(b, "GitHub ghp_[MASKED] gho_[MASKED]") != NULL;
    }
    ASSERT(summary);
    ASSERT(fake_pagerduty_event_count(fx.pd) >= 1);

    ASSERT_EQ(fx_stop(&fx, 5000), 0);
    check_requests(&fx);
    char path[400];
    snprintf(path, sizeof(path), "%s/sirt.db", fx.dir);
    check_database(path);
    check_file_bytes(path);
    snprintf(path, sizeof(path), "%s/sirt.db-wal", fx.dir);
    check_file_bytes(path);
    fx_finish(&fx);
}
