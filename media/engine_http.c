/* media/engine_http.c: the `http` engine: the OpenAI-style Videos API over blocking libcurl
 * (POST /v1/videos, GET /v1/videos/{id}, GET /v1/videos/{id}/content,
 * POST /v1/videos/{id}/remix). Everything the engine sends is untrusted: answers are size-
 * capped while they arrive, JSON is parsed with jansson and checked field by field, job ids
 * are checked before they go into a URL, and redirects are never followed (a 3xx is an
 * engine failure). Runs on worker threads; one curl handle per engine object. */
#include "media/engine_adapter.h"

#include "core/mem.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JSON_MAX_BYTES (1 << 20)     /* a status answer is a few hundred bytes */
#define ERROR_BODY_BYTES 4096        /* what we keep of an error answer to a download */
#define RETRY_AFTER_MAX_S 3600

typedef struct http_impl {
    CURL *curl;
    char *base;                 /* base URL without a trailing '/' */
    char *model_standard, *model_pro;
    struct curl_slist *headers; /* Authorization, Accept, Content-Type, no Expect */
    int timeout_ms;
    char curl_err[CURL_ERROR_SIZE];
} http_impl;

/* Where an answer's body goes: memory for JSON (and for the error answer to a download),
 * the open file for a download's 2xx body. */
typedef struct sink {
    CURL *curl;
    char *buf;                  /* malloc'd, NUL-terminated; NULL until the first byte */
    size_t len, max;
    int keep_prefix;            /* over max: keep the first max bytes instead of failing */
    int fd;                     /* >= 0: a download; 2xx bytes go here */
    int64_t written, max_bytes;
    int overflow;               /* the answer was over its limit (the transfer was cut) */
    int write_errno;            /* a failed write() to fd */
    media_engine_tick tick;
    void *tick_arg;
    int stopped;                /* the tick asked to stop */
} sink;

static size_t to_memory(sink *s, const char *p, size_t n)
{
    if (s->len + n > s->max) {
        if (!s->keep_prefix) {
            s->overflow = 1;
            return 0;
        }
        n = s->max - s->len;
    }
    s->buf = xrealloc(s->buf, s->len + n + 1);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    sink *s = arg;
    size_t n = size * nmemb;
    long status = 0;
    if (s->fd >= 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (s->fd < 0 || status < 200 || status >= 300) {
        size_t kept = to_memory(s, p, n);
        return s->keep_prefix ? n : kept;
    }
    /* Checked before writing, so a clip over the limit never grows the file past it. */
    if (s->written + (int64_t)n > s->max_bytes) {
        s->overflow = 1;
        return 0;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(s->fd, p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            s->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    s->written += (int64_t)n;
    return n;
}

static int on_xfer(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    sink *s = arg;
    if (s->tick && s->tick(s->tick_arg, -1) != 0) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

/* Printable ASCII of an engine's message, for error_message: no control bytes, bounded. */
static void clean_text(const char *in, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    out[j] = '\0';
}

/* The message of an error answer ({"error": {"message": ...}}), cleaned; "" if none. */
static void error_answer_message(const sink *s, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!s->buf) return;
    json_t *root = json_loadb(s->buf, s->len, JSON_REJECT_DUPLICATES, NULL);
    json_t *msg = json_object_get(json_object_get(root, "error"), "message");
    if (json_is_string(msg)) clean_text(json_string_value(msg), out, outlen);
    json_decref(root);
}

/* Sets up h->curl for one call to url. body: JSON text to POST, or NULL for a GET. */
static void prepare(http_impl *h, const char *url, const char *body, sink *s)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    h->curl_err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "flickd");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
}

/* Turns how a transfer ended into an engine result; OK only for a complete 2xx answer. */
static media_engine_rc classify(media_engine *e, http_impl *h, const char *what, CURLcode cc,
                                const sink *s)
{
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (s->stopped) return media_engine_fail(e, MEDIA_ENGINE_STOPPED, "%s: stopped", what);
    if (s->fd >= 0 && (s->overflow || cc == CURLE_FILESIZE_EXCEEDED))
        return media_engine_fail(e, MEDIA_ENGINE_TOO_LARGE, "%s: the clip is larger than %lld bytes",
                                 what, (long long)s->max_bytes);
    if (s->overflow)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: the engine sent more than %zu bytes",
                                 what, s->max);
    if (s->write_errno)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: cannot write the clip: %s", what,
                                 strerror(s->write_errno));
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return media_engine_fail(e, MEDIA_ENGINE_TIMEOUT, "%s: the engine did not answer in time (%s)",
                                 what, h->curl_err[0] ? h->curl_err : curl_easy_strerror(cc));
    if (cc != CURLE_OK)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: %s", what,
                                 h->curl_err[0] ? h->curl_err : curl_easy_strerror(cc));
    char msg[256];
    error_answer_message(s, msg, sizeof msg);
    if (status >= 300 && status < 400)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY,
                                 "%s: the engine answered %ld (redirects are not followed)", what, status);
    if (status == 429) {
        curl_off_t after = 0;
        if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
            e->retry_after_s = after > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (int)after;
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: the engine is rate limiting (429)%s%s",
                                 what, msg[0] ? ": " : "", msg);
    }
    if (status >= 500)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: the engine answered %ld%s%s",
                                 what, status, msg[0] ? ": " : "", msg);
    if (status >= 400)
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "%s: the engine refused the request (%ld)%s%s",
                                 what, status, msg[0] ? ": " : "", msg);
    if (status < 200 || status >= 300)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: unexpected status %ld", what, status);
    return MEDIA_ENGINE_OK;
}

/* One JSON call: method POST when body is given, else GET. On OK *out is the answer, a JSON
 * object the caller owns. */
static media_engine_rc call_json(media_engine *e, const char *what, const char *path,
                                 json_t *body, json_t **out)
{
    http_impl *h = e->impl;
    *out = NULL;
    char url[1024];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    sink s = { .curl = h->curl, .max = JSON_MAX_BYTES, .fd = -1 };
    prepare(h, url, text, &s);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
    CURLcode cc = curl_easy_perform(h->curl);
    free(text);
    media_engine_rc rc = classify(e, h, what, cc, &s);
    if (rc != MEDIA_ENGINE_OK) goto out;
    json_error_t jerr;
    *out = s.buf ? json_loadb(s.buf, s.len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: the engine's answer is not a JSON object", what);
    }
out:
    free(s.buf);
    return rc;
}

/* Reads the job id of a submit or remix answer. */
static media_engine_rc read_job_id(media_engine *e, const char *what, json_t *answer, char *job_id)
{
    json_t *id = json_object_get(answer, "id");
    if (!json_is_string(id) || !media_engine_id_valid(json_string_value(id)))
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "%s: the engine's answer has no valid job id", what);
    snprintf(job_id, MEDIA_ENGINE_ID_MAX + 1, "%s", json_string_value(id));
    return MEDIA_ENGINE_OK;
}

static media_engine_rc http_submit(media_engine *e, const media_engine_request *r, char *job_id)
{
    http_impl *h = e->impl;
    int w, hgt;
    if (media_render_size(r->aspect, r->quality, &w, &hgt) != 0)
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "submit: unknown aspect");
    char size[32], seconds[16];
    snprintf(size, sizeof size, "%dx%d", w, hgt);
    snprintf(seconds, sizeof seconds, "%d", r->seconds);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}",
                             "model", r->quality == MEDIA_QUALITY_PRO ? h->model_pro : h->model_standard,
                             "prompt", r->prompt, "seconds", seconds, "size", size);
    if (!body)      /* jansson refuses text that is not UTF-8 */
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "submit: the prompt cannot be sent as JSON");
    json_t *answer = NULL;
    media_engine_rc rc = call_json(e, "submit", "/v1/videos", body, &answer);
    if (rc == MEDIA_ENGINE_OK) rc = read_job_id(e, "submit", answer, job_id);
    json_decref(body);
    json_decref(answer);
    return rc;
}

static media_engine_rc http_remix(media_engine *e, const media_engine_request *r,
                                  const char *source_id, char *job_id)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/videos/%s/remix", source_id);
    json_t *body = json_pack("{s:s}", "prompt", r->prompt);
    if (!body)
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "remix: the prompt cannot be sent as JSON");
    json_t *answer = NULL;
    media_engine_rc rc = call_json(e, "remix", path, body, &answer);
    if (rc == MEDIA_ENGINE_OK) rc = read_job_id(e, "remix", answer, job_id);
    json_decref(body);
    json_decref(answer);
    return rc;
}

static media_engine_rc http_poll(media_engine *e, const media_engine_request *r,
                                 const char *job_id, media_engine_status *out)
{
    (void)r;
    char path[256];
    snprintf(path, sizeof path, "/v1/videos/%s", job_id);
    json_t *answer = NULL;
    media_engine_rc rc = call_json(e, "poll", path, NULL, &answer);
    if (rc != MEDIA_ENGINE_OK) goto out;

    json_t *id = json_object_get(answer, "id");
    json_t *status = json_object_get(answer, "status");
    json_t *progress = json_object_get(answer, "progress");
    json_t *error = json_object_get(answer, "error");
    const char *st = json_string_value(status);
    if (id && (!json_is_string(id) || strcmp(json_string_value(id), job_id) != 0)) {
        rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "poll: the engine answered about another job");
        goto out;
    }
    if (!st) {
        rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "poll: the engine's answer has no status");
        goto out;
    }
    if (strcmp(st, "queued") == 0) out->state = MEDIA_ENGINE_QUEUED;
    else if (strcmp(st, "in_progress") == 0) out->state = MEDIA_ENGINE_IN_PROGRESS;
    else if (strcmp(st, "completed") == 0) out->state = MEDIA_ENGINE_COMPLETED;
    else if (strcmp(st, "failed") == 0) out->state = MEDIA_ENGINE_FAILED;
    else {
        rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "poll: unknown job status");
        goto out;
    }
    if (progress && !json_is_null(progress)) {
        if (!json_is_number(progress)) {
            rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "poll: progress is not a number");
            goto out;
        }
        double p = json_number_value(progress);
        out->progress = p < 0 ? 0 : p > 100 ? 100 : (int)p;
    }
    if (out->state == MEDIA_ENGINE_COMPLETED) out->progress = 100;
    if (error && !json_is_null(error)) {
        if (!json_is_object(error)) {
            rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "poll: error is not an object");
            goto out;
        }
        clean_text(json_string_value(json_object_get(error, "code")), out->error_code,
                   sizeof out->error_code);
        clean_text(json_string_value(json_object_get(error, "message")), out->error_message,
                   sizeof out->error_message);
    }
out:
    json_decref(answer);
    return rc;
}

static media_engine_rc http_fetch(media_engine *e, const media_engine_request *r,
                                  const char *job_id, const char *dest_path, int64_t max_bytes,
                                  media_engine_tick tick, void *tick_arg)
{
    (void)r;
    http_impl *h = e->impl;
    char url[1024];
    snprintf(url, sizeof url, "%s/v1/videos/%s/content", h->base, job_id);
    sink s = { .curl = h->curl, .max = ERROR_BODY_BYTES, .keep_prefix = 1, .max_bytes = max_bytes,
               .tick = tick, .tick_arg = tick_arg };
    s.fd = open(dest_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s.fd < 0)
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "fetch: cannot create %s: %s", dest_path,
                                 strerror(errno));
    prepare(h, url, NULL, &s);
    /* A clip may take a while; what must not happen is a stall, so the call timeout bounds
     * the time without a byte, and ten of them the whole download. */
    long stall_s = h->timeout_ms / 1000 > 0 ? h->timeout_ms / 1000 : 1;
    curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, stall_s);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, 10L * h->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    CURLcode cc = curl_easy_perform(h->curl);
    media_engine_rc rc = classify(e, h, "fetch", cc, &s);
    if (close(s.fd) != 0 && rc == MEDIA_ENGINE_OK)
        rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "fetch: cannot write the clip: %s", strerror(errno));
    if (rc == MEDIA_ENGINE_OK && s.written == 0)
        rc = media_engine_fail(e, MEDIA_ENGINE_RETRY, "fetch: the engine sent no content");
    if (rc != MEDIA_ENGINE_OK) unlink(dest_path);
    free(s.buf);
    return rc;
}

static void http_free(void *impl)
{
    http_impl *h = impl;
    if (!h) return;
    curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->base);
    free(h->model_standard);
    free(h->model_pro);
    free(h);
}

static const media_engine_ops http_ops = {
    .name = "http",
    .submit = http_submit,
    .remix = http_remix,
    .poll = http_poll,
    .fetch = http_fetch,
    .free_impl = http_free,
};

media_engine *media_engine_http_new(const media_engine_http_config *cfg)
{
    const char *url = cfg->base_url;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) return NULL;
    http_impl *h = xcalloc(1, sizeof *h);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    h->base = xstrndup(url, n);
    h->model_standard = xstrdup(cfg->model_standard ? cfg->model_standard : "sora-2");
    h->model_pro = xstrdup(cfg->model_pro ? cfg->model_pro : "sora-2-pro");
    h->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    size_t alen = strlen(cfg->api_key ? cfg->api_key : "") + 32;
    char *auth = xmalloc(alen);
    snprintf(auth, alen, "Authorization: Bearer %s", cfg->api_key ? cfg->api_key : "");
    h->headers = curl_slist_append(h->headers, auth);
    free(auth);
    h->headers = curl_slist_append(h->headers, "Accept: application/json");
    h->headers = curl_slist_append(h->headers, "Content-Type: application/json");
    h->headers = curl_slist_append(h->headers, "Expect:");
    return media_engine_wrap(&http_ops, h);
}
