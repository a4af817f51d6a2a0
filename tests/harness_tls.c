/* harness_tls: the throwaway CA and server certificates of a TLS fake
 * Slack (fx_tls_make_ca, fx_tls_make_cert; see harness.h), made with the
 * openssl command-line tool under <dir>/tls, each run bounded to 20 s and
 * logged to <dir>/tls/openssl.log.  fx_finish removes them with the temp
 * dir. */
#include "harness.h"

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

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
/* ------------------------------------------------------------------ */
/* throwaway certificates (openssl command-line tool) */

#define FX_OPENSSL_TIMEOUT_MS 20000

/* Runs argv (argv[0] looked up in PATH) with stdin /dev/null and stdout +
 * stderr appended to <tls_dir>/openssl.log; kills it after
 * FX_OPENSSL_TIMEOUT_MS.  Returns 0 when it exited 0. */
static int fx_run_tool(struct fx *fx, char *const argv[])
{
    char log[400];
    snprintf(log, sizeof(log), "%s/openssl.log", fx->tls_dir);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fx: fork for %s: %s\n", argv[0], strerror(errno));
        if (out >= 0)
            close(out);
        return -1;
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    if (out >= 0)
        close(out);
    uint64_t deadline = now_ms() + FX_OPENSSL_TIMEOUT_MS;
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            fprintf(stderr, "fx: waitpid(%s): %s\n", argv[0], strerror(errno));
            return -1;
        }
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fprintf(stderr, "fx: %s took over %d ms: killed\n", argv[0], FX_OPENSSL_TIMEOUT_MS);
            return -1;
        }
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    fprintf(stderr, "fx: `%s %s` failed (%s %d); its output:\n", argv[0], argv[1] ? argv[1] : "",
            WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    FILE *fp = fopen(log, "r");
    if (fp) {
        char line[512];
        while (fgets(line, sizeof(line), fp))
            fprintf(stderr, "  | %s", line);
        fclose(fp);
    }
    return -1;
}

static int fx_tls_dir(struct fx *fx)
{
    if (!fx->tls_dir[0]) {
        int n = snprintf(fx->tls_dir, sizeof(fx->tls_dir), "%s/tls", fx->dir);
        if (n < 0 || (size_t)n >= sizeof(fx->tls_dir) || (mkdir(fx->tls_dir, 0700) != 0 && errno != EEXIST)) {
            fprintf(stderr, "fx: cannot make %s: %s\n", fx->tls_dir, strerror(errno));
            fx->tls_dir[0] = '\0';
            return -1;
        }
    }
    return 0;
}

/* Our own openssl config: nothing read from /etc/ssl/openssl.cnf. */
static int fx_tls_write_cnf(const char *path, const char *san)
{
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "fx: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(fp,
            "[req]\n"
            "distinguished_name = dn\n"
            "prompt = no\n"
            "[dn]\n"
            "CN = unused\n"
            "[v3_ca]\n"
            "basicConstraints = critical,CA:TRUE\n"
            "keyUsage = critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier = hash\n"
            "[v3_srv]\n"
            "basicConstraints = critical,CA:FALSE\n"
            "keyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid\n");
    if (san)
        fprintf(fp, "subjectAltName = %s\n", san);
    return fclose(fp) == 0 ? 0 : -1;
}

static bool fx_tls_name_ok(const char *name)
{
    if (!name || !name[0] || strlen(name) > 40)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_'))
            return false;
    return true;
}

int fx_tls_make_ca(struct fx *fx, const char *name, char *pem, size_t n)
{
    if (!fx_tls_name_ok(name) || fx_tls_dir(fx) != 0)
        return -1;
    char cnf[400], key[400], crt[400], subj[128];
    snprintf(cnf, sizeof(cnf), "%s/%s-ca.cnf", fx->tls_dir, name);
    snprintf(key, sizeof(key), "%s/%s-ca.key", fx->tls_dir, name);
    snprintf(crt, sizeof(crt), "%s/%s-ca.pem", fx->tls_dir, name);
    snprintf(subj, sizeof(subj), "/CN=sirtbot throwaway test CA %s", name);
    if (fx_tls_write_cnf(cnf, NULL) != 0)
        return -1;
    char *argv[] = { "openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-sha256", "-days", "2", "-subj", subj, "-config", cnf, "-extensions", "v3_ca",
                     "-keyout", key, "-out", crt, NULL };
    if (fx_run_tool(fx, argv) != 0)
        return -1;
    if (pem && str_lcpy(pem, crt, n) >= n)
        return -1;
    return 0;
}

int fx_tls_make_cert(struct fx *fx, const char *ca_name, const char *name, const char *san, const char *cn,
                     char *cert, char *key, size_t n)
{
    if (!fx_tls_name_ok(ca_name) || !fx_tls_name_ok(name) || !san || fx_tls_dir(fx) != 0)
        return -1;
    char cnf[400], k[400], csr[400], crt[400], ca_crt[400], ca_key[400], subj[160], serial[40];
    snprintf(cnf, sizeof(cnf), "%s/%s.cnf", fx->tls_dir, name);
    snprintf(k, sizeof(k), "%s/%s.key", fx->tls_dir, name);
    snprintf(csr, sizeof(csr), "%s/%s.csr", fx->tls_dir, name);
    snprintf(crt, sizeof(crt), "%s/%s.pem", fx->tls_dir, name);
    snprintf(ca_crt, sizeof(ca_crt), "%s/%s-ca.pem", fx->tls_dir, ca_name);
    snprintf(ca_key, sizeof(ca_key), "%s/%s-ca.key", fx->tls_dir, ca_name);
    snprintf(subj, sizeof(subj), "/CN=%s", cn ? cn : name);
    snprintf(serial, sizeof(serial), "0x%016llx", (unsigned long long)(util_rand64() >> 1));
    if (fx_tls_write_cnf(cnf, san) != 0)
        return -1;
    char *req[] = { "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-sha256", "-subj", subj, "-config", cnf, "-keyout", k, "-out", csr, NULL };
    char *sign[] = { "openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-set_serial", serial,
                     "-sha256", "-days", "2", "-extfile", cnf, "-extensions", "v3_srv", "-out", crt, NULL };
    if (fx_run_tool(fx, req) != 0 || fx_run_tool(fx, sign) != 0)
        return -1;
    if ((cert && str_lcpy(cert, crt, n) >= n) || (key && str_lcpy(key, k, n) >= n))
        return -1;
    return 0;
}
