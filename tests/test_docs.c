/* The docs keep up with the code: every verb of the handlers' table is in
 * docs/commands.md with its usage, every team-config key and environment
 * variable the bot reads is in docs/configuration.md, every metric /metrics
 * renders is in docs/operations.md, and every relative link (and #anchor)
 * of README.md, CHANGELOG.md and the docs/ pages names a file inside the
 * repository that exists.  Files are found from this file's path. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../bot/config.h"
#include "../bot/metrics.h"
#include "../bot/util.h"
#include "../handlers/handlers.h"
#include "test.h"

#define PATHLEN 1024

/* ---- names in backticks ---- */

struct want {
    const char *doc_name;   /* for the message */
    const char *text;
    int missing;
};

/* `name` must occur, in backticks, in the text. */
static void want_code(struct want *w, const char *name)
{
    char needle[300];
    snprintf(needle, sizeof(needle), "`%s`", name);
    if (!strstr(w->text, needle)) {
        fprintf(stderr, "  %s does not document %s\n", w->doc_name, needle);
        w->missing++;
    }
}

TEST(docs_commands_cover_every_verb)
{
    char *text = test_repo_file("docs/commands.md");
    struct want w = { "docs/commands.md", text, 0 };
    ASSERT_GE(handlers_n_verbs, 10);
    for (size_t i = 0; i < handlers_n_verbs; i++) {
        const struct sirt_verb *v = &handlers_verbs[i];
        char needle[300];
        /* the usage as /sirt help prints it, e.g. `/sirt page [SIRT-n]` */
        snprintf(needle, sizeof(needle), "/sirt %s", v->usage);
        want_code(&w, needle);
        /* and a section of its own: "### `/sirt page …`" */
        snprintf(needle, sizeof(needle), "\n### `/sirt %s", v->name);
        const char *h = strstr(text, needle);
        char next = h ? h[strlen(needle)] : '\0';
        if (!h || (next != ' ' && next != '`')) {
            fprintf(stderr, "  docs/commands.md has no section \"### `/sirt %s …`\"\n", v->name);
            w.missing++;
        }
    }
    want_code(&w, "@sirt help");
    free(text);
    ASSERT_EQ(w.missing, 0);
}

/* Counts the names and remembers whether two known ones came by, so the
 * walk itself is checked too. */
struct seen {
    struct want *w;
    int n;
    bool nested, in_array;
};

static void seen_key(const char *name, void *ud)
{
    struct seen *s = ud;
    s->n++;
    s->nested |= strcmp(name, "handoff.lead_minutes") == 0;
    s->in_array |= strcmp(name, "appsec[].tz") == 0;
    want_code(s->w, name);
}

struct getenv_scan {
    struct want *w;
    int count;
};

/* Every getenv("NAME") in one of the bot's sources (bot/, handlers/). */
static void scan_getenv(const char *rel, const char *name_, void *ud)
{
    (void)name_;
    struct getenv_scan *g = ud;
    char *src = test_repo_file(rel);
    for (const char *p = strstr(src, "getenv(\""); p; p = strstr(p + 1, "getenv(\"")) {
        const char *a = p + 8, *z = strchr(a, '"');
        if (!z || z - a > 64)
            continue;
        char name[80];
        snprintf(name, sizeof(name), "%.*s", (int)(z - a), a);
        if (strcmp(name, "TZ") == 0)
            continue;       /* set and restored by the bot itself (workhours.c), not a setting */
        g->count++;
        want_code(g->w, name);
    }
    free(src);
}

TEST(docs_configuration_covers_every_key_and_variable)
{
    char *text = test_repo_file("docs/configuration.md");
    struct want w = { "docs/configuration.md", text, 0 };
    struct seen keys = { &w, 0, false, false };
    cfg_each_key(seen_key, &keys);
    ASSERT_GE(keys.n, 20);
    ASSERT(keys.nested);
    ASSERT(keys.in_array);
    struct seen env = { &w, 0, false, false };
    cfg_each_env(seen_key, &env);
    ASSERT_GE(env.n, 12);
    struct getenv_scan g = { &w, 0 };
    test_repo_each("bot", ".c", scan_getenv, &g);
    test_repo_each("handlers", ".c", scan_getenv, &g);
    ASSERT_GE(g.count, 4);
    free(text);
    ASSERT_EQ(w.missing, 0);
}

/* ---- metrics ---- */

static bool probe_all(void *ud, int64_t counts[METRICS_OUTBOX_STATES], int64_t *oldest_age_ms)
{
    (void)ud;
    for (int i = 0; i < METRICS_OUTBOX_STATES; i++)
        counts[i] = 0;
    *oldest_age_ms = 0;
    return true;
}

TEST(docs_operations_cover_every_metric)
{
    char *text = test_repo_file("docs/operations.md");
    struct want w = { "docs/operations.md", text, 0 };
    struct metrics *m = metrics_create();
    metrics_set_outbox_probe(m, probe_all, NULL);
    struct buf out;
    buf_init(&out, 0);
    metrics_render(m, &out);
    int n = 0;
    for (const char *p = strstr(out.data, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        const char *a = p + 7, *z = strchr(a, ' ');
        ASSERT_NOT_NULL(z);
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(z - a), a);
        want_code(&w, name);
        n++;
    }
    ASSERT_GE(n, 15);
    buf_finish(&out);
    metrics_destroy(m);
    free(text);
    ASSERT_EQ(w.missing, 0);
}

/* ---- links ---- */

/* GitHub's anchor for a heading: lowercase; letters, digits, '-', '_' and
 * non-ASCII letters kept; spaces become '-'; other punctuation (and the
 * U+2000–U+2BFF block: dashes, arrows, …) dropped. */
static void slug(const char *h, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < size; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c >= 0x80) {
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
            bool punct = c == 0xe2;
            for (size_t k = 0; k < n && i + k < len; k++)
                if (!punct)
                    out[o++] = h[i + k];
            i += n - 1;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            out[o++] = (char)c;
        } else if (c >= 'A' && c <= 'Z') {
            out[o++] = (char)(c - 'A' + 'a');
        } else if (c == ' ') {
            out[o++] = '-';
        }
    }
    out[o] = '\0';
}

/* Does the Markdown text have a heading whose anchor is `anchor`?
 * Repeated headings get "-1", "-2", … as on GitHub. */
static bool has_anchor(const char *text, const char *anchor)
{
    char seen[256][128];
    size_t n_seen = 0;
    bool fence = false;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *eol = strchr(l, '\n');
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        if (len >= 3 && strncmp(l, "```", 3) == 0) {
            fence = !fence;
            continue;
        }
        if (fence || l[0] != '#')
            continue;
        size_t h = 0;
        while (h < len && l[h] == '#')
            h++;
        if (h > 6 || h >= len || l[h] != ' ')
            continue;
        char s[128];
        slug(l + h + 1, len - h - 1, s, sizeof(s));
        size_t dup = 0;
        for (size_t i = 0; i < n_seen; i++)
            dup += strcmp(seen[i], s) == 0;
        if (n_seen < 256)
            snprintf(seen[n_seen++], sizeof(seen[0]), "%s", s);
        char full[160];
        int fl = dup ? snprintf(full, sizeof(full), "%s-%zu", s, dup) : snprintf(full, sizeof(full), "%s", s);
        if (fl > 0 && fl < (int)sizeof(full) && strcmp(full, anchor) == 0)
            return true;
    }
    return false;
}

/* Joins `from`'s directory and the link target into a repository path,
 * resolving "." and ".."; false when the result leaves the repository. */
static bool resolve(const char *from, const char *target, char *out, size_t size)
{
    char tmp[PATHLEN];
    const char *slash = strrchr(from, '/');
    int tl;
    if (target[0] == '/')
        tl = snprintf(tmp, sizeof(tmp), "%s", target + 1);
    else if (slash)
        tl = snprintf(tmp, sizeof(tmp), "%.*s/%s", (int)(slash - from), from, target);
    else
        tl = snprintf(tmp, sizeof(tmp), "%s", target);
    if (tl < 0 || tl >= (int)sizeof(tmp))
        return false;
    char parts[64][PATHLEN / 4];
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(tmp, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0)
            continue;
        if (strcmp(p, "..") == 0) {
            if (n == 0)
                return false;
            n--;
            continue;
        }
        if (n == 64)
            return false;
        snprintf(parts[n++], sizeof(parts[0]), "%s", p);
    }
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, o < size ? size - o : 0, "%s%s", i ? "/" : "", parts[i]);
    return o < size;
}

/* Checks every [text](target) of `text` (the file `from`, a repository
 * path) outside code; prints each bad one.  Returns how many are bad. */
static int check_links(const char *from, const char *text)
{
    int bad = 0, total = 0;
    bool fence = false;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *eol = strchr(l, '\n');
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        if (len >= 3 && strncmp(l, "```", 3) == 0) {
            fence = !fence;
            continue;
        }
        if (fence)
            continue;
        bool code = false;
        for (size_t i = 0; i + 1 < len; i++) {
            if (l[i] == '`')
                code = !code;
            if (code || l[i] != ']' || l[i + 1] != '(')
                continue;
            const char *a = l + i + 2, *z = memchr(a, ')', len - (size_t)(a - l));
            if (!z)
                continue;
            char target[PATHLEN];
            snprintf(target, sizeof(target), "%.*s", (int)(z - a), a);
            char *space = strchr(target, ' ');     /* [x](file "title") */
            if (space)
                *space = '\0';
            total++;
            if (strstr(target, "://") || strncmp(target, "mailto:", 7) == 0)
                continue;
            char *hash = strchr(target, '#');
            const char *anchor = NULL;
            if (hash) {
                *hash = '\0';
                anchor = hash + 1;
            }
            char path[PATHLEN];
            if (!target[0]) {
                snprintf(path, sizeof(path), "%s", from);
            } else if (!resolve(from, target, path, sizeof(path))) {
                fprintf(stderr, "  %s: link \"%.*s\" leaves the repository\n", from, (int)(z - a), a);
                bad++;
                continue;
            }
            char full[PATHLEN];
            test_repo_path(path, full, sizeof(full));
            struct stat st;
            if (stat(full, &st) != 0) {
                fprintf(stderr, "  %s: link \"%.*s\": no file %s\n", from, (int)(z - a), a, path);
                bad++;
                continue;
            }
            size_t pl = strlen(path);
            if (anchor && pl > 3 && strcmp(path + pl - 3, ".md") == 0) {
                char *target_text = strcmp(path, from) == 0 ? NULL : test_repo_file(path);
                if (!has_anchor(target_text ? target_text : text, anchor)) {
                    fprintf(stderr, "  %s: link \"%.*s\": no heading #%s in %s\n", from, (int)(z - a), a,
                            anchor, path);
                    bad++;
                }
                free(target_text);
            }
        }
    }
    (void)total;
    return bad;
}

TEST(docs_links_checker_finds_dead_links)
{
    /* The checker itself: each of these must count as bad. */
    ASSERT_EQ(check_links("README.md", "see [the design](../shared/DESIGN.md)\n"), 1);
    ASSERT_EQ(check_links("README.md", "see [x](docs/no-such-file.md)\n"), 1);
    ASSERT_EQ(check_links("docs/x.md", "see [x](../../etc/passwd)\n"), 1);
    ASSERT_EQ(check_links("README.md", "# Quick start\n[a](#quick-start) [b](#no-such-heading)\n"), 1);
    ASSERT_EQ(check_links("README.md", "[a](docs/slack-ids.md#no-such-heading)\n"), 1);
    /* and these are fine: code, URLs, existing files and anchors */
    ASSERT_EQ(check_links("README.md", "`[a](nowhere.md)`\n```\n[b](nowhere.md)\n```\n"
                                       "[c](https://example.com/x) [d](LICENSE) [e](docs/)\n"
                                       "## Team config (`SIRT_CONFIG`) — keys\n[f](#team-config-sirt_config--keys)\n"
                                       "## Team config (`SIRT_CONFIG`) — keys\n[g](#team-config-sirt_config--keys-1)\n"),
              0);
    ASSERT_EQ(check_links("docs/a.md", "[h](slack-ids.md#slack-channel-ids-c-private-ones-also-g-in-old-workspaces)\n"
                                       "[i](../README.md#quick-start)\n"),
              0);
}

static void links_of(const char *rel, const char *name, void *ud)
{
    (void)name;
    int *bad = ud;
    char *t = test_repo_file(rel);
    *bad += check_links(rel, t);
    free(t);
}

TEST(docs_links_resolve)
{
    int bad = 0, files = 0;
    const char *top[] = { "README.md", "CHANGELOG.md" };
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        links_of(top[i], top[i], &bad);
        files++;
    }
    files += test_repo_each("docs", ".md", links_of, &bad);
    ASSERT_GE(files, 8);
    ASSERT_EQ(bad, 0);
}

/* The index (w->text) links the page name. */
static void indexed(const char *rel, const char *name, void *ud)
{
    (void)rel;
    struct want *w = ud;
    char needle[300];
    snprintf(needle, sizeof(needle), "](%s)", name);
    if (strcmp(name, "README.md") != 0 && !strstr(w->text, needle)) {
        fprintf(stderr, "  %s does not link %s\n", w->doc_name, name);
        w->missing++;
    }
}

/* The index lists every page of docs/. */
TEST(docs_index_lists_every_page)
{
    char *index = test_repo_file("docs/README.md");
    struct want w = { "docs/README.md", index, 0 };
    test_repo_each("docs", ".md", indexed, &w);
    free(index);
    ASSERT_EQ(w.missing, 0);
}
