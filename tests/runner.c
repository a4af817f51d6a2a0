/* runner: walks the test registry (filled by TEST() constructors), runs each
 * test in a forked child (its own process group, log file and timeout),
 * prints one line per test as it ends (its log whole when it failed) and
 * the closing "N passed, M failed".  Exit status 1 if any test failed.
 * Arguments: substrings; a test runs if its name contains any of them.
 * -l lists the tests.  TEST_JOBS=n runs n tests at a time (default four per
 * CPU: most tests wait on sockets and timers; TEST_JOBS=1 runs them one
 * after another in name order); TEST_SERIAL tests run alone, after the
 * others.  With more than one job the longest tests of the previous run
 * start first (times kept in <runner>.times, or $TEST_TIMES).
 * TEST_VERBOSE=1 shows every test's log, not only the failures'.
 * When a selected test is a TEST_PG and SIRT_TEST_PG_URI is not set, the
 * runner starts one throwaway PostgreSQL server ($SIRT_PG_SERVER, default
 * tests/pg/pg-server.sh) before the tests, exports its URI, and stops it
 * at the end, also on SIGINT/SIGTERM/SIGHUP (tests killed, server stopped,
 * exit 130).  If it cannot start, SIRT_TEST_PG_ERROR says why and the
 * TEST_PG tests fail. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 1024
#define MAX_JOBS 64
#define LOG_TAIL 200    /* lines of a failed test's log shown */

static struct test_entry tests[MAX_TESTS];
static size_t n_tests;

static void register_test(const char *name, test_fn fn, int timeout_s, bool needs_pg, bool serial)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    /* Under a wrapper (valgrind) the waits inside a test stretch 3x
     * (tests/harness.c fx_wait): so does its own bound. */
    tests[n_tests].timeout_s = getenv("SIRTBOT_WRAPPER") ? 3 * timeout_s : timeout_s;
    tests[n_tests].needs_pg = needs_pg;
    tests[n_tests].serial = serial;
    n_tests++;
}

void test_register(const char *name, test_fn fn, int timeout_s)
{
    register_test(name, fn, timeout_s, false, false);
}

void test_register_pg(const char *name, test_fn fn, int timeout_s)
{
    register_test(name, fn, timeout_s, true, false);
}

void test_register_serial(const char *name, test_fn fn, int timeout_s, bool needs_pg)
{
    register_test(name, fn, timeout_s, needs_pg, true);
}

static int cmp_test(const void *a, const void *b)
{
    return strcmp(((const struct test_entry *)a)->name, ((const struct test_entry *)b)->name);
}

static bool selected(const char *name, int argc, char **argv)
{
    bool any = false;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        any = true;
        if (strstr(name, argv[i]))
            return true;
    }
    return !any;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Set by SIGINT/SIGTERM/SIGHUP; the main loop stops the tests and the server. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    interrupted = sig;
}

/* ---- the PostgreSQL test server ---- */

#define PG_SCRIPT_TIMEOUT_S 90

static char pg_dir[64];       /* "" when no server was started by us */
static char pg_log[128];      /* the script's stderr */

/* Starts "bash <script> <verb> <dir> [arg]" with stdout to /dev/null and
 * stderr to pg_log, in its own process group.  Returns its pid, or -1. */
static pid_t pg_spawn(const char *verb, const char *arg)
{
    const char *script = getenv("SIRT_PG_SERVER") ? getenv("SIRT_PG_SERVER") : "tests/pg/pg-server.sh";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        int out = open("/dev/null", O_WRONLY);
        int err = open(pg_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execl("/bin/bash", "bash", script, verb, pg_dir, arg, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* Waits for a pg_spawn'ed script, killing it PG_SCRIPT_TIMEOUT_S after
 * start.  Returns its exit status, or -1. */
static int pg_wait(pid_t pid, const char *verb, double start)
{
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_s() - start > PG_SCRIPT_TIMEOUT_S) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "runner: pg-server.sh %s timed out after %ds\n", verb, PG_SCRIPT_TIMEOUT_S);
            return -1;
        }
        usleep(20000);
    }
}

/* pg_spawn + pg_wait: bounded to PG_SCRIPT_TIMEOUT_S. */
static int pg_script(const char *verb, const char *arg)
{
    pid_t pid = pg_spawn(verb, arg);
    return pid < 0 ? -1 : pg_wait(pid, verb, now_s());
}

/* Last non-empty line of the script's log, for SIRT_TEST_PG_ERROR. */
static void pg_last_line(char *out, size_t n)
{
    snprintf(out, n, "see %s", pg_log);
    FILE *f = fopen(pg_log, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(out, n, "%s", line);
    }
    fclose(f);
}

static void pg_start(void)
{
    snprintf(pg_log, sizeof(pg_log), "/tmp/sirt-pg-%d.log", (int)getpid());
    unlink(pg_log);
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/sirtpg.XXXXXX");
    if (!mkdtemp(pg_dir)) {
        pg_dir[0] = '\0';
        setenv("SIRT_TEST_PG_ERROR", "the runner could not make a temp dir for PostgreSQL", 1);
        return;
    }
    double t0 = now_s();
    int rc = pg_script("start", NULL);
    char uri[512] = "", path[128];
    snprintf(path, sizeof(path), "%s/uri", pg_dir);
    FILE *f = rc == 0 ? fopen(path, "r") : NULL;
    if (f) {
        if (fgets(uri, sizeof(uri), f))
            uri[strcspn(uri, "\n")] = '\0';
        fclose(f);
    }
    if (uri[0]) {
        setenv("SIRT_TEST_PG_URI", uri, 1);
        printf("postgres: started in %.2fs (%s)\n", now_s() - t0, pg_dir);
        unlink(pg_log);
    } else {
        char why[600], msg[700];
        pg_last_line(why, sizeof(why));
        snprintf(msg, sizeof(msg), "the PostgreSQL test server did not start: %s", why);
        setenv("SIRT_TEST_PG_ERROR", msg, 1);
        printf("postgres: NOT started: %s (log %s)\n", why, pg_log);
        /* Whatever a half-done start left: a server, files, the dir. */
        if (pg_script("stop", NULL) != 0)
            rmdir(pg_dir);
        pg_dir[0] = '\0';
    }
    fflush(stdout);
}

/* The server is stopped as soon as the last TEST_PG test is done, while
 * the other tests go on (removing its directory takes seconds). */
static pid_t pg_stop_pid = -1;
static double pg_stop_t0;

static void pg_stop_report(int rc)
{
    if (rc == 0)
        printf("postgres: stopped in %.2fs\n", now_s() - pg_stop_t0);
    else
        printf("postgres: stop failed (exit %d); see %s and %s\n", rc, pg_log, pg_dir);
    fflush(stdout);
    pg_dir[0] = '\0';
    pg_stop_pid = -1;
}

static void pg_stop_begin(void)
{
    if (!pg_dir[0] || pg_stop_pid > 0)
        return;
    pg_stop_t0 = now_s();
    pg_stop_pid = pg_spawn("stop", NULL);
    if (pg_stop_pid < 0)
        pg_stop_report(-1);
}

/* The main loop reaped the stop script. */
static void pg_stop_reaped(int status)
{
    pg_stop_report(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Stops the server (or waits for the stop under way). */
static void pg_stop(void)
{
    if (!pg_dir[0])
        return;
    if (pg_stop_pid < 0) {
        pg_stop_t0 = now_s();
        pg_stop_pid = pg_spawn("stop", NULL);
        if (pg_stop_pid < 0) {
            pg_stop_report(-1);
            return;
        }
    }
    pg_stop_report(pg_wait(pg_stop_pid, "stop", pg_stop_t0));
}

struct slot {
    pid_t pid;
    size_t idx;
    double start;
    char log[128];
};

static void run_child(const struct test_entry *t, const char *logpath)
{
    /* Each test gets its own process group so a timeout kills what it spawned. */
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (freopen(logpath, "w", stderr) == NULL)
        _exit(3);
    setvbuf(stderr, NULL, _IONBF, 0);
    t->fn();
    /* exit(), not _exit(): LeakSanitizer checks the child at exit. */
    exit(0);
}

static void report(const struct slot *s, int status, bool timed_out, int *passed, int *failed)
{
    const struct test_entry *t = &tests[s->idx];
    bool ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    double dt = now_s() - s->start;
    bool verbose = getenv("TEST_VERBOSE") != NULL;
    if (ok) {
        printf("ok     %-44s %6.2fs\n", t->name, dt);
        (*passed)++;
    }
    if (!ok || verbose) {
        if (ok)
            ;   /* the ok line is printed above */
        else if (timed_out)
            printf("FAILED %-44s timed out after %ds\n", t->name, t->timeout_s);
        else if (WIFSIGNALED(status))
            printf("FAILED %-44s killed by signal %d\n", t->name, WTERMSIG(status));
        else
            printf("FAILED %-44s exit %d\n", t->name, WEXITSTATUS(status));
        /* Show the child's log: its last LOG_TAIL lines (the assertion
         * message is at the end, after the bot's stderr). */
        FILE *f = fopen(s->log, "r");
        if (f) {
            char line[1024];
            long total = 0, skip;
            while (fgets(line, sizeof(line), f))
                total++;
            skip = total > LOG_TAIL ? total - LOG_TAIL : 0;
            if (skip)
                printf("    | ... %ld lines before\n", skip);
            rewind(f);
            for (long n = 0; fgets(line, sizeof(line), f); n++)
                if (n >= skip)
                    printf("    | %s", line);
            fclose(f);
        }
        if (!ok)
            (*failed)++;
    }
    fflush(stdout);
    unlink(s->log);
}

/* What the main loop counts while tests run. */
struct tally {
    int passed, failed, running;
    int pg_left;            /* TEST_PG tests not finished yet */
    bool serial_running;
};

/* The test in s ended (status from waitpid): its time kept, its result
 * reported, its slot freed; the PostgreSQL server is stopped once the last
 * TEST_PG test is done. */
static void slot_finish(struct slot *s, int status, bool timed_out, struct tally *n)
{
    tests[s->idx].last_s = now_s() - s->start;
    report(s, status, timed_out, &n->passed, &n->failed);
    s->pid = 0;
    n->serial_running = n->serial_running && !tests[s->idx].serial;
    n->pg_left -= tests[s->idx].needs_pg;
    n->running--;
    if (n->pg_left == 0)
        pg_stop_begin();
}

/* ---- the times of the previous run: longest first ---- */

static const char *times_path(const char *argv0, char *buf, size_t n)
{
    const char *p = getenv("TEST_TIMES");
    if (p && p[0])
        return p;
    snprintf(buf, n, "%s.times", argv0);
    return buf;
}

static struct test_entry *find_test(const char *name)
{
    struct test_entry key = { .name = name };
    return bsearch(&key, tests, n_tests, sizeof(tests[0]), cmp_test);
}

/* Lines "<seconds> <name>"; unknown names and bad lines are skipped. */
static void times_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512], name[400];
    double secs;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lf %399s", &secs, name) != 2 || !(secs >= 0))
            continue;
        struct test_entry *t = find_test(name);
        if (t)
            t->last_s = secs;
    }
    fclose(f);
}

static void times_save(const char *path)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    for (size_t k = 0; k < n_tests; k++)
        if (tests[k].last_s > 0)
            fprintf(f, "%.2f %s\n", tests[k].last_s, tests[k].name);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}

/* The order tests start in with several jobs: serial ones last; TEST_PG
 * ones first, so the PostgreSQL server stops while the others run; each
 * group longest first (by the previous run; unknown ones first of all,
 * they may be long), so the run does not end waiting on one long test. */
static int cmp_order(const void *a, const void *b)
{
    const struct test_entry *x = &tests[*(const size_t *)a], *y = &tests[*(const size_t *)b];
    if (x->serial != y->serial)
        return x->serial ? 1 : -1;
    if (x->needs_pg != y->needs_pg)
        return x->needs_pg ? -1 : 1;
    if (!x->serial) {
        double kx = x->last_s > 0 ? x->last_s : 1e9, ky = y->last_s > 0 ? y->last_s : 1e9;
        if (kx != ky)
            return kx > ky ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static int default_jobs(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    long j = 4 * cpus;
    return j < 2 ? 2 : j > 32 ? 32 : (int)j;
}

static void kill_all(struct slot *slots, int jobs)
{
    for (int k = 0; k < jobs; k++) {
        if (slots[k].pid) {
            int status;
            kill(-slots[k].pid, SIGKILL);
            waitpid(slots[k].pid, &status, 0);
            unlink(slots[k].log);
            slots[k].pid = 0;
        }
    }
}

int main(int argc, char **argv)
{
    qsort(tests, n_tests, sizeof(tests[0]), cmp_test);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-l") == 0) {
            for (size_t k = 0; k < n_tests; k++)
                printf("%s\n", tests[k].name);
            return 0;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    int jobs = default_jobs();
    const char *j = getenv("TEST_JOBS");
    if (j && atoi(j) > 0)
        jobs = atoi(j) > MAX_JOBS ? MAX_JOBS : atoi(j);
    char tbuf[1024];
    const char *tpath = times_path(argv[0], tbuf, sizeof(tbuf));
    times_load(tpath);

    static size_t order[MAX_TESTS];
    size_t n_sel = 0;
    struct tally n = { 0 };
    for (size_t k = 0; k < n_tests; k++) {
        if (!selected(tests[k].name, argc, argv))
            continue;
        order[n_sel++] = k;
        n.pg_left += tests[k].needs_pg;
    }
    bool want_pg = n.pg_left > 0;
    if (jobs > 1)
        qsort(order, n_sel, sizeof(order[0]), cmp_order);
    if (want_pg && !getenv("SIRT_TEST_PG_URI"))
        pg_start();

    struct slot slots[MAX_JOBS];
    memset(slots, 0, sizeof(slots));
    size_t next = 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    double t_start = now_s();

    for (;;) {
        if (interrupted) {
            kill_all(slots, jobs);
            printf("interrupted by signal %d: %d passed, %d failed before it\n", (int)interrupted, n.passed, n.failed);
            pg_stop();
            return 130;
        }
        /* A serial test starts when nothing runs, and runs alone. */
        while (n.running < jobs && next < n_sel && !n.serial_running
               && (!tests[order[next]].serial || n.running == 0)) {
            size_t idx = order[next];
            int k = 0;
            while (slots[k].pid)
                k++;
            snprintf(slots[k].log, sizeof(slots[k].log), "%s/sirt-test-%d-%zu.log", tmp, (int)getpid(), idx);
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                kill_all(slots, jobs);
                pg_stop();
                return 2;
            }
            if (pid == 0)
                run_child(&tests[idx], slots[k].log);
            setpgid(pid, pid);
            slots[k].pid = pid;
            slots[k].idx = idx;
            slots[k].start = now_s();
            n.serial_running = tests[idx].serial;
            n.running++;
            next++;
        }
        if (n.running == 0)
            break;
        /* Reap whatever finished; enforce timeouts at 20 ms granularity. */
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0 && pid == pg_stop_pid) {
            pg_stop_reaped(status);
            continue;
        }
        if (pid > 0) {
            for (int k = 0; k < jobs; k++) {
                if (slots[k].pid == pid) {
                    kill(-pid, SIGKILL);   /* whatever the test left behind */
                    slot_finish(&slots[k], status, false, &n);
                }
            }
            continue;
        }
        if (pid < 0 && errno != EINTR && errno != ECHILD)
            break;
        for (int k = 0; k < jobs; k++) {
            if (slots[k].pid && now_s() - slots[k].start > tests[slots[k].idx].timeout_s) {
                kill(-slots[k].pid, SIGKILL);
                waitpid(slots[k].pid, &status, 0);
                slot_finish(&slots[k], status, true, &n);
            }
        }
        if (pg_stop_pid > 0 && now_s() - pg_stop_t0 > PG_SCRIPT_TIMEOUT_S) {
            kill(-pg_stop_pid, SIGKILL);
            waitpid(pg_stop_pid, &status, 0);
            pg_stop_report(-1);
        }
        usleep(20000);
    }
    pg_stop();
    times_save(tpath);
    printf("%zu tests in %.1fs with TEST_JOBS=%d\n", n_sel, now_s() - t_start, jobs);
    printf("%d passed, %d failed\n", n.passed, n.failed);
    return n.failed ? 1 : 0;
}
