/* fake_files: the fake Slack's external file uploads (Slack's v2 flow,
 * protocol-facts-2 §6.5):
 *   files.getUploadURLExternal  filename (required: invalid_arguments),
 *       length (bytes, required and > 0: missing_argument / invalid_arguments);
 *       alt_txt over 1000 chars: alt_txt_too_large; length over 1 MB:
 *       file_upload_size_restricted.  Answers upload_url
 *       (<base>/upload/v1/<file id>) and file_id ("F0FAKE<n>").
 *   POST <upload_url>           the bytes, raw: 200 "OK - <n>" when the file
 *       is pending and exactly length bytes came; 404 for an unknown id;
 *       400 for a length mismatch or a file already shared.
 *   files.completeUploadExternal  files (a JSON array, or its JSON text in a
 *       form post) of {"id","title"?}: invalid_arguments when missing or
 *       malformed; each id known and uploaded, else file_not_found (also
 *       for a file already shared: the upload is over).  channel_id
 *       optional (the caller checks the channel first).  Answers
 *       files:[{id,title,name,size}].
 * Pure data, no I/O: fake_slack routes the calls here and owns the store
 * (freed with fake_files_destroy). */
#ifndef SIRT_FAKE_FILES_H
#define SIRT_FAKE_FILES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct fake_file {
    char *id;
    char *filename;
    char *title;           /* NULL until completed */
    char *channel;         /* where it was shared, NULL until completed (or shared privately) */
    size_t length;         /* as announced */
    char *content;         /* the bytes uploaded (NUL-terminated copy), NULL before */
    size_t content_len;
    int uploads;           /* POSTs of the bytes accepted */
    bool completed;
};

struct fake_files;
struct fake_files *fake_files_create(void);
void fake_files_destroy(struct fake_files *ff);   /* NULL: no-op */

/* Method bodies: NULL or a Slack error code.  base: "http://127.0.0.1:P". */
const char *fake_files_get_upload_url(struct fake_files *ff, const char *base, const cJSON *args, cJSON *out);
/* channel: the channel_id argument (already checked by the caller), or NULL. */
const char *fake_files_complete(struct fake_files *ff, const cJSON *args, const char *channel, cJSON *out);
/* The upload URL endpoint: path "/upload/v1/<id>".  Returns the HTTP
 * status and sets *msg to a static text for the body. */
int fake_files_upload(struct fake_files *ff, const char *path, const char *body, size_t len, const char **msg);

size_t fake_files_count(const struct fake_files *ff);
const struct fake_file *fake_files_get(const struct fake_files *ff, size_t idx);   /* creation order */

#endif
