/* api/server.h: the `serve` role: one event loop per thread on a shared listening socket,
 * each loop with its own PostgreSQL pool, Redis client and hand-back queue for CPU work.
 * Connection policing (framing, deadlines, per-address caps) happens here, before any
 * handler runs. Not for handlers or routing. */
#ifndef FLICK_API_SERVER_H
#define FLICK_API_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

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
};

struct api_server {
    core_config cfg;
    work_pool *cpu;             /* password hashing and other CPU work, off the loops */
    int nthreads;
    struct api_thread *threads;
    atomic_int stopping;
};

/* Binds FLICK_LISTEN and serves until SIGINT/SIGTERM. Returns a process exit code. */
int api_server_run(const core_config *cfg);

#endif
