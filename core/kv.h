/* core/kv.h: an asynchronous Redis client bound to one libevent loop (hiredis + its
 * libevent adapter).
 *
 * Redis holds only what can be rebuilt (counters, scores, rate-limit buckets), so every
 * caller must cope with a NULL reply: Redis down, disconnected or too slow. The client
 * reconnects by itself. Not for blocking use. hiredis writes with write(2), so the process
 * must ignore SIGPIPE. */
#ifndef FLICK_CORE_KV_H
#define FLICK_CORE_KV_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct event_base;

typedef struct kv_client kv_client;

/* reply: borrowed, valid until the callback returns; NULL when Redis is unavailable,
 * the command timed out, or the connection dropped. */
typedef void (*kv_cb)(void *arg, const redisReply *reply);

typedef struct kv_config {
    char host[256];
    int port;
    int db;                     /* SELECTed after each connect */
    int timeout_ms;             /* per command; also bounds connecting */
} kv_config;

/* Fills host, port and db from "redis://host:port[/db]" (missing parts keep what cfg
 * holds; a port of 0 becomes 6379). Returns 0, or -1 on a malformed URL. */
int kv_parse_url(const char *url, kv_config *cfg);

/* cfg is copied. */
kv_client *kv_new(struct event_base *base, const kv_config *cfg);
/* Disconnects; pending commands get a NULL reply first. NULL: no-op.
 * May be called from inside one of this client's callbacks. */
void kv_free(kv_client *kv);

/* Sends a command (argv form, binary safe; argvlen may be NULL for C strings) and calls
 * cb(arg, reply) exactly once, always later from the event loop, never from inside the
 * call. cb may be NULL (fire and forget). */
void kv_command(kv_client *kv, kv_cb cb, void *arg, int argc, const char *const *argv,
                const size_t *argvlen);
/* printf-style convenience with hiredis formatting (%s %b %d %lld). */
void kv_commandf(kv_client *kv, kv_cb cb, void *arg, const char *fmt, ...);

/* 1 when connected right now. */
int kv_connected(const kv_client *kv);

typedef struct kv_stats {
    int connected;
    int pending;                        /* commands awaiting a reply */
    unsigned long long failed_total;    /* commands answered with NULL */
} kv_stats;
void kv_get_stats(const kv_client *kv, kv_stats *out);

#endif
