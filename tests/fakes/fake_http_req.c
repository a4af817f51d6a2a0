/* fake_http_req: the request side of fake_http (see fake_http.h): the
 * records and their lookups, a request's arguments, the path patterns and
 * the fail/outage/delay rules they select, and the answer builders the
 * handlers call.  Records are owned by the fake (fake_http.c frees them);
 * args_json hands the caller a cJSON to delete. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_http_state.h"

/* ------------------------------------------------------------------ */
/* helpers */

uint64_t fake_http_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *url_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* obj[k] = v; "k[]" keys collect into an array "k[]". */
static void args_put(cJSON *obj, const char *k, const char *v, bool replace)
{
    size_t kl = strlen(k);
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(obj, k);
    if (kl > 2 && strcmp(k + kl - 2, "[]") == 0) {
        if (!cur)
            cur = cJSON_AddArrayToObject(obj, k);
        if (cJSON_IsArray(cur))
            cJSON_AddItemToArray(cur, cJSON_CreateString(v));
        return;
    }
    if (!cur)
        cJSON_AddStringToObject(obj, k, v);
    else if (replace)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, k, cJSON_CreateString(v));
}

static void form_into(cJSON *obj, const char *s, size_t n)
{
    size_t i = 0;
    for (int guard = 0; i < n && guard < 100000; guard++) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && s[eq] != '=')
                eq++;
            char *k = url_decode(s + i, eq - i);
            char *v = eq < j ? url_decode(s + eq + 1, j - eq - 1) : xstrdup("");
            if (k[0])
                args_put(obj, k, v, true);
            free(k);
            free(v);
        }
        i = j + 1;
    }
}

static bool ci_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

void fake_http__push_pair(size_t *n, char ***names, char ***values, char *name, char *value)
{
    *names = xrealloc(*names, (*n + 1) * sizeof(char *));
    *values = xrealloc(*values, (*n + 1) * sizeof(char *));
    (*names)[*n] = name;
    (*values)[*n] = value;
    (*n)++;
}

void fake_http__rec_free(struct fake_http_request *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->path);
    free(r->match_path);
    free(r->query);
    for (size_t i = 0; i < r->n_args; i++) {
        free(r->arg_names[i]);
        free(r->arg_values[i]);
    }
    free(r->arg_names);
    free(r->arg_values);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->header_names[i]);
        free(r->header_values[i]);
    }
    free(r->header_names);
    free(r->header_values);
    free(r->body);
    free(r->resp_body);
    free(r);
}

/* ------------------------------------------------------------------ */
/* patterns */

/* '*' = [^/]*; a trailing "/ **" (no space) matches the rest. */
static bool glob_path(const char *p, const char *s)
{
    for (int guard = 0; guard < 4096; guard++) {
        if (p[0] == '/' && p[1] == '*' && p[2] == '*' && p[3] == '\0')
            return *s == '\0' || *s == '/';
        if (*p == '\0')
            return *s == '\0';
        if (*p == '*') {
            /* try every split within the current segment */
            const char *t = s;
            for (int k = 0; k < 4096; k++) {
                if (glob_path(p + 1, t))
                    return true;
                if (*t == '\0' || *t == '/')
                    return false;
                t++;
            }
            return false;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    return false;
}

bool fake_http_match(const char *pattern, const char *method, const char *path)
{
    if (!pattern)
        return true;
    const char *p = pattern;
    if (*p != '/') {
        size_t ml = strcspn(p, " ");
        if (p[ml] != ' ')
            return false;
        if (!(ml == 1 && p[0] == '*') && (strlen(method) != ml || strncmp(p, method, ml) != 0))
            return false;
        p += ml;
        while (*p == ' ')
            p++;
    }
    return glob_path(p, path);
}

struct fh_rule *fake_http__take_rule(struct fh_rule *rules, size_t n, const struct fake_http_request *r)
{
    for (size_t i = 0; i < n; i++) {
        if (rules[i].times <= 0 || !fake_http_match(rules[i].pattern, r->method, r->match_path))
            continue;
        if (rules[i].outage) {
            if (rules[i].until_us && fake_http_now_us() >= rules[i].until_us) {
                rules[i].times = 0;   /* over */
                continue;
            }
            return &rules[i];
        }
        rules[i].times--;
        return &rules[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* answers */

void fake_http__resp_init(struct fake_http_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 200;
    str_lcpy(resp->ctype, "application/json", sizeof(resp->ctype));
    buf_init(&resp->body, 0);
    buf_puts(&resp->body, "{}");
}

void fake_http__resp_finish(struct fake_http_resp *resp)
{
    buf_finish(&resp->body);
    for (int i = 0; i < resp->n_xh; i++) {
        free(resp->xh_names[i]);
        free(resp->xh_values[i]);
    }
    resp->n_xh = 0;
}

void fake_http_reply(struct fake_http_resp *resp, int status, const char *content_type, const char *body)
{
    resp->status = status;
    str_lcpy(resp->ctype, content_type ? content_type : "application/json", sizeof(resp->ctype));
    buf_reset(&resp->body);
    buf_puts(&resp->body, body ? body : "");
}

void fake_http_reply_json(struct fake_http_resp *resp, int status, const cJSON *body)
{
    char *s = cJSON_PrintUnformatted(body);
    if (!s)
        abort();
    fake_http_reply(resp, status, "application/json", s);
    cJSON_free(s);
}

void fake_http_reply_msg(struct fake_http_resp *resp, int status, const char *key, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, key, msg);
    fake_http_reply_json(resp, status, o);
    cJSON_Delete(o);
}

void fake_http_reply_header(struct fake_http_resp *resp, const char *name, const char *value)
{
    if (resp->n_xh == FH_MAX_XH)
        return;
    /* lws wants "name:" */
    char *n = xasprintf("%s:", name);
    for (char *c = n; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    resp->xh_names[resp->n_xh] = n;
    resp->xh_values[resp->n_xh] = xstrdup(value);
    resp->n_xh++;
}

/* ------------------------------------------------------------------ */
/* knobs and records */

void fake_http__rules_free(struct fh_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i].pattern);
        free(rules[i].ctype);
        free(rules[i].body);
    }
    free(rules);
}

static struct fh_rule *add_rule(struct fh_rule **rules, size_t *n, const char *pattern, int times)
{
    *rules = xrealloc(*rules, (*n + 1) * sizeof(**rules));
    struct fh_rule *x = &(*rules)[(*n)++];
    memset(x, 0, sizeof(*x));
    x->pattern = xstrdup(pattern);
    x->times = times;
    return x;
}

void fake_http_fail(struct fake_http *h, const char *pattern, int times, int status, const char *content_type,
                    const char *body, int retry_after)
{
    struct fh_rule *x = add_rule(&h->fails, &h->n_fails, pattern, times);
    x->status = status;
    x->ctype = xstrdup(content_type);
    x->body = xstrdup(body);
    x->retry_after = retry_after;
}

void fake_http_outage(struct fake_http *h, const char *pattern, int status, int ms)
{
    struct fh_rule *x = add_rule(&h->fails, &h->n_fails, pattern, 1);
    x->status = status;
    x->outage = true;
    x->until_us = ms > 0 ? fake_http_now_us() + (uint64_t)ms * 1000 : 0;
}

void fake_http_outage_end(struct fake_http *h)
{
    for (size_t i = 0; i < h->n_fails; i++)
        if (h->fails[i].outage)
            h->fails[i].times = 0;
}

void fake_http_delay(struct fake_http *h, const char *pattern, int times, int ms)
{
    struct fh_rule *x = add_rule(&h->delays, &h->n_delays, pattern, times);
    x->ms = ms;
}

void fake_http_delay_clear(struct fake_http *h)
{
    for (size_t i = 0; i < h->n_delays; i++)
        h->delays[i].times = 0;
}

size_t fake_http_count(const struct fake_http *h, const char *pattern)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_recs; i++)
        if (fake_http_match(pattern, h->recs[i]->method, h->recs[i]->match_path))
            n++;
    return n;
}

const struct fake_http_request *fake_http_request(const struct fake_http *h, const char *pattern, size_t idx)
{
    for (size_t i = 0; i < h->n_recs; i++)
        if (fake_http_match(pattern, h->recs[i]->method, h->recs[i]->match_path) && idx-- == 0)
            return h->recs[i];
    return NULL;
}

const struct fake_http_request *fake_http_last(const struct fake_http *h, const char *pattern)
{
    for (size_t i = h->n_recs; i-- > 0;)
        if (fake_http_match(pattern, h->recs[i]->method, h->recs[i]->match_path))
            return h->recs[i];
    return NULL;
}

size_t fake_http_answered(const struct fake_http *h)
{
    return h->answered;
}

const char *fake_http_arg(const struct fake_http_request *r, const char *name, size_t idx)
{
    for (size_t i = 0; i < r->n_args; i++)
        if (strcmp(r->arg_names[i], name) == 0 && idx-- == 0)
            return r->arg_values[i];
    return NULL;
}

const char *fake_http_header(const struct fake_http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (ci_eq(r->header_names[i], name))
            return r->header_values[i];
    return NULL;
}

cJSON *fake_http_args_json(const struct fake_http_request *r)
{
    const char *ct = fake_http_header(r, "content-type");
    cJSON *args;
    if (ct && str_starts(ct, "application/json") && r->body_len) {
        args = cJSON_ParseWithLength(r->body, r->body_len);
        if (!cJSON_IsObject(args)) {
            cJSON_Delete(args);
            return NULL;
        }
    } else {
        args = cJSON_CreateObject();
        if (r->body_len)
            form_into(args, r->body, r->body_len);
    }
    for (size_t i = 0; i < r->n_args; i++)
        if (r->arg_names[i][0])
            args_put(args, r->arg_names[i], r->arg_values[i], false);
    return args;
}
