/* bench_mask: masking throughput.  Builds a 1 MiB report-like text (prose,
 * HTTP requests, log lines, JSON, with a secret of a different family every
 * ~16 KiB), masks it `rounds` times and prints the median and best MB/s
 * of mask_secrets(), checking that every planted secret body is gone.  `bench_mask -v` also
 * times the adversarial fills of tests/test_mask.c (mask_linear_time).
 * Usage: bench_mask [rounds] [-v]   (default 20 rounds) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bot/mask.h"
#include "../../bot/util.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char *const filler[] = {
    "The gitaly node in zone b returned 500s for about twenty minutes after the deploy; "
    "customers saw failed pushes. Ask U0SIRT001 in C0123ABCD, see SIRT-12 and commit "
    "3f2a9c1d0e5b7a8c9d0e1f2a3b4c5d6e7f8a9b0c for the change that shipped.\n",
    "GET /api/v4/projects/42/repository/files/README.md?ref=main HTTP/1.1\r\nHost: gitlab.example.com\r\n"
    "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    "2026-11-28T10:15:02.123Z level=error component=gitaly msg=\"rpc failed\" method=PostUploadPack "
    "duration_ms=30001 correlation_id=01HF8Z2K3M4N5P6Q7R8S9T0V1W peer=10.0.3.17:52314\n",
    "{\"event\":\"push\",\"project_id\":42,\"ref\":\"refs/heads/main\",\"user\":\"alice\",\"size\":1048576,"
    "\"status\":\"rejected\",\"reason\":\"pre-receive hook timed out\"}\n",
    "Steps: 1. open https://gitlab.example.com/group/project/-/merge_requests/1234 2. click Merge "
    "3. watch the pipeline fail in stage deploy with exit code 137.\n",
};

static const char *const secrets[] = {
    "glpat-SeCrEtBodyA1b2C3d4E5f6",
    "xoxb-1234567890-0987654321-SeCrEtBodyXyZ",
    "AKIASECRETBODY234567",
    "Authorization: Bearer SeCrEtBodyBearer0123456789",
    "password=SeCrEtBodyPw9",
    "https://deploy:SeCrEtBodyUrl@git.example.com/x.git",
    "ghp_SeCrEtBodyGh0123456789abcdefghijABCDEF",
    "sk_live_SeCrEtBody0123456789",
    "Cookie: session=SeCrEtBodyCookie",
    "-----BEGIN RSA PRIVATE KEY-----\nSeCrEtBodyPem0123456789\n-----END RSA PRIVATE KEY-----",
};

static char *report_text(size_t size)
{
    struct buf b;
    buf_init(&b, 0);
    size_t f = 0, s = 0, next_secret = 8192;
    while (b.len < size) {
        buf_puts(&b, filler[f++ % ARRAY_LEN(filler)]);
        if (b.len >= next_secret) {
            buf_printf(&b, "pasted: %s\n", secrets[s++ % ARRAY_LEN(secrets)]);
            next_secret += 16384;
        }
    }
    b.data[size] = '\0';
    b.len = size;
    return buf_take(&b);
}

static void adversarial(void)
{
    static const char *const fills[] = {
        "glpat-a", "-----BEGIN ", "Authorization:    ", "password", "AKIA", "-", ".",
        "xoxb-1.", "-----BEGIN PRIVATE KEY-----", "://a:", "Authorization: x ",
        "token=", "-----BEGIN PRIVATE KEY-----\n[MASKED]\n", "Authorization: x [MASKED]",
        "password=[MASKED] ", "Authorization: Bearer [MASKED] ", "PRIVATE-TOKEN: ",
        "token: Authorization: ", "https://a:b", "Authorization: Bearer", "token secret key ",
        "[MASKED]", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ", "sk-a", "eyJaaaaaaaaaaaa.",
    };
    size_t n = 1024 * 1024;
    char *s = xmalloc(n + 1);
    for (size_t f = 0; f < ARRAY_LEN(fills); f++) {
        size_t fl = strlen(fills[f]);
        for (size_t i = 0; i < n; i++)
            s[i] = fills[f][i % fl];
        s[n] = '\0';
        double t0 = now_s();
        free(mask_secrets(s));
        printf("  fill %-40.40s %7.1f ms\n", fills[f], (now_s() - t0) * 1e3);
    }
    free(s);
}

int main(int argc, char **argv)
{
    int rounds = 20;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else
            rounds = atoi(argv[i]) > 0 ? atoi(argv[i]) : rounds;
    }
    size_t size = 1024 * 1024;
    char *text = report_text(size);
    double t0 = now_s();
    mask_init();
    double t_init = now_s() - t0;

    size_t masked = mask_count(text);
    char *out = mask_secrets(text);
    int leaks = 0;
    for (const char *p = out; (p = strstr(p, "SeCrEtBody")); p++)
        leaks++;
    free(out);

    double *dts = xcalloc((size_t)rounds, sizeof(*dts));
    for (int r = 0; r < rounds; r++) {
        t0 = now_s();
        free(mask_secrets(text));
        dts[r] = now_s() - t0;
    }
    qsort(dts, (size_t)rounds, sizeof(*dts), cmp_double);
    double mb = (double)size / 1e6;
    printf("(e) masking: %zu rules compiled + JIT in %.1f ms; over a 1 MiB report-like text: median %.0f MB/s, "
           "best %.0f MB/s (%d rounds; %zu secrets masked, %d left)\n",
           mask_rule_count(), t_init * 1e3, mb / dts[rounds / 2], mb / dts[0], rounds, masked, leaks);
    free(dts);
    if (verbose)
        adversarial();
    free(text);
    return leaks ? 1 : 0;
}
