/* fake_slack_api: the Web API methods of fake_slack that are not about
 * channels or users (fake_slack_conv.c): apps.connections.open and its
 * tickets, auth.test, chat.* with Slack's Block Kit refusals
 * (fake_blocks.c) and message store (fake_messages.c), views.*, the
 * external file upload (fake_files.c); and the one table of methods. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_blocks.h"
#include "fake_files.h"
#include "fake_messages.h"
#include "fake_slack_state.h"


/* Message timestamps as Slack makes them: wall-clock seconds and
 * microseconds, unique and increasing (conversations.history's oldest and
 * latest compare them with the bot's clock). */
static void next_ts(struct fake_slack *f, char out[32])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
    if (us <= f->last_ts_us)
        us = f->last_ts_us + 1;
    f->last_ts_us = us;
    f->ts_seq++;
    snprintf(out, 32, "%llu.%06llu", (unsigned long long)(us / 1000000u), (unsigned long long)(us % 1000000u));
}

static const char *api_connections_open(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)args;
    if (f->n_tickets == 0) {
        f->n_tickets = 1;
        f->tickets = xcalloc(1, 1);
    }
    if (!f->ticket_tags)
        f->ticket_tags = xcalloc(1, sizeof(*f->ticket_tags));
    size_t n = f->n_tickets;
    f->tickets = xrealloc(f->tickets, n + 1);
    f->tickets[n] = 1;
    f->ticket_tags = xrealloc(f->ticket_tags, (n + 1) * sizeof(*f->ticket_tags));
    str_lcpy(f->ticket_tags[n], f->cur_client ? f->cur_client : "", FS_TAG_LEN);
    f->n_tickets = n + 1;
    char url[256];
    if (f->tls_port)
        snprintf(url, sizeof(url), "wss://%s:%d/link/?ticket=%zu-%08x&app_id=" FS_APP, f->ws_host, f->tls_port,
                 n, f->prefix);
    else
        snprintf(url, sizeof(url), "ws://127.0.0.1:%d/link/?ticket=%zu-%08x&app_id=" FS_APP, f->port, n, f->prefix);
    cJSON_AddStringToObject(out, "url", url);
    return NULL;
}

static const char *api_auth_test(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    (void)f;
    (void)args;
    cJSON_AddStringToObject(out, "url", "https://fake.slack.com/");
    cJSON_AddStringToObject(out, "team", "Fake");
    cJSON_AddStringToObject(out, "user", "sirt");
    cJSON_AddStringToObject(out, "team_id", FS_TEAM);
    cJSON_AddStringToObject(out, "user_id", FS_BOT_USER);
    cJSON_AddStringToObject(out, "bot_id", FS_BOT_ID);
    cJSON_AddFalseToObject(out, "is_enterprise_install");
    return NULL;
}

static bool has_blocks(const cJSON *args)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "blocks");
    return cJSON_IsArray(b) || (cJSON_IsString(b) && b->valuestring[0]);
}

/* Slack's answer to blocks or a view it cannot take: code plus the
 * message with its JSON pointer in "errors" (blocks only) and in
 * response_metadata.messages with an "[ERROR] " prefix. */
const char *fake_slack__refuse(struct fake_slack *f, cJSON *out, const char *code, const char *msg)
{
    f->block_refusals++;
    str_lcpy(f->last_refusal, msg, sizeof(f->last_refusal));
    if (strcmp(code, "invalid_blocks") == 0) {
        cJSON *errors = cJSON_AddArrayToObject(out, "errors");
        cJSON_AddItemToArray(errors, cJSON_CreateString(msg));
    }
    cJSON *md = cJSON_AddObjectToObject(out, "response_metadata");
    cJSON *msgs = cJSON_AddArrayToObject(md, "messages");
    char line[600];
    snprintf(line, sizeof(line), "[ERROR] %s", msg);
    cJSON_AddItemToArray(msgs, cJSON_CreateString(line));
    return code;
}

static const char *check_blocks(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    char msg[512];
    if (fake_blocks_check_message(args, msg, sizeof(msg)))
        return NULL;
    return fake_slack__refuse(f, out, "invalid_blocks", msg);
}

static const char *api_post_message(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = fake_slack__arg_str(args, "channel");
    const char *text = fake_slack__arg_str(args, "text");
    if (!ch)
        return "channel_not_found";
    if (!text && !has_blocks(args))
        return "no_text";
    const char *bad = check_blocks(f, args, out);
    if (bad)
        return bad;
    cJSON *md = NULL;
    bad = fake_messages_check_metadata(args, &md);
    if (bad)
        return bad;
    char ts[32];
    next_ts(f, ts);
    const char *thread = fake_slack__arg_str(args, "thread_ts");
    fake_messages_add(f->msgs, ch, ts, thread, FS_BOT_USER, FS_BOT_ID, text, md);
    cJSON_AddStringToObject(out, "channel", ch);
    cJSON_AddStringToObject(out, "ts", ts);
    cJSON *m = cJSON_AddObjectToObject(out, "message");
    cJSON_AddStringToObject(m, "text", text ? text : "");
    cJSON_AddStringToObject(m, "user", FS_BOT_USER);
    cJSON_AddStringToObject(m, "bot_id", FS_BOT_ID);
    cJSON_AddStringToObject(m, "ts", ts);
    cJSON_AddStringToObject(m, "type", "message");
    if (thread)
        cJSON_AddStringToObject(m, "thread_ts", thread);
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(args, "blocks");
    if (cJSON_IsArray(blocks))
        cJSON_AddItemToObject(m, "blocks", cJSON_Duplicate(blocks, 1));
    if (md)
        cJSON_AddItemToObject(m, "metadata", cJSON_Duplicate(md, 1));
    return NULL;
}

static const char *api_post_ephemeral(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    if (!fake_slack__arg_str(args, "channel"))
        return "channel_not_found";
    if (!fake_slack__arg_str(args, "user"))
        return "user_not_found";
    if (!fake_slack__arg_str(args, "text") && !has_blocks(args))
        return "no_text";
    const char *bad = check_blocks(f, args, out);
    if (bad)
        return bad;
    char ts[32];
    next_ts(f, ts);
    cJSON_AddStringToObject(out, "message_ts", ts);
    return NULL;
}

static const char *api_chat_update(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = fake_slack__arg_str(args, "channel");
    const char *ts = fake_slack__arg_str(args, "ts");
    if (!ch)
        return "channel_not_found";
    if (!ts)
        return "message_not_found";
    const char *bad = check_blocks(f, args, out);
    if (bad)
        return bad;
    const char *text = fake_slack__arg_str(args, "text");
    cJSON_AddStringToObject(out, "channel", ch);
    cJSON_AddStringToObject(out, "ts", ts);
    cJSON_AddStringToObject(out, "text", text ? text : "");
    return NULL;
}

/* views.open / views.push / views.update: echo the view with id and hash. */
static const char *view_answer(struct fake_slack *f, const cJSON *args, cJSON *out, bool need_trigger)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, "view");
    cJSON *view = NULL;
    if (cJSON_IsObject(v))
        view = cJSON_Duplicate(v, 1);
    else if (cJSON_IsString(v))
        view = cJSON_Parse(v->valuestring);
    if (!cJSON_IsObject(view) || (need_trigger && !fake_slack__arg_str(args, "trigger_id"))) {
        cJSON_Delete(view);
        return "invalid_arguments";
    }
    char msg[512];
    if (!fake_blocks_check_view(view, msg, sizeof(msg))) {
        cJSON_Delete(view);
        return fake_slack__refuse(f, out, "invalid_arguments", msg);
    }
    char id[32], hash[48];
    const char *vid = fake_slack__arg_str(args, "view_id");
    if (vid)
        str_lcpy(id, vid, sizeof(id));
    else
        snprintf(id, sizeof(id), "V0FAKE%05u", ++f->view_seq);
    snprintf(hash, sizeof(hash), "%u.fakehash%08x", ++f->view_seq, f->prefix);
    cJSON_DeleteItemFromObjectCaseSensitive(view, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(view, "hash");
    cJSON_AddStringToObject(view, "id", id);
    cJSON_AddStringToObject(view, "hash", hash);
    cJSON_AddStringToObject(view, "team_id", FS_TEAM);
    cJSON_AddStringToObject(view, "app_id", FS_APP);
    cJSON_AddStringToObject(view, "bot_id", FS_BOT_ID);
    if (!cJSON_GetObjectItemCaseSensitive(view, "state")) {
        cJSON *st = cJSON_AddObjectToObject(view, "state");
        cJSON_AddObjectToObject(st, "values");
    }
    cJSON_AddItemToObject(out, "view", view);
    return NULL;
}

static const char *api_views_open(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    return view_answer(f, args, out, true);
}

static const char *api_views_update(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    return view_answer(f, args, out, false);
}

static const char *api_files_url(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", f->port);
    return fake_files_get_upload_url(f->files, base, args, out);
}

static const char *api_files_complete(struct fake_slack *f, const cJSON *args, cJSON *out)
{
    const char *ch = fake_slack__arg_str(args, "channel_id");
    if (ch) {
        const struct fake_channel *c = fake_slack__channel_find(f, ch);
        if (!c || !c->known)
            return "channel_not_found";
        if (!fake_slack_channel_has_member(c, FS_BOT_USER))
            return "not_in_channel";
    }
    return fake_files_complete(f->files, args, ch, out);
}


static const struct {
    const char *name;
    fake_slack__api_fn fn;
    bool app_token;
} api_table[] = {
    { "apps.connections.open", api_connections_open, true },
    { "auth.test", api_auth_test, false },
    { "chat.postEphemeral", api_post_ephemeral, false },
    { "chat.postMessage", api_post_message, false },
    { "chat.update", api_chat_update, false },
    { "conversations.create", fake_slack__conv_create, false },
    { "conversations.history", fake_slack__conv_history, false },
    { "conversations.info", fake_slack__conv_info, false },
    { "conversations.invite", fake_slack__conv_invite, false },
    { "conversations.list", fake_slack__conv_list, false },
    { "conversations.open", fake_slack__conv_open, false },
    { "conversations.replies", fake_slack__conv_replies, false },
    { "files.completeUploadExternal", api_files_complete, false },
    { "files.getUploadURLExternal", api_files_url, false },
    { "pins.add", fake_slack__pins_add, false },
    { "users.info", fake_slack__users_info, false },
    { "users.lookupByEmail", fake_slack__users_by_email, false },
    { "views.open", api_views_open, false },
    { "views.push", api_views_open, false },
    { "views.update", api_views_update, false },
};

fake_slack__api_fn fake_slack__api_find(const char *method, bool *app_token)
{
    for (size_t k = 0; k < ARRAY_LEN(api_table); k++) {
        if (strcmp(api_table[k].name, method) == 0) {
            *app_token = api_table[k].app_token;
            return api_table[k].fn;
        }
    }
    *app_token = false;
    return NULL;
}
