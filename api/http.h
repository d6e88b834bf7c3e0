/* api/http.h: one HTTP request as the handlers see it, and the ways to answer it.
 *
 * Every request is answered exactly once through api_reply_*; answering releases the
 * request's arena and everything deferred on it. Handlers run on one event loop and must
 * not block it. Not for routing (router.c) or connection policing (server.c). */
#ifndef FLICK_API_HTTP_H
#define FLICK_API_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/framing.h"
#include "core/mem.h"

struct evhttp_request;
struct evkeyvalq;
typedef struct api_thread api_thread;

#define API_MAX_PARAMS 4

typedef enum api_role { ROLE_USER = 0, ROLE_MODERATOR, ROLE_ADMIN } api_role;

/* The authenticated caller, filled by the auth step before a protected handler runs. */
typedef struct api_viewer {
    int64_t id;                 /* 0 when anonymous */
    char username[32];
    api_role role;
    bool pro;                   /* tier pro */
    bool minor;                 /* under 18 */
    char token_hash[67];        /* SHA-256 of the bearer token as a bytea literal, for logout */
} api_viewer;

typedef struct api_req {
    struct evhttp_request *ev;  /* libevent's request; owned by libevent */
    api_thread *thread;         /* the loop this request runs on: db, kv, work */
    arena *arena;               /* freed when the reply is sent */
    int method;                 /* EVHTTP_REQ_* */
    const char *path;           /* decoded path, no query (arena) */
    struct evkeyvalq *query;    /* parsed query string (deferred free) */
    const char *params[API_MAX_PARAMS]; /* {name} segments of the route, in order (arena) */
    int route;                  /* index in the route table, for metrics; -1 unmatched */
    char request_id[API_MAX_REQUEST_ID + 1];
    char client_ip[64];
    api_viewer viewer;
    json_t *body;               /* parsed JSON body or NULL (deferred decref) */
    const unsigned char *raw_body; /* request body bytes (arena); raw_len bytes */
    size_t raw_len;
    uint64_t started_ns;        /* monotonic, for the latency histogram */
    bool replied;               /* set by api_reply_*; a second reply aborts */
    struct conn *conn;          /* the connection's guard (server.c); NULL if unknown */
    void *state;                /* the handler's own state (arena memory), for callbacks
                                   that are handed only the request */
} api_req;

/* The Content-Type of every JSON answer. */
#define API_JSON "application/json; charset=utf-8"

/* Answers with `body` (takes the reference) as JSON. */
void api_reply_json(api_req *r, int status, json_t *body);
/* Answers {"error":{"code","message"}}. */
void api_reply_error(api_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers with no body (204, 304 ...). */
void api_reply_empty(api_req *r, int status);
/* Answers with raw bytes (borrowed; copied) and a content type. */
void api_reply_bytes(api_req *r, int status, const char *content_type, const void *data, size_t len);
/* Answers with bytes [offset, offset + len) of the open regular file `fd` and a content type
 * (Content-Length is len). Takes ownership of fd: it is closed once the bytes are sent, or at
 * once if the reply cannot be built (then the answer is 503). The bytes go to the socket with
 * sendfile where the platform has it; they are never read into memory here. */
void api_reply_file(api_req *r, int status, const char *content_type, int fd,
                    int64_t offset, int64_t len);
/* Adds a response header before the reply. */
void api_set_header(api_req *r, const char *name, const char *value);

/* Common answers. */
void api_reply_unavailable(api_req *r);     /* 503 unavailable */
void api_reply_not_found(api_req *r);       /* 404 not_found */

/* A request header, or NULL. */
const char *api_header(const api_req *r, const char *name);
/* A query parameter, or NULL. */
const char *api_query(const api_req *r, const char *name);

/* Reads ?limit= (default 20, 1..100). Returns 0, or answers 400 itself and returns -1. */
int api_page_limit(api_req *r, int *limit);

struct db_reply;
/* The result of statement `index` (-1: the last) when it holds exactly one row; otherwise
 * NULL after answering: 503 if the query failed, 404 not_found with `missing` if no row. */
const struct pg_result *api_db_row(api_req *r, const struct db_reply *rep, int index, const char *missing);
/* For a query whose one row holds whether the action was allowed (statement 0, column 0):
 * 204 when it was; `status` with `code` and `refusal` when not; 404 `missing` without a row. */
void api_reply_done(api_req *r, const struct db_reply *rep, const char *missing,
                    int status, const char *code, const char *refusal);

/* The viewer's id as decimal text, and role name, for query parameters (arena memory). */
const char *api_viewer_id(api_req *r);
const char *api_viewer_role(const api_req *r);

/* Keyset paging, newest first: reads ?limit= and a ?cursor= holding "<time>|<id>" (the last
 * row shown). Sets *after_ts and *after_id (NULL for the first page). Returns 0, or answers 400
 * itself and returns -1. */
int api_page_keyset(api_req *r, int *limit, const char **after_ts, const char **after_id);
/* SQL for a keyset cursor column: the row's time to the microsecond, "|", its id. */
#define API_KEYSET(ts, id) "to_char(" ts " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '|' || " id
/* One page of the viewer's own rows, newest first: runs sql with $1 the viewer's id, $2 and
 * $3 the cursor's time and id (NULL on the first page) and $4 the page size plus one, and
 * hands the reply to done with r->state holding the limit (as api_reply_page wants). */
void api_list_own(api_req *r, const char *sql, void (*done)(void *arg, const struct db_reply *rep));

/* Reads ?cursor= into payload (CURSOR_MAX_PAYLOAD + 1 bytes). Returns 1 with a cursor, 0
 * without one (payload ""), or answers 400 itself and returns -1 for a forged one. */
int api_page_cursor(api_req *r, char *payload);
/* Answers 200 {"items": items, "next_cursor": sealed(next) or null}; takes `items`. */
void api_reply_list(api_req *r, json_t *items, const char *next_payload);

/* One row of a page as its list item: a new reference, never NULL. */
typedef json_t *(*api_row_item)(api_req *r, const struct pg_result *res, int row);
/* The item of a row whose column 0 is JSON text PostgreSQL built (null if it is broken). */
json_t *api_row_json(api_req *r, const struct pg_result *res, int row);
/* Answers a page from statement `index` of rep (-1: the last): item() of each of the first
 * *(int *)r->state rows (the limit; the query asked for one more), and when that extra row
 * came back, a next_cursor holding column `cursor_col` of the last row shown. 503 when the
 * query failed. */
void api_reply_page(api_req *r, const struct db_reply *rep, int index, api_row_item item, int cursor_col);

/* Body field readers. Each returns 0 with *out set (NULL / unchanged when absent and not
 * required), or answers 400 naming the field and returns -1. Strings are counted in
 * characters (UTF-8 code points); jansson has already checked the encoding. */
int api_body_string(api_req *r, const char *field, bool required, size_t max_chars, const char **out);
int api_body_int(api_req *r, const char *field, bool required, long long *out, bool *present);
int api_body_bool(api_req *r, const char *field, bool *out, bool *present);
/* Requires the body to be a JSON object; answers 400 otherwise. */
int api_body_object(api_req *r);

#endif
