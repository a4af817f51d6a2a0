/* test_mask: the PCRE2 rules table (bot/mask.c).  Every secret family is
 * masked with its prefix kept and the text around it intact (one test per
 * format family, realistic fake secrets), several secrets in one text, PEM
 * blocks, headers, key/value pairs (JSON, YAML), high-entropy strings next
 * to secret words, no false positives on prose, Slack ids, URLs and SHAs,
 * idempotence, mask_count, linear time on adversarial input, random mixes,
 * mask.extra_patterns (runtime swap, errors, config key, match limit),
 * threads masking while the extra rules are swapped, and channel names. */
#include <pthread.h>

#include "../bot/clock.h"
#include "../bot/config.h"
#include "../bot/mask.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"
#include "test.h"

/* mask_secrets(in) must equal want, and mask_count(in) must be n. */
static void check(const char *in, const char *want, size_t n)
{
    char *got = mask_secrets(in);
    if (!got || strcmp(got, want) != 0)
        TEST_FAIL("mask(\"%s\")\n    got  \"%s\"\n    want \"%s\"", in, got ? got : "(null)", want);
    if (mask_count(in) != n)
        TEST_FAIL("mask_count(\"%s\") = %zu, want %zu", in, mask_count(in), n);
    /* Masking is idempotent and finds nothing new in its own output. */
    char *again = mask_secrets(got);
    ASSERT_STR_EQ(again, got);
    ASSERT_EQ(mask_count(got), 0);
    free(again);
    free(got);
}

static void unchanged(const char *in)
{
    check(in, in, 0);
}

TEST(mask_null_and_empty)
{
    ASSERT_NULL(mask_secrets(NULL));
    ASSERT_EQ(mask_count(NULL), 0);
    unchanged("");
}

TEST(mask_gitlab_tokens)
{
    static const char *const prefixes[] = {
        "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-", "glsoat-", "glffct-",
        "glimt-", "glagent-", "GR1348941",
    };
    for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
        char in[256], want[256];
        snprintf(in, sizeof(in), "use %sAbCdEfGhIjKlMnOp_q-rst to clone", prefixes[i]);
        snprintf(want, sizeof(want), "use %s[MASKED] to clone", prefixes[i]);
        check(in, want, 1);
    }
    /* Routable tokens with dots; a sentence-ending dot stays. */
    check("token glpat-abcdefgh1234.01.0z1x2y3w4. Next", "token glpat-[MASKED]. Next", 1);
    check("(glpat-xxxxxxxxxxxxxxxxxxxx)", "(glpat-[MASKED])", 1);
    check("https://oauth2:glpat-ABCDEFGHIJ0123456789@gitlab.com/x.git",
          "https://oauth2:glpat-[MASKED]@gitlab.com/x.git", 1);
}

TEST(mask_slack_tokens)
{
    static const char *const prefixes[] = {
        "xoxb-", "xoxa-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xapp-",
    };
    for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
        char in[256], want[256];
        snprintf(in, sizeof(in), "%s1234567890-0987654321-AbCdEfGhIjKl", prefixes[i]);
        snprintf(want, sizeof(want), "%s[MASKED]", prefixes[i]);
        check(in, want, 1);
    }
    check("SLACK_APP_TOKEN=xapp-1-A0123-456-abcdef", "SLACK_APP_TOKEN=xapp-[MASKED]", 1);
}

TEST(mask_aws_keys)
{
    check("key AKIAIOSFODNN7EXAMPLE here", "key AKIA[MASKED] here", 1);
    check("ASIAY34FZKBOKMUTVV7A", "ASIA[MASKED]", 1);
    check("AGPA0123456789ABCDEF,AIDA0123456789ABCDEF;AROA0123456789ABCDEF",
          "AGPA[MASKED],AIDA[MASKED];AROA[MASKED]", 3);
    check("A3T00123456789ABCDEF", "A3T0[MASKED]", 1);
    /* wrong length or embedded in a longer word: not a key id */
    unchanged("AKIAIOSFODNN7EXAMPL");
    unchanged("AKIAIOSFODNN7EXAMPLEX");
    unchanged("XAKIAIOSFODNN7EXAMPLE");
    unchanged("AKIAiosfodnn7example");
    unchanged("AKIA is the prefix of AWS access keys");
}

TEST(mask_pem_blocks)
{
    check("before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef==\n"
          "-----END RSA PRIVATE KEY-----\nafter",
          "before\n-----BEGIN RSA PRIVATE KEY-----\n[MASKED]\n-----END RSA PRIVATE KEY-----\nafter", 1);
    check("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----",
          "-----BEGIN PRIVATE KEY-----\n[MASKED]\n-----END PRIVATE KEY-----", 1);
    check("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
          "-----BEGIN OPENSSH PRIVATE KEY-----\n[MASKED]\n-----END OPENSSH PRIVATE KEY-----", 1);
    check("-----BEGIN EC PRIVATE KEY----- MHcCAQEE -----END EC PRIVATE KEY----- tail",
          "-----BEGIN EC PRIVATE KEY-----\n[MASKED]\n-----END EC PRIVATE KEY----- tail", 1);
    /* END missing (pasted half): everything after BEGIN is masked */
    check("oops -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq\nglpat-notcounted12345",
          "oops -----BEGIN ENCRYPTED PRIVATE KEY-----\n[MASKED]\n", 1);
    /* Certificates and public keys are not secret */
    unchanged("-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----");
    unchanged("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----");
    /* two blocks */
    check("-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n"
          "-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----",
          "-----BEGIN PRIVATE KEY-----\n[MASKED]\n-----END PRIVATE KEY-----\n"
          "-----BEGIN PRIVATE KEY-----\n[MASKED]\n-----END PRIVATE KEY-----", 2);
}

TEST(mask_headers)
{
    check("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc",
          "Authorization: Bearer [MASKED]", 1);
    check("authorization: basic dXNlcjpwYXNz\r\nHost: x",
          "authorization: basic [MASKED]\r\nHost: x", 1);
    check("curl -H 'Authorization: Token token=abc123' https://x",
          "curl -H 'Authorization: Token [MASKED]' https://x", 1);
    /* one-word schemes mask one word: the rest of a pasted command stays */
    check("curl -H Authorization: Bearer abc.def https://gitlab.com/api/v4/user",
          "curl -H Authorization: Bearer [MASKED] https://gitlab.com/api/v4/user", 1);
    /* other schemes: to the end of the line */
    check("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830, Signature=5d67\nnext",
          "Authorization: AWS4-HMAC-SHA256 [MASKED]\nnext", 1);
    check("Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnaga", "Authorization: Negotiate [MASKED]", 1);
    /* a token where the scheme would be is never kept visible */
    check("Authorization: glpat-abcdefghijklmnopqrst extra words", "Authorization: glpat-[MASKED]", 1);
    check("Authorization: sk_live_abcdef; more", "Authorization: [MASKED]", 1);
    check("Authorization: 9f86d081884c7d659a2feaa0c55ad015 from the vault",
          "Authorization: [MASKED]", 1);
    check("Authorization: f86d081884c7d659a2feaa0c55ad015 x", "Authorization: [MASKED]", 1);
    check("Authorization: Digest username=\"bob\"", "Authorization: Digest [MASKED]\"bob\"", 1);
    check("Authorization: sk_live_abcdef", "Authorization: [MASKED]", 1);
    check("Authorization:Bearer abc", "Authorization:Bearer [MASKED]", 1);
    check("{\"Authorization\": \"Bearer abcdef123\"}", "{\"Authorization\": \"Bearer [MASKED]\"}", 1);
    check("Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: Basic [MASKED]", 1);
    check("PRIVATE-TOKEN: abcdef12345 and more", "PRIVATE-TOKEN: [MASKED] and more", 1);
    check("curl --header \"PRIVATE-TOKEN: <your_access_token>\" https://gitlab.example.com/api/v4/projects",
          "curl --header \"PRIVATE-TOKEN: [MASKED]\" https://gitlab.example.com/api/v4/projects", 1);
    check("private-token: glpat-abcdefghijklmnop", "private-token: glpat-[MASKED]", 1);
    check("Authorization: Bearer xoxb-1234567890-abcdefgh", "Authorization: Bearer xoxb-[MASKED]", 1);
    /* no credential: nothing to mask */
    unchanged("Authorization: Bearer");
    unchanged("Authorization:");
    unchanged("The Authorization header carries the token.");
    unchanged("Authorizations: none");
}

TEST(mask_pairs)
{
    check("password=hunter2", "password=[MASKED]", 1);
    check("PASSWORD=hunter2&user=bob", "PASSWORD=[MASKED]&user=bob", 1);
    check("db_password: s3cr3t, host: db", "db_password: [MASKED], host: db", 1);
    check("{\"token\":\"abc.def\",\"n\":1}", "{\"token\":\"[MASKED]\",\"n\":1}", 1);
    check("{\"client_secret\": \"xyz\"}", "{\"client_secret\": \"[MASKED]\"}", 1);
    check("?access_token=abc&api_key=def&apikey=ghi",
          "?access_token=[MASKED]&api_key=[MASKED]&apikey=[MASKED]", 3);
    check("passwd = letmein pwd=x secret:'q'", "passwd = [MASKED] pwd=[MASKED] secret:'[MASKED]'", 3);
    /* a known token as the value keeps its own prefix */
    check("private_token=glpat-abcdefghijklmnop", "private_token=glpat-[MASKED]", 1);
    check("token=xoxb-1234567890-abcdefghij", "token=xoxb-[MASKED]", 1);
    check("secret=AKIAIOSFODNN7EXAMPLE", "secret=AKIA[MASKED]", 1);
    check("export GITLAB_TOKEN=abc", "export GITLAB_TOKEN=[MASKED]", 1);
    /* empty values and non-keys */
    unchanged("password=");
    unchanged("password= ");
    unchanged("{\"password\": \"\"}");
    unchanged("tokenizer=bpe");
    unchanged("password_hint=dog");
    unchanged("mytoken=abc");
    unchanged("token");
}

TEST(mask_url_passwords)
{
    check("SIRT_DB=postgres://sirt:hunter2@db.internal:5432/sirt",
          "SIRT_DB=postgres://sirt:[MASKED]@db.internal:5432/sirt", 1);
    check("git clone https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.com/g/p.git",
          "git clone https://oauth2:glpat-[MASKED]@gitlab.com/g/p.git", 1);
    unchanged("https://gitlab.com:443/g/p and mailto://bob@example.com");
    unchanged("https://user:@host/");
    unchanged("see https://example.com/a:b@c");
}

TEST(mask_multiple_in_one_text)
{
    const char *in =
        "Repro: curl -H \"PRIVATE-TOKEN: glpat-AAAAAAAAAAAAAAAAAAAA\" https://gitlab/api\n"
        "slack bot xoxb-111-222-abcdefghij and app xapp-1-A1-2-ff00ff00ff\n"
        "aws AKIAIOSFODNN7EXAMPLE / password=hunter2\n";
    const char *want =
        "Repro: curl -H \"PRIVATE-TOKEN: glpat-[MASKED]\" https://gitlab/api\n"
        "slack bot xoxb-[MASKED] and app xapp-[MASKED]\n"
        "aws AKIA[MASKED] / password=[MASKED]\n";
    check(in, want, 5);
    ASSERT_EQ(mask_count(in), 5);
}

TEST(mask_no_false_positives)
{
    unchanged("The tokenizer splits words; xoxo to everyone! glpat is GitLab's prefix.");
    unchanged("glpat- with a short body glpat-abc and xoxb-1234567");
    unchanged("Use a personal access token (glpat-...) with api scope.");
    unchanged("The secret sauce is love. Passwords must be long. Secrets: none known.");
    unchanged("Our token bucket refills at 5/s; the AWS key starts with AKIA.");
    unchanged("GR1348941 is the runner prefix");
    unchanged("aglpat-abcdefghijklmnop is not a token boundary");
    unchanged("café ünïcödé — 日本語 text with emoji 🎉 stays intact");
    unchanged("-----BEGIN nothing-----");
    unchanged("-----BEGIN PRIVATE KEY"); /* no closing dashes */
}

TEST(mask_count_matches)
{
    ASSERT_EQ(mask_count("nothing here"), 0);
    ASSERT_EQ(mask_count("glpat-aaaaaaaaaaaa glpat-bbbbbbbbbbbb glpat-cccccccccccc"), 3);
    ASSERT_EQ(mask_count("password=a secret=b token=c"), 3);
    ASSERT_EQ(mask_count("password=[MASKED]"), 0);
}

TEST_T(mask_linear_time, 120)
{
    /* Adversarial inputs that would make a naive scanner quadratic: 1 MiB
     * would take minutes at O(n^2); linear is milliseconds (seconds under
     * valgrind). */
    size_t n = 1024 * 1024;
    char *s = xmalloc(n + 1);
    static const char *const fills[] = {
        "glpat-a", "-----BEGIN ", "Authorization:    ", "password", "AKIA", "-", ".",
        "xoxb-1.", "-----BEGIN PRIVATE KEY-----", "://a:", "Authorization: x ",
        "token=", "-----BEGIN PRIVATE KEY-----\n[MASKED]\n", "Authorization: x [MASKED]",
        "password=[MASKED] ", "-----BEGIN PRIVATE KEY-----\n[MASKED]\n-----END PRIVATE KEY-----",
        "Authorization: Bearer [MASKED] ", "Authorization:", "Authorization:    ",
        "PRIVATE-TOKEN: ", "token: Authorization: ", "https://a:b", "Authorization: Bearer",
    };
    for (size_t f = 0; f < ARRAY_LEN(fills); f++) {
        size_t fl = strlen(fills[f]);
        for (size_t i = 0; i < n; i++)
            s[i] = fills[f][i % fl];
        s[n] = '\0';
        uint64_t t0 = clock_mono_ms();
        char *m = mask_secrets(s);
        size_t c = mask_count(s);
        uint64_t dt = clock_mono_ms() - t0;
        free(m);
        (void)c;
        if (dt > 5000)
            TEST_FAIL("fill \"%s\": %llu ms for 1 MiB", fills[f], (unsigned long long)dt);
    }
    free(s);
}

TEST(mask_random_mixes_never_leak)
{
    /* Random concatenations of secrets and the syntax around them (header
     * names, separators, PEM armour, quotes, bad UTF-8): whatever the mix,
     * no planted secret body ("SECRET...") survives. */
    static const char *const frag[] = {
        "glpat-", "xoxb-", "AKIA", "ABCDEFGH12345678", "Authorization:", " ", "\n", "Bearer ",
        "password", "=", ":", "\"", "'", "-----BEGIN ", "PRIVATE KEY", "-----", "-----END ",
        "[MASKED]", "://", "@", "a", "1", ".", "-", "_", "token", "PRIVATE-TOKEN", ",", "&",
        "\xc3\xa9", "\xff",
        " glpat-SECRETSECRETSECRET ", " xoxb-SECRET-SECRET ", " AKIASECRETSECRETSECR ",
        "-----BEGIN RSA PRIVATE KEY-----\nSECRETKEY\n", " password=SECRETPW ",
        "\nAuthorization: Bearer SECRETBEARER\n", " PRIVATE-TOKEN: SECRETPT ",
        " https://u:SECRETURL@h ",
    };
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char text[2048];
    for (int it = 0; it < 50000; it++) {
        size_t n = 0;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int parts = (int)((rng >> 33) % 60);
        for (int k = 0; k < parts; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            const char *f = frag[(rng >> 33) % ARRAY_LEN(frag)];
            size_t l = strlen(f);
            if (n + l >= sizeof(text))
                break;
            memcpy(text + n, f, l);
            n += l;
        }
        text[n] = '\0';
        char *m = mask_secrets(text);
        if (strstr(m, "SECRET"))
            TEST_FAIL("secret survived:\n[%s]\n->\n[%s]", text, m);
        if (mask_count(text) == 0)
            ASSERT_STR_EQ(m, text);
        free(m);
    }
}

/* ---- one test per format family (fake but realistic secrets) ---- */

/* The secret body must be gone, `keep` (surrounding text) must stay. */
static void gone(const char *in, const char *body, const char *keep)
{
    char *m = mask_secrets(in);
    ASSERT_NOT_CONTAINS(m, body);
    if (keep)
        ASSERT_CONTAINS(m, keep);
    ASSERT(mask_count(in) >= 1);
    char *again = mask_secrets(m);
    ASSERT_STR_EQ(again, m);
    free(again);
    free(m);
}

TEST(mask_fmt_aws_secret_key)
{
    check("aws_secret_access_key = mUdjAWtGSU8po/799NksnRH9ucAUsdMlHUvTCQCy\nregion = eu-west-1",
          "aws_secret_access_key = [MASKED]\nregion = eu-west-1", 1);
    check("export AWS_SECRET_ACCESS_KEY=mUdjAWtGSU8po/799NksnRH9ucAUsdMlHUvTCQCy",
          "export AWS_SECRET_ACCESS_KEY=[MASKED]", 1);
    check("{\"SecretAccessKey\": \"mUdjAWtGSU8po/799NksnRH9ucAUsdMlHUvTCQCy\"}",
          "{\"SecretAccessKey\": \"[MASKED]\"}", 1);
    /* next to its key id, no name around it (CSV export, pasted pair) */
    check("AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
          "AKIA[MASKED],[MASKED]", 2);
    check("id AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok",
          "id AKIA[MASKED] secret [MASKED] ok", 2);
}

TEST(mask_fmt_github)
{
    check("GH_TOKEN=ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d", "GH_TOKEN=ghp_[MASKED]", 1);
    check("oauth gho_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR done", "oauth gho_[MASKED] done", 1);
    check("ghu_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7 ghs_FAc9QeWJKY40uvSwMFLZDe1f8rESQedUStPK "
          "ghr_R0CsTy4Qwb8DwkNhFdnXsiVpzz63FfkCzJr4",
          "ghu_[MASKED] ghs_[MASKED] ghr_[MASKED]", 3);
    check("pat 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.",
          "pat github_pat_[MASKED].", 1);
    unchanged("see ghp_ in the GitHub docs; github_pat_ is the fine-grained prefix");
}

TEST(mask_fmt_gitlab_more)
{
    check("glwt-abcdEFGH1234ijklMNOP and glft-Zz9Yy8Xx7Ww6Vv5Uu4Tt", "glwt-[MASKED] and glft-[MASKED]", 2);
    check("ACME-glpat-SeCrEt0123456789abcd (instance prefix)", "ACME-glpat-[MASKED] (instance prefix)", 1);
    check("glrtr-t1_AbCdEfGhIjKlMnOpQrStU", "glrtr-[MASKED]", 1);
    check("Cookie-less: _gitlab_session=2073fec8df4f50947aaeb26c57d21fa5",
          "Cookie-less: _gitlab_session=[MASKED]", 1);
}

TEST(mask_fmt_slack_more)
{
    check("xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MA", "xoxe.xoxp-[MASKED]", 1);
    check("refresh xoxe-1-My0xLTEyMzQ1Njc4OTAtMTIzNDU2", "refresh xoxe-[MASKED]", 1);
    check("hook https://hooks.slack.com/services/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 now",
          "hook https://hooks.slack.com/services/[MASKED] now", 1);
    check("https://hooks.slack.com/workflows/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",
          "https://hooks.slack.com/workflows/[MASKED]", 1);
    unchanged("post to https://hooks.slack.com/services/ when configured");
}

TEST(mask_fmt_pem_all_labels)
{
    static const char *const labels[] = { "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "PRIVATE KEY",
                                          "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK" };
    for (size_t i = 0; i < ARRAY_LEN(labels); i++) {
        char in[512], want[512];
        snprintf(in, sizeof(in), "key:\n-----BEGIN %s-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
                                 "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
                                 "-----END %s-----\nthanks", labels[i], labels[i]);
        snprintf(want, sizeof(want), "key:\n-----BEGIN %s-----\n[MASKED]\n-----END %s-----\nthanks",
                 labels[i], labels[i]);
        check(in, want, 1);
    }
}

TEST(mask_fmt_jwt)
{
    check("session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgT3BzIiwiaWF0IjoxNzE2MjM5MDIyfQ"
          ".XHCabM6JOF8EFd0Nhcy-1kGD2VD-eR1UYzaLiA-zNyD in the log",
          "session eyJ[MASKED] in the log", 1);
    /* alg:none, empty signature */
    gone("jwt=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0. ok",
         "eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0", " ok");
    unchanged("eyJ is how base64 of a JSON object starts");
}

TEST(mask_fmt_stripe)
{
    check("STRIPE_KEY sk_live_Zp0zVZomHFwUbbYrEqmSM9wC", "STRIPE_KEY sk_live_[MASKED]", 1);
    check("sk_test_Zp0zVZomHFwUbbYrEqmSM9wC rk_live_Z7Uw9xfogoEmvnEN5N1aE6Pw rk_test_Z7Uw9xfogoEmvnEN5N1aE6Pw",
          "sk_test_[MASKED] rk_live_[MASKED] rk_test_[MASKED]", 3);
    check("webhook secret is whsec_ZPf1Qh6yYTWmE4lBYOvfZ8UzDzV8fUkk.", "webhook secret is whsec_[MASKED].", 1);
    /* publishable keys are meant to be public */
    unchanged("pk_live_Zp0zVZomHFwUbbYrEqmSM9wC");
}

TEST(mask_fmt_google)
{
    check("https://maps.googleapis.com/maps/api/geocode/json?key=AIzaqdt7s8Stqcbnr3yBdGBLEPH1qhT61qtc4xa",
          "https://maps.googleapis.com/maps/api/geocode/json?key=AIza[MASKED]", 1);
    check("client_id=1.apps.googleusercontent.com GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz12",
          "client_id=1.apps.googleusercontent.com GOCSPX-[MASKED]", 1);
    check("Bearer? no: ya29.a0AfH6SMBx3Kd9sLqp0Zr7Tn2Vw8YuHg", "Bearer? no: ya29.[MASKED]", 1);
}

TEST(mask_fmt_azure)
{
    check("DefaultEndpointsProtocol=https;AccountName=sirtstore;AccountKey=xswmLCR5nrkejg9TroSHjnvIxhvijw4/"
          "MEYKxRmBc48HwuTpEHFTnPmBm4MzsUZzgojOeoHxP7KF4ODx7ULsjw==;EndpointSuffix=core.windows.net",
          "DefaultEndpointsProtocol=https;AccountName=sirtstore;AccountKey=[MASKED];EndpointSuffix=core.windows.net", 1);
    check("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=Qm9vbXNoYWthbGFrYTEyMzQ1Njc4OTA=",
          "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=[MASKED]", 1);
    check("https://x.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA%3D%3D",
          "https://x.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig=[MASKED]", 1);
    check("the app's value 58m8Q~5r1pY4OjE2jBMptUsGr7CmY_uCu3-ZR1zT expires in May",
          "the app's value [MASKED] expires in May", 1);
    unchanged("The AccountKey= setting is in the connection string.");
}

TEST(mask_fmt_npm_pypi_docker)
{
    check("//registry.npmjs.org/:_authToken=npm_ufUxbvJDCTbyvHNsG9eh6Yo4gfqrc5XlrWi0",
          "//registry.npmjs.org/:_authToken=npm_[MASKED]", 1);
    check("npm_ufUxbvJDCTbyvHNsG9eh6Yo4gfqrc5XlrWi0", "npm_[MASKED]", 1);
    check("[pypi]\nusername = __token__\nuploader pypi-AgEIcHlwaS5vcmc2HZt-PlJhx2jIclHkCiHp6bR1IqfEouHgxzNNAL5wIScGebcy8F5n3-YNBDR\n",
          "[pypi]\nusername = __token__\nuploader pypi-[MASKED]\n", 1);
    check("docker login -u bob -p dckr_pat_zrZSgqbjG3uhkWKFLf6xuI5aHUQ registry", "docker login -u bob -p dckr_pat_[MASKED] registry", 1);
}

TEST(mask_fmt_sendgrid_twilio)
{
    check("SENDGRID 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 ok",
          "SENDGRID SG.[MASKED] ok", 1);
    check("twilio key SKd4072014b3ce107f80e222f828767efc", "twilio key SK[MASKED]", 1);
    check("ACd4072014b3ce107f80e222f828767efc:e19cbae530282bd36cb9d21f6be6abf0",
          "ACd4072014b3ce107f80e222f828767efc:[MASKED]", 1);
    unchanged("Skip SKIPPED steps");
}

TEST(mask_fmt_openai_anthropic)
{
    check("OPENAI 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", "OPENAI sk-[MASKED]", 1);
    check("sk-proj-7pzNk8cL6j5IXAAjlsHUqJoUD-_Ydua_5ZMs1SWOpQaPRYpzbLGViYXjU2JgJngKtFI3OyV2dZT3BlbkFJ648JJnUfd7UACNWiP3sF",
          "sk-proj-[MASKED]", 1);
    check("sk-svcacct-Ab12Cd34Ef56Gh78Ij90KlMnOpQr sk-admin-Ab12Cd34Ef56Gh78Ij90KlMnOpQr",
          "sk-svcacct-[MASKED] sk-admin-[MASKED]", 2);
    check("ANTHROPIC_API_KEY=sk-ant-api03-gqv81RKMGHZEM9YpvujA-C5Q52ryFlwRlOEVHzc0X0AWIRh-JUqBlIFXZ53Ncqe28_ajY75FnCttn6kfaqDeMqG3omjMyAA",
          "ANTHROPIC_API_KEY=sk-ant-[MASKED]", 1);
    unchanged("we use sk-learn-style pipelines and task-management-systems");
}

TEST(mask_fmt_url_credentials_more)
{
    check("redis://:p4ssw0rd@cache:6379/0", "redis://:[MASKED]@cache:6379/0", 1);
    check("amqp://sirt:Sup3r:S3cret@rabbit.internal/", "amqp://sirt:[MASKED]@rabbit.internal/", 1);
    check("curl -u admin:Sup3rS3cret https://x", "curl -u admin:[MASKED] https://x", 1);
    unchanged("https://gitlab.com/group/project/-/issues/42?user=bob&page=2#note_1");
}

TEST(mask_fmt_cookie_and_api_key_headers)
{
    check("Cookie: _gitlab_session=2073fec8df4f50947aaeb26c57d21fa5; known_sign_in=abc\nAccept: */*",
          "Cookie: [MASKED]\nAccept: */*", 1);
    check("< Set-Cookie: session=abc123def; Path=/; HttpOnly; Secure\n< Vary: Origin",
          "< Set-Cookie: [MASKED]\n< Vary: Origin", 1);
    check("curl -H 'X-Api-Key: 9f86d081884c7d659a2feaa0c55ad015' https://api", "curl -H 'X-Api-Key: [MASKED]' https://api", 1);
    check("x-api-key: Zm9vYmFy\r\nX-Auth-Token: abc.def\r\nX-Vault-Token: hvs.CAESIJ",
          "x-api-key: [MASKED]\r\nX-Auth-Token: [MASKED]\r\nX-Vault-Token: [MASKED]", 3);
    check("{\"Cookie\": \"sid=s3cr3t\"}", "{\"Cookie\": \"[MASKED]\"}", 1);
    unchanged("The Cookie header was missing; cookies are disabled.");
}

TEST(mask_fmt_pairs_json_yaml)
{
    check("{\"user\": \"bob\", \"password\": \"correct horse battery staple\"}",
          "{\"user\": \"bob\", \"password\": \"[MASKED]\"}", 1);
    check("database:\n  host: db\n  password: 'p@ss w0rd'\n  api_key: abc123\n",
          "database:\n  host: db\n  password: '[MASKED]'\n  api_key: [MASKED]\n", 2);
    check("client_secret => \"s3cr3t\"", "client_secret => \"[MASKED]\"", 1);
    check("{\"token\": \"a\\\"b\"}", "{\"token\": \"[MASKED]\"}", 1);
    check("PASSPHRASE=letmein REFRESH_TOKEN=r1", "PASSPHRASE=[MASKED] REFRESH_TOKEN=[MASKED]", 2);
    unchanged("max_tokens=4096 and tokens: 12");
}

TEST(mask_fmt_high_entropy_near_words)
{
    check("the api key is Z6dqmVe5Mvxrv99NcqVTSu7rtaUWM6ZO, rotate it", "the api key is [MASKED], rotate it", 1);
    check("Secret for staging e19cbae530282bd36cb9d21f6be6abf0d7c1c1e2 (old)", "Secret for staging [MASKED] (old)", 1);
    /* one candidate per secret word; masking again finds nothing new (the
     * window after the word does not reach across a marker) */
    check("the api key is Z6dqmVe5Mvxrv99NcqVTSu7rtaUWM6ZO; vendor key ACME-Q7W3E9R1T5Y2U8I4O6P0A3S5D7.",
          "the api key is [MASKED]; vendor key ACME-Q7W3E9R1T5Y2U8I4O6P0A3S5D7.", 1);
    /* long but not random, or not near such a word */
    unchanged("the token is configuration_management_system_default");
    unchanged("commit e19cbae530282bd36cb9d21f6be6abf0d7c1c1e2 broke the build");
}

TEST(mask_negatives_ids_urls_shas)
{
    unchanged("Ask U0SIRT001 or U0APPSEC1 in C0123ABCD or C0123 about SIRT-12 and SIRT-7.");
    unchanged("See https://gitlab.example.com/group/project/-/merge_requests/1234 and https://example.com/a?b=c");
    unchanged("Reverted 9fceb02d0ae598e95dc970b74767f19372d61af8 because it broke ssh; "
              "see 3f2a9c1d in main.");
    unchanged("request 123e4567-e89b-12d3-a456-426614174000 failed at 2026-11-28T10:15:02Z");
    unchanged("The password reset flow sends a token by mail; secrets live in Vault.");
    unchanged("GET /api/v4/projects/42/repository/files/README.md?ref=main HTTP/1.1");
}

/* ---- rule table, extra patterns, config, threads ---- */

TEST(mask_rule_table)
{
    ASSERT_GE(mask_rule_count(), 30);
    for (size_t i = 0; i < mask_rule_count(); i++) {
        ASSERT_NOT_NULL(mask_rule_name(i));
        ASSERT(strlen(mask_rule_source(i)) > 10);
        for (size_t j = 0; j < i; j++)
            if (strcmp(mask_rule_name(i), mask_rule_name(j)) == 0)
                TEST_FAIL("duplicate rule name %s", mask_rule_name(i));
    }
    ASSERT_NULL(mask_rule_name(mask_rule_count()));
}

TEST(mask_extra_patterns)
{
    const char *pats[] = { "ACME-[A-Z0-9]{24}", "corp_(?<s>[a-f0-9]{16})" };
    ASSERT_NULL(mask_set_extra(pats, 2));
    check("key ACME-ABCDEFGHIJKLMNOPQRSTUV12 here", "key [MASKED] here", 1);
    check("corp_0123456789abcdef.", "corp_[MASKED].", 1);
    /* a broken pattern is refused and the old ones stay */
    const char *bad[] = { "ok", "(a" };
    char *err = mask_set_extra(bad, 2);
    ASSERT_NOT_NULL(err);
    ASSERT_CONTAINS(err, "extra pattern 1");
    ASSERT_CONTAINS(err, "missing closing parenthesis");
    free(err);
    check("ACME-ABCDEFGHIJKLMNOPQRSTUV12", "[MASKED]", 1);
    /* cleared */
    ASSERT_NULL(mask_set_extra(NULL, 0));
    unchanged("ACME-ABCDEFGHIJKLMNOPQRSTUV12");
    /* an extra pattern never rewrites existing markers */
    const char *caps[] = { "[A-Z]{6}" };
    ASSERT_NULL(mask_set_extra(caps, 1));
    check("x [MASKED] y ABCDEF", "x [MASKED] y [MASKED]", 1);
    ASSERT_NULL(mask_set_extra(NULL, 0));
    err = mask_pattern_check("a{65536}");
    ASSERT_NOT_NULL(err);
    free(err);
    ASSERT_NULL(mask_pattern_check("ACME-[A-Z0-9]{24}"));
}

TEST(mask_extra_pattern_runaway_fails_closed)
{
    /* Catastrophic backtracking hits the match limit: the text is masked
     * from there on rather than shown unscanned. */
    const char *pats[] = { "(a+)+$" };
    ASSERT_NULL(mask_set_extra(pats, 1));
    char in[64];
    memset(in, 'a', 40);
    strcpy(in + 40, "b secret-tail");
    uint64_t t0 = clock_mono_ms();
    char *m = mask_secrets(in);
    ASSERT_LE(clock_mono_ms() - t0, 10000);
    ASSERT_NOT_CONTAINS(m, "secret-tail");
    free(m);
    ASSERT_NULL(mask_set_extra(NULL, 0));
}

TEST(mask_config_extra_patterns)
{
    struct cfg c;
    memset(&c, 0, sizeof(c));
    char err[512];
    const char *ok = "{\"mask\": {\"extra_patterns\": [\"ACME-[A-Z0-9]{24}\", \"corp_[a-f0-9]{16}\"]}}";
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", ok, strlen(ok), err, sizeof(err)), 0);
    ASSERT_EQ(c.mask_extra_patterns.n, 2);
    ASSERT_STR_EQ(c.mask_extra_patterns.v[0], "ACME-[A-Z0-9]{24}");
    cfg_finish(&c);
    memset(&c, 0, sizeof(c));
    const char *bad = "{\"mask\": {\"extra_patterns\": [\"ACME-[A-Z0-9\"]}}";
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", bad, strlen(bad), err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "mask.extra_patterns[0]");
    ASSERT_CONTAINS(err, "PCRE2");
    ASSERT_CONTAINS(err, "missing terminating ]");
    memset(&c, 0, sizeof(c));
    const char *notarr = "{\"mask\": {\"extra_patterns\": \"ACME\"}}";
    ASSERT_EQ(cfg_parse_team(&c, "sirt.json", notarr, strlen(notarr), err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "mask.extra_patterns");
}

struct mt_arg {
    int bad;
};

static void *mt_worker(void *ud)
{
    struct mt_arg *a = ud;
    for (int i = 0; i < 2000; i++) {
        char *m = mask_secrets("x glpat-SeCrEt0123456789abcd y password=SeCrEtPw z");
        if (!m || strstr(m, "SeCrEt"))
            a->bad++;
        free(m);
    }
    return NULL;
}

TEST(mask_threads_and_swaps)
{
    pthread_t th[3];
    struct mt_arg args[3] = { { 0 }, { 0 }, { 0 } };
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, mt_worker, &args[i]), 0);
    const char *pats[] = { "zz[0-9]{4}" };
    for (int i = 0; i < 200; i++) {
        char *e = mask_set_extra(i % 2 ? pats : NULL, i % 2 ? 1 : 0);
        ASSERT_NULL(e);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(args[i].bad, 0);
    }
    ASSERT_NULL(mask_set_extra(NULL, 0));
}

TEST(mask_strip_and_channel_names)
{
    char *s = mask_strip("Leak of glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm and password=hunter2 in CI");
    ASSERT_STR_EQ(s, "Leak of  and  in CI");
    free(s);
    s = mask_strip("nothing secret here");
    ASSERT_STR_EQ(s, "nothing secret here");
    free(s);
    ASSERT_NULL(mask_strip(NULL));
    /* No piece of a secret, not even its prefix, reaches a channel name. */
    char name[81];
    report_channel_name(7, "AKIAIOSFODNN7EXAMPLE xoxb-1234567890-AbCdEfGhIj sk_live_Zp0zVZomHFwUbbYrEqmSM9wC "
                           "https://u:Hunter2pw@db and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3.sig0123456789 leak",
                        name, sizeof(name));
    ASSERT_STR_EQ(name, "sirt-7-and-leak");
    report_channel_name(8, "Stripe key sk_test_Zp0zVZomHFwUbbYrEqmSM9wC exposed", name, sizeof(name));
    ASSERT_STR_EQ(name, "sirt-8-stripe-key-exposed");
}
