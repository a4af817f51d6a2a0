/* test_manifest: slack-app-manifest.yml asks for exactly the bot scopes the
 * code needs.  The Slack Web API methods the bot calls are read from the
 * source (every string literal of the .c files of bot/ and handlers/ that is a method
 * name of a Web API family) and mapped to their bot scopes with the table
 * below (facts from Slack's method pages); the manifest's events and its
 * slash command need theirs.  Fails on a method the table does not know, a
 * scope the manifest lacks, a scope nothing needs, or a scope whose
 * comment names none of the methods (or events) that need it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bot/util.h"
#include "test.h"

/* Bot scopes each method needs as the bot uses it (space-separated, all
 * of them); "" = none.  When the code calls a new method, add it here from
 * https://api.slack.com/methods/<method> ("Required scopes", bot token). */
static const struct {
    const char *method, *scopes, *why;
} methods[] = {
    { "apps.connections.open", "", "app-level token (connections:write), not a bot scope" },
    { "auth.test", "", "" },
    { "chat.postEphemeral", "chat:write", "" },
    { "chat.postMessage", "chat:write", "" },
    { "chat.update", "chat:write", "" },
    { "conversations.create", "groups:write", "the bot creates private channels only" },
    { "conversations.history", "channels:history groups:history im:history",
      "public component channels, private incident channels, DMs" },
    { "conversations.info", "channels:read groups:read", "sirt_channel and component channels, public or private" },
    { "conversations.invite", "groups:write", "into private incident channels" },
    { "conversations.list", "groups:read", "types=private_channel" },
    { "conversations.open", "im:write", "" },
    { "conversations.replies", "channels:history groups:history im:history", "as conversations.history" },
    { "files.completeUploadExternal", "files:write", "" },
    { "files.getUploadURLExternal", "files:write", "" },
    { "pins.add", "pins:write", "" },
    { "reactions.add", "reactions:write", "" },
    { "users.info", "users:read", "" },
    { "users.lookupByEmail", "users:read.email", "" },
    { "views.open", "", "a trigger_id is the permission" },
    { "views.push", "", "" },
    { "views.update", "", "" },
};

/* Events (settings.event_subscriptions.bot_events) and what they need. */
static const struct {
    const char *event, *scope;
} events[] = {
    { "app_mention", "app_mentions:read" },
    { "message.im", "im:history" },
    { "message.channels", "channels:history" },
    { "message.groups", "groups:history" },
};

/* Web API method families: a literal "<family>.<name>" is a method. */
static const char *const families[] = {
    "admin", "api", "apps", "auth", "bookmarks", "bots", "calls", "canvases", "chat", "conversations",
    "dialog", "dnd", "emoji", "files", "functions", "migration", "oauth", "openid", "pins", "reactions",
    "reminders", "rtm", "search", "stars", "team", "tooling", "usergroups", "users", "views", "workflows",
};

static bool is_method(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    if (!dot || dot == s || s + len - dot < 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z' && s + i > dot) || (c == '.' && i > 0 && i + 1 < len
                                                                                       && s[i - 1] != '.');
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < ARRAY_LEN(families); i++)
        if (strlen(families[i]) == (size_t)(dot - s) && strncmp(families[i], s, (size_t)(dot - s)) == 0)
            return true;
    return false;
}

struct found {
    char *name[128];
    size_t n;
};

static void found_add(struct found *f, const char *s, size_t len)
{
    for (size_t i = 0; i < f->n; i++)
        if (strlen(f->name[i]) == len && strncmp(f->name[i], s, len) == 0)
            return;
    ASSERT(f->n < ARRAY_LEN(f->name));
    f->name[f->n++] = xstrndup(s, len);
}

/* The method names among the string literals of C text (comments and
 * character literals skipped; a literal is taken whole, escapes kept). */
static void scan_c(const char *t, struct found *f)
{
    for (const char *p = t; *p;) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                p++;
        } else if (*p == '\'') {
            p++;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else if (*p == '"') {
            const char *s = ++p;
            while (*p && *p != '"' && *p != '\n') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (is_method(s, (size_t)(p - s)))
                found_add(f, s, (size_t)(p - s));
            if (*p == '"')
                p++;
        } else {
            p++;
        }
    }
}

static void scan_file(const char *rel, const char *name, void *ud)
{
    (void)name;
    char *t = test_repo_file(rel);
    scan_c(t, ud);
    free(t);
}

/* ---- the manifest (the few YAML shapes it uses) ---- */

struct scope {
    char name[64];
    char comment[1024];         /* its "# ..." and the comment lines after it */
};

struct manifest {
    struct scope scopes[64];
    size_t n_scopes;
    char events[16][64];
    size_t n_events;
    bool slash_command;
};

static size_t indent_of(const char *line)
{
    size_t i = 0;
    while (line[i] == ' ')
        i++;
    return i;
}

/* "- item   # comment": item into out, the comment (may be "") into com. */
static bool list_item(const char *line, char *out, size_t n, const char **com)
{
    const char *p = line + indent_of(line);
    if (p[0] != '-' || p[1] != ' ')
        return false;
    p += 2;
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, " #\r\n");
    if (!len || len >= n)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    const char *h = strchr(p + len, '#');
    *com = h ? h + 1 : "";
    return true;
}

static void parse_manifest(const char *text, struct manifest *m)
{
    memset(m, 0, sizeof(*m));
    char *copy = xstrdup(text);
    enum { NONE, BOT_SCOPES, BOT_EVENTS } in = NONE;
    size_t list_indent = 0;
    bool in_scopes = false;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t ind = indent_of(line);
        const char *p = line + ind;
        if (!*p)
            continue;
        if (strncmp(p, "- command:", 10) == 0)
            m->slash_command = true;
        if (in != NONE) {
            char item[64];
            const char *com;
            if (ind >= list_indent && list_item(line, item, sizeof(item), &com)) {
                if (in == BOT_SCOPES) {
                    ASSERT(m->n_scopes < ARRAY_LEN(m->scopes));
                    struct scope *s = &m->scopes[m->n_scopes++];
                    snprintf(s->name, sizeof(s->name), "%s", item);
                    snprintf(s->comment, sizeof(s->comment), "%s", com);
                } else {
                    ASSERT(m->n_events < ARRAY_LEN(m->events));
                    snprintf(m->events[m->n_events++], sizeof(m->events[0]), "%s", item);
                }
                continue;
            }
            if (in == BOT_SCOPES && *p == '#' && m->n_scopes && ind > list_indent) {
                struct scope *s = &m->scopes[m->n_scopes - 1];
                size_t l = strlen(s->comment);
                snprintf(s->comment + l, sizeof(s->comment) - l, " %s", p + 1);
                continue;
            }
            if (*p == '#')
                continue;
            in = NONE;
        }
        if (strncmp(p, "scopes:", 7) == 0)
            in_scopes = true;
        else if (in_scopes && strncmp(p, "bot:", 4) == 0) {
            in = BOT_SCOPES;
            list_indent = ind;
            in_scopes = false;
        } else if (strncmp(p, "bot_events:", 11) == 0) {
            in = BOT_EVENTS;
            list_indent = ind;
        }
    }
    free(copy);
}

static const char *method_scopes(const char *method)
{
    for (size_t i = 0; i < ARRAY_LEN(methods); i++)
        if (strcmp(methods[i].method, method) == 0)
            return methods[i].scopes;
    return NULL;
}

static bool has_word(const char *list, const char *word)
{
    size_t l = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += l)
        if ((p == list || p[-1] == ' ') && (p[l] == '\0' || p[l] == ' '))
            return true;
    return false;
}

static bool manifest_has(const struct manifest *m, const char *scope)
{
    for (size_t i = 0; i < m->n_scopes; i++)
        if (strcmp(m->scopes[i].name, scope) == 0)
            return true;
    return false;
}

/* The scanner itself: literals in comments and character literals do not
 * count; methods are whole literals of a Web API family. */
TEST(manifest_scanner)
{
    struct found f = { .n = 0 };
    scan_c("/* \"chat.update\" */ x = '\"'; api(\"users.info\", \"slack.post\", \"conversations.info failed\");\n"
           "// \"pins.add\"\n c ? \"conversations.replies\" : \"conversations.history\"; s = \"util.h\"; "
           "t = \"a\\\"b\"; \"apps.connections.open\"",
           &f);
    ASSERT_EQ(f.n, 4);
    ASSERT_STR_EQ(f.name[0], "users.info");
    ASSERT_STR_EQ(f.name[1], "conversations.replies");
    ASSERT_STR_EQ(f.name[2], "conversations.history");
    ASSERT_STR_EQ(f.name[3], "apps.connections.open");
    for (size_t i = 0; i < f.n; i++)
        free(f.name[i]);

    struct manifest m;
    parse_manifest("oauth_config:\n  scopes:\n    bot:\n      - chat:write   # chat.postMessage\n"
                   "                     # and more\n      - pins:write\nsettings:\n  event_subscriptions:\n"
                   "    bot_events:\n      - app_mention\n  interactivity:\n    is_enabled: true\n",
                   &m);
    ASSERT_EQ(m.n_scopes, 2);
    ASSERT_STR_EQ(m.scopes[0].name, "chat:write");
    ASSERT_CONTAINS(m.scopes[0].comment, "chat.postMessage");
    ASSERT_CONTAINS(m.scopes[0].comment, "and more");
    ASSERT_STR_EQ(m.scopes[1].comment, "");
    ASSERT_EQ(m.n_events, 1);
    ASSERT_STR_EQ(m.events[0], "app_mention");
    ASSERT(!m.slash_command);
}

TEST(manifest_scopes_match_the_code)
{
    struct found f = { .n = 0 };
    int files = test_repo_each("bot", ".c", scan_file, &f);
    files += test_repo_each("handlers", ".c", scan_file, &f);
    ASSERT_GE(files, 20);
    /* The scanner finds what the bot surely calls. */
    const char *sure[] = { "chat.postMessage", "conversations.create", "users.info", "apps.connections.open" };
    for (size_t i = 0; i < ARRAY_LEN(sure); i++) {
        bool seen = false;
        for (size_t k = 0; k < f.n; k++)
            seen = seen || strcmp(f.name[k], sure[i]) == 0;
        if (!seen)
            TEST_FAIL("the scan of bot/ and handlers/ did not find %s", sure[i]);
    }

    char *text = test_repo_file("slack-app-manifest.yml");
    struct manifest m;
    parse_manifest(text, &m);
    free(text);
    ASSERT_GE(m.n_scopes, 5);

    struct buf problems;
    buf_init(&problems, 0);
    /* Every method known, every scope it needs asked for. */
    for (size_t k = 0; k < f.n; k++) {
        const char *sc = method_scopes(f.name[k]);
        if (!sc) {
            buf_printf(&problems, "\n  the code calls %s, which the table in %s does not know: add it with "
                                  "its bot scopes from https://api.slack.com/methods/%s",
                       f.name[k], __FILE__, f.name[k]);
            continue;
        }
        char *copy = xstrdup(sc);
        for (char *save = NULL, *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save))
            if (!manifest_has(&m, s))
                buf_printf(&problems, "\n  %s needs the scope %s, which the manifest lacks", f.name[k], s);
        free(copy);
    }
    /* Events and the slash command. */
    for (size_t e = 0; e < m.n_events; e++) {
        const char *need = NULL;
        for (size_t i = 0; i < ARRAY_LEN(events); i++)
            if (strcmp(events[i].event, m.events[e]) == 0)
                need = events[i].scope;
        if (!need)
            buf_printf(&problems, "\n  event %s: add its scope to the events table in %s", m.events[e], __FILE__);
        else if (!manifest_has(&m, need))
            buf_printf(&problems, "\n  event %s needs the scope %s, which the manifest lacks", m.events[e], need);
    }
    if (m.slash_command && !manifest_has(&m, "commands"))
        buf_printf(&problems, "\n  the slash command needs the scope commands");

    /* Every scope asked for is needed, and its comment says by what. */
    for (size_t i = 0; i < m.n_scopes; i++) {
        const struct scope *s = &m.scopes[i];
        bool needed = false, named = false;
        for (size_t k = 0; k < f.n; k++) {
            const char *sc = method_scopes(f.name[k]);
            if (sc && has_word(sc, s->name)) {
                needed = true;
                named = named || strstr(s->comment, f.name[k]) != NULL;
            }
        }
        for (size_t e = 0; e < m.n_events; e++)
            for (size_t j = 0; j < ARRAY_LEN(events); j++)
                if (strcmp(events[j].event, m.events[e]) == 0 && strcmp(events[j].scope, s->name) == 0) {
                    needed = true;
                    named = named || strstr(s->comment, m.events[e]) != NULL;
                }
        if (m.slash_command && strcmp(s->name, "commands") == 0) {
            needed = true;
            named = named || strstr(s->comment, "/sirt") != NULL;
        }
        if (!needed)
            buf_printf(&problems, "\n  the manifest asks for %s, which no method the code calls and no event needs",
                       s->name);
        else if (!named)
            buf_printf(&problems, "\n  the manifest's comment on %s names none of the methods or events that need it",
                       s->name);
    }
    for (size_t k = 0; k < f.n; k++)
        free(f.name[k]);
    if (problems.len)
        TEST_FAIL("slack-app-manifest.yml and the code disagree:%s", problems.data);
    buf_finish(&problems);
}
