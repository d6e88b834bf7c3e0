/* api/server.h: the `serve` role: one event loop per thread on a shared listening socket,
 * each loop with its own PostgreSQL pool, Redis client and hand-back queue for CPU work.
 * Connection policing (framing, deadlines, per-address caps) happens here, before any
 * handler runs. Not for handlers or routing. */
#ifndef FLICK_API_SERVER_H
#define FLICK_API_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/cache.h"
#include "core/config.h"
#include "core/db.h"
#include "core/kv.h"
#include "core/work.h"

typedef struct api_server api_server;

/* What a handler may reach from its loop. */
struct api_thread {
    int index;
    struct event_base *base;
    struct evhttp *http;
    db_pool *db;                /* this loop's PostgreSQL pool */
    kv_client *kv;              /* this loop's Redis client */
    work_loop *work;            /* where CPU work comes back */
    api_server *server;
    pthread_t tid;              /* loops other than the first run on their own thread */
    struct evconnlistener *listener; /* on the shared socket; enabled on this loop's turn */
    atomic_int conns;           /* client connections open on this loop (for /metrics) */
};

struct api_server {
    core_config cfg;
    work_pool *cpu;             /* password hashing and other CPU work, off the loops */
    int nthreads;
    struct api_thread *threads;
    atomic_int stopping;
    cache *viewers;             /* token hash → viewer (api/caches.h) */
    cache *profiles;            /* user id → body of GET /v1/me */
    pthread_mutex_t listen_lock;
    int listening;              /* pool connections listening for changes, all loops */
};

struct api_req;
/* Connection bookkeeping around an answer (http.c calls these just before and just after
 * handing it to libevent): a refusal deferred behind pipelined requests goes out after the
 * last of their answers, and the guard of a closed connection is released. */
void api_conn_answering(struct api_req *r);
void api_conn_answered(struct api_req *r);

/* Binds FLICK_LISTEN and serves until SIGINT/SIGTERM. Returns a process exit code. */
int api_server_run(const core_config *cfg);

#endif
