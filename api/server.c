/* api/server.c: the `serve` role. Threads, each with an event loop, share one listening
 * socket. Every accepted connection gets a guard that sees its raw bytes before libevent's
 * parser: it checks framing (framing.c), holds each request to a deadline that does not
 * restart per byte, and caps connections per client address. Requests that pass reach
 * on_request, which routes, authenticates and calls the handler. */
#include "api/server.h"

#include "api/auth.h"
#include "api/caches.h"
#include "api/framing.h"
#include "api/http.h"
#include "api/metrics.h"
#include "api/router.h"
#include "core/log.h"
#include "core/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- per-address connection counts (shared by all loops) ---- */

#define IP_BUCKETS 4096

typedef struct ip_count {
    struct ip_count *next;
    char ip[64];
    int conns;          /* open connections from this address; entry freed at 0 */
} ip_count;

static pthread_mutex_t ip_mu = PTHREAD_MUTEX_INITIALIZER;
static ip_count *ip_table[IP_BUCKETS];

static unsigned ip_hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % IP_BUCKETS;
}

/* Counts a new connection from ip; returns 0, or -1 (not counted) when at the cap. */
static int ip_acquire(const char *ip, int cap)
{
    int rc = 0;
    pthread_mutex_lock(&ip_mu);
    ip_count **slot = &ip_table[ip_hash(ip)], *e;
    for (e = *slot; e && strcmp(e->ip, ip) != 0; e = e->next) {}
    if (!e) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->ip, sizeof e->ip, "%s", ip);
        e->next = *slot;
        *slot = e;
    }
    if (e->conns >= cap) rc = -1;
    else e->conns++;
    pthread_mutex_unlock(&ip_mu);
    return rc;
}

static void ip_release(const char *ip)
{
    pthread_mutex_lock(&ip_mu);
    for (ip_count **pp = &ip_table[ip_hash(ip)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->ip, ip) != 0) continue;
        if (--(*pp)->conns == 0) {
            ip_count *dead = *pp;
            *pp = dead->next;
            free(dead);
        }
        break;
    }
    pthread_mutex_unlock(&ip_mu);
}

/* ---- the connection guard ---- */

typedef struct conn {
    struct api_thread *t;
    struct bufferevent *bev;        /* owned by libevent's connection */
    struct evhttp_connection *evcon;/* known once setup has run */
    struct evbuffer_cb_entry *input_cb;
    struct event *setup;            /* runs once, right after accept */
    struct event *deadline;         /* request deadline, then the linger after a rejection */
    char ip[64];
    int counted;                    /* holds one count in ip_table */
    int rejected;                   /* refused: only draining until close */
    int poisoned;                   /* refused while earlier requests await their answers:
                                       the refusal is sent after the last of them */
    int p_status;                   /* poisoned: the refusal to send */
    const char *p_code, *p_message;
    int pending;                    /* complete requests received, not yet dispatched */
    int inflight;                   /* requests dispatched, not yet answered */
    int closed;                     /* libevent freed the connection; freed at inflight 0 */
    int rewriting;                  /* re-adding kept bytes: not new input */
    uint64_t added;                 /* bytes ever received; stream position of the next */
    uint64_t req_start;             /* stream position where the current request began */
    struct conn *next;              /* chain in this loop's by_evcon table */
    api_framer framer;
} conn;

/* Each loop's connections by libevent connection, so a request finds its guard. Only the
 * loop's own thread touches its table. */
#define CONN_BUCKETS 1024
static _Thread_local conn *by_evcon[CONN_BUCKETS];

static unsigned evcon_slot(const struct evhttp_connection *evcon)
{
    return (unsigned)(((uintptr_t)evcon >> 4) % CONN_BUCKETS);
}

static conn *conn_of(const struct evhttp_connection *evcon)
{
    conn *c = by_evcon[evcon_slot(evcon)];
    while (c && c->evcon != evcon) c = c->next;
    return c;
}

static void conn_forget(conn *c)
{
    for (conn **pp = &by_evcon[evcon_slot(c->evcon)]; *pp; pp = &(*pp)->next)
        if (*pp == c) { *pp = c->next; break; }
}

static void reject_conn(conn *c, int status, const char *code, const char *message);

static void on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    conn *c = arg;
    if (c->counted) ip_release(c->ip);
    atomic_fetch_sub_explicit(&c->t->conns, 1, memory_order_relaxed);
    conn_forget(c);
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_cb);
    event_free(c->setup);
    event_free(c->deadline);
    c->closed = 1;
    c->bev = NULL;
    /* A handler still working holds the guard until it answers (api_conn_answered). */
    if (c->inflight == 0) free(c);
}

static void send_refusal(conn *c, struct evbuffer *out, int status, const char *code, const char *message);
static int valid_request_id(const char *s);

void api_conn_answering(api_req *r)
{
    conn *c = r->conn;
    /* The last answer before a deferred refusal closes the connection after it. */
    if (c && !c->closed && c->poisoned && c->pending == 0 && c->inflight == 1)
        api_set_header(r, "Connection", "close");
}

void api_conn_answered(api_req *r)
{
    conn *c = r->conn;
    if (!c) return;
    c->inflight--;
    if (c->closed) {
        if (c->inflight == 0) free(c);
        return;
    }
    if (c->poisoned && c->pending == 0 && c->inflight == 0) {
        /* Queued behind the answer just sent, so the client reads them in order. */
        send_refusal(c, bufferevent_get_output(c->bev), c->p_status, c->p_code, c->p_message);
        c->poisoned = 0;
    }
}

/* Keeps the first `keep` bytes of buf and drops the rest, without it looking like input. */
static void cut_tail(conn *c, struct evbuffer *buf, size_t keep)
{
    struct evbuffer *head = evbuffer_new();
    evbuffer_remove_buffer(buf, head, keep);
    evbuffer_drain(buf, evbuffer_get_length(buf));
    c->rewriting = 1;
    evbuffer_add_buffer(buf, head);
    c->rewriting = 0;
    evbuffer_free(head);
}

/* A refused request behind requests that still await their answers (pipelining): those
 * are answered first, and the refusal follows the last of them. */
static int defer_refusal(conn *c, struct evbuffer *buf)
{
    uint64_t first = c->added - evbuffer_get_length(buf);  /* stream position of buf[0] */
    if (c->req_start < first) return 0;     /* libevent already holds part of the bad one */
    size_t keep = (size_t)(c->req_start - first);
    if (keep == 0 && c->inflight == 0) return 0;
    cut_tail(c, buf, keep);
    evtimer_del(c->deadline);
    c->rejected = 1;
    c->poisoned = 1;
    c->p_status = c->framer.status;
    c->p_code = c->framer.code;
    c->p_message = c->framer.message;
    log_msg(LOG_INFO, "connection rejected", "\"client\":\"%s\",\"status\":%d,\"reason\":\"%s\"",
            c->ip, c->p_status, c->p_message);
    return 1;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    conn *c = arg;
    if (c->rejected) {
        evhttp_connection_free(c->evcon);   /* runs on_conn_closed */
        return;
    }
    reject_conn(c, 408, "timeout", "request not received in time");
}

/* Answers straight on the socket, half-closes, and drains whatever else arrives for a
 * moment, so the client reads the answer instead of a reset. libevent's parser never sees
 * the rejected bytes, so nothing smuggled behind them can be answered. */
/* The guard's own answers: JSON errors with a request id (the client's, when the refused
 * request's head was read and carries a valid one), closing the connection. */
static void send_refusal(conn *c, struct evbuffer *out, int status, const char *code, const char *message)
{
    static const char *const reasons[] = { [400] = "Bad Request", [408] = "Request Timeout",
        [405] = "Method Not Allowed", [413] = "Payload Too Large", [429] = "Too Many Requests",
        [431] = "Request Header Fields Too Large" };
    const char *reason = status < 432 && reasons[status] ? reasons[status] : "Error";
    char body[256], rid[sizeof c->framer.request_id];
    if (valid_request_id(c->framer.request_id)) {
        memcpy(rid, c->framer.request_id, sizeof rid);
    } else {
        unsigned char raw[12];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(rid, sizeof rid, raw, sizeof raw);
    }
    int blen = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
    /* A method the server never serves: Allow names the ones this path has (none for an
     * unknown path). Too many connections: retry once one has closed. */
    char extra[160] = "";
    if (status == 405) {
        char methods[128] = "";
        if (c->framer.path[0]) api_route_match(0, c->framer.path, NULL, NULL, methods, sizeof methods);
        snprintf(extra, sizeof extra, "Allow: %s\r\n", methods);
    } else if (status == 429) {
        snprintf(extra, sizeof extra, "Retry-After: 1\r\n");
    }
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n%sContent-Type: application/json; charset=utf-8\r\n"
                             "X-Request-Id: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                        status, reason, extra, rid, blen, body);
}

static void reject_conn(conn *c, int status, const char *code, const char *message)
{
    c->rejected = 1;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        struct evbuffer *msg = evbuffer_new();
        send_refusal(c, msg, status, code, message);
        size_t n = evbuffer_get_length(msg);
        ssize_t w = send(fd, evbuffer_pullup(msg, (ev_ssize_t)n), n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;    /* a client that cannot take 300 bytes gets only the close */
        evbuffer_free(msg);
        shutdown(fd, SHUT_WR);
    }
    log_msg(LOG_INFO, "connection rejected", "\"client\":\"%s\",\"status\":%d,\"reason\":\"%s\"",
            c->ip, status, message);
    struct timeval linger = { 2, 0 };
    evtimer_add(c->deadline, &linger);
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;
    if (info->n_added == 0 || c->rewriting) return;
    c->added += info->n_added;
    if (c->rejected) {
        /* Only draining now; bytes kept for requests still to be answered stay. */
        size_t len = evbuffer_get_length(buf);
        if (c->poisoned) cut_tail(c, buf, len - info->n_added);
        else evbuffer_drain(buf, len);
        return;
    }
    uint64_t chunk_start = c->added - info->n_added;
    size_t done = 0;
    /* The new bytes are the last n_added of the buffer. */
    struct evbuffer_ptr pos;
    evbuffer_ptr_set(buf, &pos, evbuffer_get_length(buf) - info->n_added, EVBUFFER_PTR_SET);
    struct evbuffer_iovec vec[16];
    size_t left = info->n_added;
    while (left > 0) {
        int n = evbuffer_peek(buf, (ev_ssize_t)left, &pos, vec, 16);
        if (n <= 0) break;
        if (n > 16) n = 16;
        for (int i = 0; i < n && left > 0; i++) {
            const char *p = vec[i].iov_base;
            size_t len = vec[i].iov_len < left ? vec[i].iov_len : left;
            left -= len;
            evbuffer_ptr_set(buf, &pos, len, EVBUFFER_PTR_ADD);
            while (len > 0) {
                api_frame_event ev;
                size_t used = api_framer_feed(&c->framer, p, len, &ev);
                if (ev == FRAME_START) c->req_start = chunk_start + done + used;
                p += used;
                len -= used;
                done += used;
                if (ev == FRAME_START) {
                    struct timeval tv = { c->t->server->cfg.request_timeout_ms / 1000,
                                          (c->t->server->cfg.request_timeout_ms % 1000) * 1000 };
                    evtimer_add(c->deadline, &tv);
                } else if (ev == FRAME_END) {
                    evtimer_del(c->deadline);
                    c->pending++;
                } else if (ev == FRAME_REJECT) {
                    if (!defer_refusal(c, buf))
                        reject_conn(c, c->framer.status, c->framer.code, c->framer.message);
                    return;
                }
            }
        }
    }
}

/* Runs right after libevent has wrapped the accepted socket (made active from the bev
 * callback, so it runs before any of the socket's events can). */
static void on_setup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    conn *c = arg;
    void *cbarg = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
    c->evcon = cbarg;
    unsigned slot = evcon_slot(c->evcon);
    c->next = by_evcon[slot];
    by_evcon[slot] = c;
    evhttp_connection_set_closecb(c->evcon, on_conn_closed, c);
    atomic_fetch_add_explicit(&c->t->conns, 1, memory_order_relaxed);
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(c->evcon, &addr, &port);
    snprintf(c->ip, sizeof c->ip, "%s", addr ? addr : "unknown");
    if (ip_acquire(c->ip, c->t->server->cfg.max_conns_per_ip) < 0) {
        reject_conn(c, 429, "rate_limited", "too many connections from this address");
        return;
    }
    c->counted = 1;
}

/* The loops share one listening socket and take turns at it: the loop whose turn it is
 * accepts one connection, then hands the turn to the next. Left to themselves, all loops wake
 * for a connection and the first takes every one waiting, so a client that opens its
 * connections at once lands them all on one loop while the others idle. Only the holder of
 * the turn changes it, so exactly one listener is enabled at any time. */
static void pass_accept_turn(struct api_thread *t)
{
    api_server *s = t->server;
    if (s->nthreads < 2) return;
    evconnlistener_disable(t->listener);
    evconnlistener_enable(s->threads[(t->index + 1) % s->nthreads].listener);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    struct api_thread *t = arg;
    pass_accept_turn(t);
    conn *c = xcalloc(1, sizeof *c);
    c->t = t;
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    api_framer_init(&c->framer);
    c->input_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
    c->deadline = evtimer_new(base, on_deadline, c);
    c->setup = event_new(base, -1, 0, on_setup, c);
    event_active(c->setup, EV_TIMEOUT, 0);
    return c->bev;
}

/* ---- requests ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void free_query(void *q)
{
    evhttp_clear_headers(q);
    free(q);
}

static void decref_json(void *j) { json_decref(j); }

static int valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > API_MAX_REQUEST_ID) return 0;
    for (; *s; s++)
        if (!(*s == '-' || *s == '_' || *s == '.' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* Runs once the caller is known (401 and 403 come before any complaint about the body):
 * parses a JSON body for routes that take one, then calls the handler. */
static void dispatch(api_req *r)
{
    const api_route *route = &api_routes[r->route];
    if (route->body == 2 && r->raw_len == 0) {
        r->body = json_object();
        arena_defer(r->arena, decref_json, r->body);
    } else if (route->body) {
        if (r->raw_len == 0) {
            api_reply_error(r, 400, "invalid_request", "a JSON object body is required");
            return;
        }
        json_error_t jerr;
        r->body = json_loadb((const char *)r->raw_body, r->raw_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!r->body) {
            /* jansson's own text for this one names its flag, not the problem. */
            const char *why = json_error_code(&jerr) == json_error_null_character
                                  ? "a string holds a NUL character (\\u0000), which no field accepts"
                                  : jerr.text;
            api_reply_error(r, 400, "invalid_request", "malformed JSON at line %d column %d: %s",
                            jerr.line, jerr.column, why);
            return;
        }
        arena_defer(r->arena, decref_json, r->body);
        if (api_body_object(r) < 0) return;
    }
    route->handler(r);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct api_thread *t = arg;
    api_req *r = xcalloc(1, sizeof *r);
    r->ev = ev;
    r->thread = t;
    r->arena = arena_new(2048);
    r->route = -1;
    r->started_ns = now_ns();
    r->method = evhttp_request_get_command(ev);

    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(ev), "X-Request-Id");
    if (rid && valid_request_id(rid)) {
        snprintf(r->request_id, sizeof r->request_id, "%s", rid);
    } else {
        unsigned char raw[12];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(r->request_id, sizeof r->request_id, raw, sizeof raw);
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &addr, &port);
    if (evcon && (r->conn = conn_of(evcon))) {
        conn *c = r->conn;
        if (c->pending > 0) c->pending--;
        c->inflight++;
    }
    snprintf(r->client_ip, sizeof r->client_ip, "%s", addr ? addr : "unknown");

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!raw_path || !*raw_path) raw_path = "/";
    r->path = arena_strdup(r->arena, raw_path);
    r->query = xcalloc(1, sizeof *r->query);
    TAILQ_INIT(r->query);
    arena_defer(r->arena, free_query, r->query);
    const char *qs = uri ? evhttp_uri_get_query(uri) : NULL;
    if (qs && strstr(qs, "%00")) { /* decoded, it would cut the value short */
        api_reply_error(r, 400, "invalid_request", "malformed query string: a value holds a NUL (%%00)");
        return;
    }
    if (qs && evhttp_parse_query_str(qs, r->query) != 0) {
        api_reply_error(r, 400, "invalid_request", "malformed query string");
        return;
    }

    char allow[128];
    r->route = api_route_match(r->method, r->path, r->arena, r->params, allow, sizeof allow);
    if (r->route == -1) {
        api_reply_error(r, 404, "not_found", "no such route: %s", r->path);
        return;
    }
    if (r->route == -2) {
        r->route = -1;
        api_set_header(r, "Allow", allow);
        api_reply_error(r, 405, "method_not_allowed", "%s is not allowed here; allowed: %s",
                        api_method_name(r->method), allow);
        return;
    }
    const api_route *route = &api_routes[r->route];

    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    r->raw_len = evbuffer_get_length(in);
    if (r->raw_len > 0) {
        unsigned char *copy = arena_alloc(r->arena, r->raw_len + 1);
        evbuffer_remove(in, copy, r->raw_len);
        copy[r->raw_len] = '\0';
        r->raw_body = copy;
    }
    if (route->auth == AUTH_NONE) dispatch(r);
    else api_auth_run(r, route->auth, dispatch);
}

/* ---- threads ---- */

static void *thread_main(void *arg)
{
    struct api_thread *t = arg;
    event_base_dispatch(t->base);
    return NULL;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    api_server *s = arg;
    log_msg(LOG_INFO, "stopping", "\"signal\":%d", (int)sig);
    atomic_store(&s->stopping, 1);
    for (int i = 0; i < s->nthreads; i++) event_base_loopbreak(s->threads[i].base);
}

static evutil_socket_t listen_socket(const core_config *cfg)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    if (getaddrinfo(cfg->listen_host, port, &hints, &res) != 0 || !res) {
        log_msg(LOG_ERROR, "cannot resolve listen address", "\"host\":\"%s\"", cfg->listen_host);
        return -1;
    }
    evutil_socket_t fd = socket(res->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        evutil_make_socket_nonblocking(fd);
        evutil_make_socket_closeonexec(fd);
    }
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        log_msg(LOG_ERROR, "cannot listen", "\"host\":\"%s\",\"port\":%d,\"error\":\"%s\"",
                cfg->listen_host, cfg->listen_port, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int api_server_run(const core_config *cfg)
{
    int rc = 1;
    if (sodium_init() < 0) return 1;
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);

    api_server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->nthreads = cfg->threads;
    s->threads = xcalloc((size_t)s->nthreads, sizeof *s->threads);
    s->cpu = work_pool_new(cfg->hash_threads, 4096);
    api_caches_init(s);

    evutil_socket_t fd = listen_socket(cfg);
    if (fd < 0) goto out;

    kv_config kvc = { .port = 6379, .timeout_ms = cfg->redis_timeout_ms };
    if (kv_parse_url(cfg->redis_url, &kvc) != 0) {
        log_msg(LOG_ERROR, "FLICK_REDIS_URL is not a redis:// URL", NULL);
        goto out;
    }
    kvc.timeout_ms = cfg->redis_timeout_ms;
    db_pool_config dbc = { .conninfo = cfg->database_url, .max_conns = cfg->db_pool_size,
                           .max_waiting = cfg->db_max_waiting, .query_timeout_ms = cfg->db_timeout_ms };
    /* Without listening connections the caches stay disabled: every request asks PostgreSQL. */
    if (cfg->cache) dbc.listen = api_caches_listen(s);
    for (int i = 0; i < s->nthreads; i++) {
        struct api_thread *t = &s->threads[i];
        t->index = i;
        t->server = s;
        t->base = event_base_new();
        t->http = evhttp_new(t->base);
        t->db = db_pool_new(t->base, &dbc);
        t->kv = kv_new(t->base, &kvc);
        t->work = work_loop_new(t->base);
        /* Backstops only: the guard enforces the real limits with JSON answers. */
        evhttp_set_max_headers_size(t->http, API_MAX_HEAD_BYTES + 1024);
        evhttp_set_max_body_size(t->http, API_MAX_UPLOAD_BYTES + 1024);
        evhttp_set_timeout(t->http, cfg->idle_timeout_s);
        evhttp_set_allowed_methods(t->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                   EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                   EVHTTP_REQ_OPTIONS);
        evhttp_set_default_content_type(t->http, API_JSON);
        evhttp_set_bevcb(t->http, make_bev, t);
        evhttp_set_gencb(t->http, on_request, t);
        /* Thread-safe: the loop before this one enables it (see pass_accept_turn). */
        t->listener = evconnlistener_new(t->base, NULL, NULL,
                                         LEV_OPT_REUSEABLE | LEV_OPT_THREADSAFE, -1, fd);
        if (!t->listener || !evhttp_bind_listener(t->http, t->listener)) {
            log_msg(LOG_ERROR, "cannot attach the listening socket", NULL);
            goto out;
        }
        if (i > 0) evconnlistener_disable(t->listener);
    }

    log_msg(LOG_INFO, "listening", "\"host\":\"%s\",\"port\":%d,\"threads\":%d",
            cfg->listen_host, cfg->listen_port, s->nthreads);
    for (int i = 1; i < s->nthreads; i++)
        pthread_create(&s->threads[i].tid, NULL, thread_main, &s->threads[i]);
    struct event *sigint = evsignal_new(s->threads[0].base, SIGINT, on_signal, s);
    struct event *sigterm = evsignal_new(s->threads[0].base, SIGTERM, on_signal, s);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    event_base_dispatch(s->threads[0].base);
    for (int i = 1; i < s->nthreads; i++) pthread_join(s->threads[i].tid, NULL);
    event_free(sigint);
    event_free(sigterm);
    rc = 0;
out:
    /* Loops are stopped; their objects are released only at process exit, since open
     * connections still point into them. */
    return rc;
}
