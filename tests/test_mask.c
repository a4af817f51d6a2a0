/* test_mask: every secret family is masked with its prefix kept, several
 * secrets in one text, PEM blocks, headers, key/value pairs, no false
 * positives on prose, idempotence, mask_count, and linear time. */
#include <stdlib.h>
#include <string.h>

#include "../bot/clock.h"
#include "../bot/mask.h"
#include "../bot/util.h"
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
