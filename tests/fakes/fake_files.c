/* fake_files: the fake Slack's v2 file uploads (see fake_files.h): files
 * announced by files.getUploadURLExternal, their bytes POSTed to the
 * upload URL, shared by files.completeUploadExternal.  Every file and its
 * strings are owned by the store until fake_files_destroy. */
#include "fake_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bot/util.h"

#define FILE_MAX_BYTES (1024 * 1024)

struct fake_files {
    struct fake_file *v;
    size_t n, cap;
    unsigned seq;
};

struct fake_files *fake_files_create(void)
{
    return xcalloc(1, sizeof(struct fake_files));
}

void fake_files_destroy(struct fake_files *ff)
{
    if (!ff)
        return;
    for (size_t i = 0; i < ff->n; i++) {
        free(ff->v[i].id);
        free(ff->v[i].filename);
        free(ff->v[i].title);
        free(ff->v[i].channel);
        free(ff->v[i].content);
    }
    free(ff->v);
    free(ff);
}

static struct fake_file *find(struct fake_files *ff, const char *id)
{
    for (size_t i = 0; id && i < ff->n; i++)
        if (strcmp(ff->v[i].id, id) == 0)
            return &ff->v[i];
    return NULL;
}

/* A number argument: a JSON number, or digits in a form post. -1 if absent or not one. */
static long long num_arg(const cJSON *args, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k);
    if (cJSON_IsNumber(v))
        return v->valuedouble >= 0 ? (long long)v->valuedouble : -1;
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return -1;
    for (const char *p = v->valuestring; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    return strtoll(v->valuestring, NULL, 10);
}

const char *fake_files_get_upload_url(struct fake_files *ff, const char *base, const cJSON *args, cJSON *out)
{
    const char *filename = util_jstr(args, "filename");
    if (!filename || !filename[0])
        return "invalid_arguments";
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(args, "length");
    if (!lv)
        return "missing_argument";
    long long len = num_arg(args, "length");
    if (len < 0)
        return "invalid_arguments";
    if (len == 0)
        return "missing_argument";
    if (len > FILE_MAX_BYTES)
        return "file_upload_size_restricted";
    const char *alt = util_jstr(args, "alt_txt");
    if (alt && strlen(alt) > 1000)
        return "alt_txt_too_large";
    if (ff->n == ff->cap) {
        ff->cap = ff->cap ? ff->cap * 2 : 8;
        ff->v = xrealloc(ff->v, ff->cap * sizeof(*ff->v));
    }
    struct fake_file *f = &ff->v[ff->n++];
    memset(f, 0, sizeof(*f));
    f->id = xasprintf("F0FAKE%04u", ++ff->seq);
    f->filename = xstrdup(filename);
    f->length = (size_t)len;
    char *url = xasprintf("%s/upload/v1/%s", base, f->id);
    cJSON_AddStringToObject(out, "upload_url", url);
    cJSON_AddStringToObject(out, "file_id", f->id);
    free(url);
    return NULL;
}

int fake_files_upload(struct fake_files *ff, const char *path, const char *body, size_t len, const char **msg)
{
    const char *pre = "/upload/v1/";
    struct fake_file *f = strncmp(path, pre, strlen(pre)) == 0 ? find(ff, path + strlen(pre)) : NULL;
    if (!f) {
        *msg = "not found";
        return 404;
    }
    if (f->completed) {
        *msg = "upload already completed";
        return 400;
    }
    if (len != f->length) {
        *msg = "length does not match";
        return 400;
    }
    free(f->content);
    f->content = xstrndup(body ? body : "", len);
    f->content_len = len;
    f->uploads++;
    *msg = "OK";
    return 200;
}

const char *fake_files_complete(struct fake_files *ff, const cJSON *args, const char *channel, cJSON *out)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(args, "files");
    cJSON *parsed = NULL;
    if (cJSON_IsString(files)) {
        parsed = cJSON_Parse(files->valuestring);
        files = parsed;
    }
    const char *err = NULL;
    if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) == 0) {
        err = "invalid_arguments";
        goto out;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, files) {
        struct fake_file *f = cJSON_IsObject(x) ? find(ff, util_jstr(x, "id")) : NULL;
        if (!cJSON_IsObject(x) || !util_jstr(x, "id")) {
            err = "invalid_arguments";
            goto out;
        }
        if (!f || !f->content || f->completed) {
            err = "file_not_found";
            goto out;
        }
    }
    cJSON *arr = cJSON_AddArrayToObject(out, "files");
    cJSON_ArrayForEach(x, files) {
        struct fake_file *f = find(ff, util_jstr(x, "id"));
        const char *title = util_jstr(x, "title");
        f->completed = true;
        f->title = xstrdup(title && title[0] ? title : f->filename);
        f->channel = channel ? xstrdup(channel) : NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", f->id);
        cJSON_AddStringToObject(o, "title", f->title);
        cJSON_AddStringToObject(o, "name", f->filename);
        cJSON_AddNumberToObject(o, "size", (double)f->content_len);
        cJSON_AddItemToArray(arr, o);
    }
out:
    cJSON_Delete(parsed);
    return err;
}

size_t fake_files_count(const struct fake_files *ff)
{
    return ff ? ff->n : 0;
}

const struct fake_file *fake_files_get(const struct fake_files *ff, size_t idx)
{
    return ff && idx < ff->n ? &ff->v[idx] : NULL;
}
