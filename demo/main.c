/* sirt_demo: `make demo`.  Runs the drill (drill.c) and prints its
 * transcript on stdout.  With --log FILE the bot's own log (and the
 * harness's) goes to FILE instead of stderr, and a failed drill shows the
 * end of that log.  Exit 0 when every step happened. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drill.h"

static const char *log_path;
static FILE *user_err;     /* the terminal's stderr, kept when --log moves fd 2 */
static int done;

/* Also runs when the harness gives up with exit(1) (e.g. the bot never
 * connected): the end of the log says why. */
static void at_exit(void)
{
    if (done || !log_path || !user_err)
        return;
    fflush(stderr);
    FILE *fp = fopen(log_path, "r");
    if (!fp)
        return;
    static char tail[8192];
    size_t n = 0, len;
    char line[1024];
    while (fgets(line, sizeof(line), fp)) {
        len = strlen(line);
        if (n + len >= sizeof(tail)) {
            char *cut = memchr(tail, '\n', n);
            size_t drop = cut ? (size_t)(cut - tail) + 1 : n;
            memmove(tail, tail + drop, n - drop);
            n -= drop;
            if (n + len >= sizeof(tail))
                continue;
        }
        memcpy(tail + n, line, len);
        n += len;
    }
    fclose(fp);
    fprintf(user_err, "demo: failed; the end of %s:\n%.*s", log_path, (int)n, tail);
    fflush(user_err);
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sirt_demo [--log FILE]\n"
                "Plays an S1 incident drill: the real bot ($SIRTBOT_BIN, default bot/sirtbot) against local\n"
                "fakes of Slack, PagerDuty and GitLab on 127.0.0.1, and prints what each person sees.\n"
                "--log FILE  the bot's log goes to FILE instead of stderr\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            log_path = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    user_err = stderr;
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int saved = fd >= 0 ? dup(STDERR_FILENO) : -1;
        if (fd < 0 || saved < 0 || !(user_err = fdopen(saved, "w"))) {
            fprintf(stderr, "sirt_demo: cannot write %s: %s\n", log_path, strerror(errno));
            return 1;
        }
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        close(fd);
        atexit(at_exit);
    }
    int rc = drill_run(stdout, user_err);
    done = rc == 0;
    if (rc != 0 && !log_path)
        fprintf(stderr, "demo: failed (the bot's log is above)\n");
    return rc;
}
