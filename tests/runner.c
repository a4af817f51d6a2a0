/* runner: walks the test registry (filled by TEST() constructors), runs each
 * test in a forked child with its own timeout, prints one line per test and
 * the closing "N passed, M failed".  Exit status 1 if any test failed.
 * Arguments: substrings; a test runs if its name contains any of them.
 * -l lists the tests.  TEST_JOBS=n runs n tests at a time (default 2);
 * TEST_VERBOSE=1 shows every test's log, not only the failures'. */
#include <errno.h>
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

static struct test_entry tests[MAX_TESTS];
static size_t n_tests;

void test_register(const char *name, test_fn fn, int timeout_s)
{
    if (n_tests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    tests[n_tests].timeout_s = timeout_s;
    n_tests++;
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
        /* Show the child's log (assertion message, bot stderr tail). */
        FILE *f = fopen(s->log, "r");
        if (f) {
            char line[1024];
            long lines = 0;
            while (fgets(line, sizeof(line), f) && lines++ < 200)
                printf("    | %s", line);
            fclose(f);
        }
        if (!ok)
            (*failed)++;
    }
    fflush(stdout);
    unlink(s->log);
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
    int jobs = 2;
    const char *j = getenv("TEST_JOBS");
    if (j && atoi(j) > 0)
        jobs = atoi(j) > 16 ? 16 : atoi(j);

    struct slot slots[16];
    memset(slots, 0, sizeof(slots));
    int passed = 0, failed = 0, running = 0;
    size_t next = 0;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

    for (;;) {
        while (running < jobs) {
            while (next < n_tests && !selected(tests[next].name, argc, argv))
                next++;
            if (next >= n_tests)
                break;
            int k = 0;
            while (slots[k].pid)
                k++;
            snprintf(slots[k].log, sizeof(slots[k].log), "%s/sirt-test-%d-%zu.log", tmp, (int)getpid(), next);
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 2;
            }
            if (pid == 0)
                run_child(&tests[next], slots[k].log);
            setpgid(pid, pid);
            slots[k].pid = pid;
            slots[k].idx = next;
            slots[k].start = now_s();
            running++;
            next++;
        }
        if (running == 0)
            break;
        /* Reap whatever finished; enforce timeouts at 50 ms granularity. */
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int k = 0; k < jobs; k++) {
                if (slots[k].pid == pid) {
                    kill(-pid, SIGKILL);   /* whatever the test left behind */
                    report(&slots[k], status, false, &passed, &failed);
                    slots[k].pid = 0;
                    running--;
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
                report(&slots[k], status, true, &passed, &failed);
                slots[k].pid = 0;
                running--;
            }
        }
        usleep(20000);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
