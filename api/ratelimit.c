/* api/ratelimit.c: Redis fixed windows with a per-process fallback (see ratelimit.h). */
#include "api/ratelimit.h"

#include "api/server.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* INCR, and start the window on the first hit; returns {count, ttl}. */
static const char script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "local ttl = redis.call('TTL', KEYS[1]) "
    "if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end "
    "return {n, ttl}";

typedef struct hit {
    api_req *r;
    char key[160];
    int limit, window_s;
    void (*done)(api_req *, int, int);
} hit;

/* The fallback: a small table of windows, shared by the loops of this process. Entries
 * are reused once their window has passed, so it never grows beyond LOCAL_SLOTS. */
#define LOCAL_SLOTS 4096
typedef struct local_window {
    char key[160];
    time_t start;
    int count;
} local_window;
static local_window local[LOCAL_SLOTS];
static pthread_mutex_t local_mu = PTHREAD_MUTEX_INITIALIZER;

static void local_hit(const char *key, int window_s, int *count, int *ttl)
{
    unsigned h = 2166136261u;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    time_t now = time(NULL);
    pthread_mutex_lock(&local_mu);
    local_window *w = &local[h % LOCAL_SLOTS];
    if (strcmp(w->key, key) != 0 || now - w->start >= window_s) {
        snprintf(w->key, sizeof w->key, "%s", key);
        w->start = now;
        w->count = 0;
    }
    *count = ++w->count;
    *ttl = (int)(window_s - (now - w->start));
    pthread_mutex_unlock(&local_mu);
}

static void on_reply(void *arg, const redisReply *reply)
{
    hit *h = arg;
    int count, ttl;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[1]->type == REDIS_REPLY_INTEGER) {
        count = (int)reply->element[0]->integer;
        ttl = (int)reply->element[1]->integer;
    } else {
        local_hit(h->key, h->window_s, &count, &ttl);
    }
    if (ttl < 1) ttl = 1;
    h->done(h->r, count <= h->limit, ttl);
}

void api_ratelimit_hit(api_req *r, const char *key, int limit, int window_s,
                       void (*done)(api_req *, int, int))
{
    hit *h = arena_alloc(r->arena, sizeof *h);
    h->r = r;
    snprintf(h->key, sizeof h->key, "rl:{%s}", key);
    h->limit = limit;
    h->window_s = window_s;
    h->done = done;
    char window[16];
    snprintf(window, sizeof window, "%d", window_s);
    const char *argv[] = { "EVAL", script, "1", h->key, window };
    kv_command(r->thread->kv, on_reply, h, 5, argv, NULL);
}
