/* api/http.c: answering requests and reading their input (see http.h). Every answer goes
 * through finish(), the one place that records metrics, logs and frees the request. */
#include "api/http.h"

#include "api/metrics.h"
#include "api/server.h"
#include "core/cursor.h"
#include "core/db.h"
#include "core/log.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static void finish(api_req *r, int status, struct evbuffer *body)
{
    if (r->replied) {
        log_msg(LOG_ERROR, "request answered twice", "\"request_id\":\"%s\"", r->request_id);
        abort();
    }
    r->replied = true;
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    evhttp_add_header(h, "X-Request-Id", r->request_id);
    api_conn_answering(r);
    /* A HEAD answer has headers only: a body would be read as the next response. Its
     * Content-Length is the one GET would send. */
    if (r->method == EVHTTP_REQ_HEAD) {
        if (!evhttp_find_header(h, "Content-Length") && status != 204 && status != 304) {
            char length[24];
            snprintf(length, sizeof length, "%zu", body ? evbuffer_get_length(body) : (size_t)0);
            evhttp_add_header(h, "Content-Length", length);
        }
        body = NULL;
    }
    evhttp_send_reply(r->ev, status, reason(status), body);
    api_conn_answered(r);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t elapsed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - r->started_ns;
    api_metrics_record(r->route, status, elapsed);
    log_level lvl = status >= 500 ? LOG_WARN : LOG_DEBUG;
    log_msg(lvl, "request", "\"request_id\":\"%s\",\"method\":\"%s\",\"path\":\"%.200s\",\"status\":%d,\"ms\":%.3f,\"user\":%lld",
            r->request_id, evhttp_request_get_command(r->ev) == EVHTTP_REQ_GET ? "GET" : "other",
            r->path ? r->path : "", status, (double)elapsed / 1e6, (long long)r->viewer.id);
    arena_free(r->arena);
    free(r);
}

void api_set_header(api_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

void api_reply_json(api_req *r, int status, json_t *body)
{
    struct evbuffer *out = evbuffer_new();
    char *text = json_dumps(body, JSON_COMPACT);
    evbuffer_add_reference(out, text, strlen(text), (evbuffer_ref_cleanup_cb)(void (*)(void))free, NULL);
    json_decref(body);
    api_set_header(r, "Content-Type", API_JSON);
    finish(r, status, out);
    evbuffer_free(out);
}

void api_reply_error(api_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    api_reply_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void api_reply_empty(api_req *r, int status)
{
    finish(r, status, NULL);
}

void api_reply_bytes(api_req *r, int status, const char *content_type, const void *data, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, data, len);
    api_set_header(r, "Content-Type", content_type);
    finish(r, status, out);
    evbuffer_free(out);
}

void api_reply_file(api_req *r, int status, const char *content_type, int fd,
                    int64_t offset, int64_t len)
{
    struct evbuffer *out = evbuffer_new();
    /* Only a buffer that drains to a socket keeps a file segment as sendfile; any other
     * buffer maps or reads the file into memory when the segment is added. The chains move
     * as they are into the connection's output, which is such a buffer. */
    evbuffer_set_flags(out, EVBUFFER_FLAG_DRAINS_TO_FD);
    int rc = 0;
    if (len > 0) {
        struct evbuffer_file_segment *seg =
            evbuffer_file_segment_new(fd, offset, len, EVBUF_FS_CLOSE_ON_FREE);
        if (seg) {
            rc = evbuffer_add_file_segment(out, seg, 0, len);
            evbuffer_file_segment_free(seg);    /* the buffer holds its own reference */
        } else {
            close(fd);
            rc = -1;
        }
    } else {
        close(fd);
    }
    if (rc != 0) {
        log_msg(LOG_WARN, "cannot queue a file for sending", "\"request_id\":\"%s\"", r->request_id);
        /* Headers set for the file (ETag, caching) must not ride on the error. */
        evhttp_clear_headers(evhttp_request_get_output_headers(r->ev));
        api_reply_unavailable(r);
        goto out;
    }
    char length[24];
    snprintf(length, sizeof length, "%lld", (long long)len);
    api_set_header(r, "Content-Type", content_type);
    api_set_header(r, "Content-Length", length);
    finish(r, status, out);
out:
    evbuffer_free(out);
}

void api_reply_unavailable(api_req *r)
{
    api_set_header(r, "Retry-After", "1");
    api_reply_error(r, 503, "unavailable", "the service is temporarily unavailable; retry shortly");
}

void api_reply_not_found(api_req *r)
{
    api_reply_error(r, 404, "not_found", "not found");
}

const char *api_header(const api_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

const char *api_query(const api_req *r, const char *name)
{
    return evhttp_find_header(r->query, name);
}

int api_page_limit(api_req *r, int *limit)
{
    const char *v = api_query(r, "limit");
    *limit = 20;
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 100) {
        api_reply_error(r, 400, "invalid_request", "limit must be a whole number from 1 to 100");
        return -1;
    }
    *limit = (int)n;
    return 0;
}

int api_page_cursor(api_req *r, char *payload)
{
    payload[0] = '\0';
    const char *v = api_query(r, "cursor");
    if (!v || !*v) return 0;
    /* A cursor names the route it came from, so one list's cursor is refused by another. */
    char sealed[CURSOR_MAX_PAYLOAD + 1], tag[16];
    int n = snprintf(tag, sizeof tag, "%d:", r->route);
    if (core_cursor_open(r->thread->server->cfg.secret, v, sealed) != 0 || strncmp(sealed, tag, (size_t)n) != 0) {
        api_reply_error(r, 400, "invalid_request", "cursor is not valid");
        return -1;
    }
    memmove(payload, sealed + n, strlen(sealed + n) + 1);
    return 1;
}

const PGresult *api_db_row(api_req *r, const db_reply *rep, int index, const char *missing)
{
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return NULL;
    }
    const PGresult *res = rep->results[index < 0 ? rep->nresults - 1 : index];
    if (PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "%s", missing);
        return NULL;
    }
    return res;
}

void api_reply_done(api_req *r, const db_reply *rep, const char *missing,
                    int status, const char *code, const char *refusal)
{
    const PGresult *res = api_db_row(r, rep, 0, missing);
    if (!res) return;
    if (PQgetvalue(res, 0, 0)[0] != 't') api_reply_error(r, status, code, "%s", refusal);
    else api_reply_empty(r, 204);
}

const char *api_viewer_id(api_req *r)
{
    return arena_printf(r->arena, "%lld", (long long)r->viewer.id);
}

const char *api_viewer_role(const api_req *r)
{
    return r->viewer.role == ROLE_ADMIN ? "admin" : r->viewer.role == ROLE_MODERATOR ? "moderator" : "user";
}

int api_page_keyset(api_req *r, int *limit, const char **after_ts, const char **after_id)
{
    char *cursor = arena_alloc(r->arena, CURSOR_MAX_PAYLOAD + 1);
    if (api_page_limit(r, limit) || api_page_cursor(r, cursor) < 0) return -1;
    *after_ts = *after_id = NULL;
    char *bar = strchr(cursor, '|');
    if (bar) {
        *bar = '\0';
        *after_ts = cursor;
        *after_id = bar + 1;
    } else if (cursor[0]) {
        api_reply_error(r, 400, "invalid_request", "cursor is not valid");
        return -1;
    }
    return 0;
}

void api_list_own(api_req *r, const char *sql, void (*done)(void *arg, const struct db_reply *rep))
{
    int *limit = arena_alloc(r->arena, sizeof *limit);
    const char *after_ts, *after_id;
    if (api_page_keyset(r, limit, &after_ts, &after_id)) return;
    r->state = limit;
    const char *params[] = { api_viewer_id(r), after_ts, after_id, arena_printf(r->arena, "%d", *limit + 1) };
    db_exec(r->thread->db, sql, 4, params, done, r);
}

void api_reply_list(api_req *r, json_t *items, const char *next_payload)
{
    json_t *next = json_null();
    if (next_payload) {
        char sealed[CURSOR_MAX_CHARS];
        core_cursor_seal(r->thread->server->cfg.secret, arena_printf(r->arena, "%d:%s", r->route, next_payload), sealed);
        next = json_string(sealed);
    }
    api_reply_json(r, 200, json_pack("{s:o,s:o}", "items", items, "next_cursor", next));
}

json_t *api_row_json(api_req *r, const PGresult *res, int row)
{
    (void)r;
    json_t *v = json_loads(PQgetvalue(res, row, 0), JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

void api_reply_page(api_req *r, const db_reply *rep, int index, api_row_item item, int cursor_col)
{
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[index < 0 ? rep->nresults + index : index];
    int n = PQntuples(res), limit = *(int *)r->state;
    json_t *items = json_array();
    for (int i = 0; i < n && i < limit; i++) json_array_append_new(items, item(r, res, i));
    api_reply_list(r, items, n > limit ? PQgetvalue(res, limit - 1, cursor_col) : NULL);
}

int api_body_object(api_req *r)
{
    if (!json_is_object(r->body)) {
        api_reply_error(r, 400, "invalid_request", "the body must be a JSON object");
        return -1;
    }
    return 0;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

int api_body_string(api_req *r, const char *field, bool required, size_t max_chars, const char **out)
{
    json_t *v = json_object_get(r->body, field);
    if (!v || json_is_null(v)) {
        if (required) {
            api_reply_error(r, 400, "invalid_request", "%s is required", field);
            return -1;
        }
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v)) {
        api_reply_error(r, 400, "invalid_request", "%s must be a string", field);
        return -1;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        api_reply_error(r, 400, "invalid_request", "%s must not contain NUL characters", field);
        return -1;
    }
    if (max_chars && utf8_chars(s) > max_chars) {
        api_reply_error(r, 400, "invalid_request", "%s is too long (at most %zu characters)", field, max_chars);
        return -1;
    }
    *out = s;
    return 0;
}

int api_body_int(api_req *r, const char *field, bool required, long long *out, bool *present)
{
    json_t *v = json_object_get(r->body, field);
    if (present) *present = v && !json_is_null(v);
    if (!v || json_is_null(v)) {
        if (required) {
            api_reply_error(r, 400, "invalid_request", "%s is required", field);
            return -1;
        }
        return 0;
    }
    if (!json_is_integer(v)) {
        api_reply_error(r, 400, "invalid_request", "%s must be a whole number", field);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int api_body_bool(api_req *r, const char *field, bool *out, bool *present)
{
    json_t *v = json_object_get(r->body, field);
    if (present) *present = v && !json_is_null(v);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        api_reply_error(r, 400, "invalid_request", "%s must be true or false", field);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}
