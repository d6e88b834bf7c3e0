/* api/ops.c: /healthz (the process answers), /readyz (PostgreSQL and Redis answer) and
 * /metrics (Prometheus text). */
#include "api/handlers.h"

#include "api/metrics.h"
#include "api/server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>

void api_healthz(api_req *r)
{
    api_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* /readyz asks both services at once and answers when both have replied. */
typedef struct ready {
    api_req *r;
    int pending;
    int db_ok, kv_ok;
} ready;

static void ready_answer(ready *s)
{
    if (--s->pending > 0) return;
    json_t *body = json_pack("{s:s,s:s,s:s}", "status", s->db_ok && s->kv_ok ? "ready" : "unavailable",
                             "postgres", s->db_ok ? "ok" : "unreachable",
                             "redis", s->kv_ok ? "ok" : "unreachable");
    if (!(s->db_ok && s->kv_ok)) api_set_header(s->r, "Retry-After", "1");
    api_reply_json(s->r, s->db_ok && s->kv_ok ? 200 : 503, body);
}

static void ready_db(void *arg, const db_reply *rep)
{
    ready *s = arg;
    s->db_ok = rep->status == DB_OK;
    ready_answer(s);
}

static void ready_kv(void *arg, const redisReply *reply)
{
    ready *s = arg;
    s->kv_ok = reply && reply->type == REDIS_REPLY_STATUS;
    ready_answer(s);
}

void api_readyz(api_req *r)
{
    ready *s = arena_alloc(r->arena, sizeof *s);
    *s = (ready){ .r = r, .pending = 2 };
    db_exec(r->thread->db, "SELECT 1", 0, NULL, ready_db, s);
    const char *argv[] = { "PING" };
    kv_command(r->thread->kv, ready_kv, s, 1, argv, NULL);
}

/* /metrics: HTTP counters, pool state of every loop, and jobs by status from PostgreSQL
 * (left out, not an error, while the database is unreachable). */
static void metrics_jobs(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    api_server *s = r->thread->server;
    struct evbuffer *out = evbuffer_new();
    api_metrics_write(out);
    evbuffer_add_printf(out,
        "# HELP flick_http_connections Client connections open, per event loop.\n"
        "# TYPE flick_http_connections gauge\n");
    for (int i = 0; i < s->nthreads; i++)
        evbuffer_add_printf(out, "flick_http_connections{loop=\"%d\"} %d\n", i,
                            atomic_load_explicit(&s->threads[i].conns, memory_order_relaxed));
    evbuffer_add_printf(out,
        "# HELP flick_db_connections PostgreSQL connections by state, per event loop.\n"
        "# TYPE flick_db_connections gauge\n");
    unsigned long long waits = 0, rejected = 0, kv_failed = 0;
    int waiting = 0, kv_connected = 0, kv_pending = 0;
    for (int i = 0; i < s->nthreads; i++) {
        db_pool_stats st;
        db_pool_get_stats(s->threads[i].db, &st);
        evbuffer_add_printf(out, "flick_db_connections{loop=\"%d\",state=\"open\"} %d\n", i, st.conns_open);
        evbuffer_add_printf(out, "flick_db_connections{loop=\"%d\",state=\"busy\"} %d\n", i, st.conns_busy);
        waiting += st.waiting;
        waits += st.waits_total;
        rejected += st.rejected_total;
        kv_stats ks;
        kv_get_stats(s->threads[i].kv, &ks);
        kv_connected += ks.connected;
        kv_pending += ks.pending;
        kv_failed += ks.failed_total;
    }
    evbuffer_add_printf(out,
        "# HELP flick_db_waiting Queries waiting for a PostgreSQL connection.\n# TYPE flick_db_waiting gauge\n"
        "flick_db_waiting %d\n"
        "# HELP flick_db_waits_total Queries that had to wait for a connection.\n# TYPE flick_db_waits_total counter\n"
        "flick_db_waits_total %llu\n"
        "# HELP flick_db_rejected_total Queries refused: wait queue full or database unreachable.\n"
        "# TYPE flick_db_rejected_total counter\nflick_db_rejected_total %llu\n"
        "# HELP flick_redis_connected Event loops connected to Redis.\n# TYPE flick_redis_connected gauge\n"
        "flick_redis_connected %d\n"
        "# HELP flick_redis_pending Redis commands awaiting a reply.\n# TYPE flick_redis_pending gauge\n"
        "flick_redis_pending %d\n"
        "# HELP flick_redis_failed_total Redis commands that got no reply.\n# TYPE flick_redis_failed_total counter\n"
        "flick_redis_failed_total %llu\n",
        waiting, waits, rejected, kv_connected, kv_pending, kv_failed);
    cache_stats vs, ps;
    cache_get_stats(s->viewers, &vs);
    cache_get_stats(s->profiles, &ps);
    evbuffer_add_printf(out,
        "# HELP flick_cache_lookups_total Lookups in the in-process caches, by cache and result.\n"
        "# TYPE flick_cache_lookups_total counter\n"
        "flick_cache_lookups_total{cache=\"viewers\",result=\"hit\"} %llu\n"
        "flick_cache_lookups_total{cache=\"viewers\",result=\"miss\"} %llu\n"
        "flick_cache_lookups_total{cache=\"profiles\",result=\"hit\"} %llu\n"
        "flick_cache_lookups_total{cache=\"profiles\",result=\"miss\"} %llu\n"
        "# HELP flick_cache_entries Entries in the in-process caches.\n# TYPE flick_cache_entries gauge\n"
        "flick_cache_entries{cache=\"viewers\"} %zu\nflick_cache_entries{cache=\"profiles\"} %zu\n"
        "# HELP flick_cache_enabled 1 while a database connection listens for changes, so the caches may hold entries.\n"
        "# TYPE flick_cache_enabled gauge\nflick_cache_enabled %d\n",
        vs.hits, vs.misses, ps.hits, ps.misses, vs.entries, ps.entries, vs.enabled ? 1 : 0);
    if (rep->status == DB_OK) {
        const PGresult *res = rep->results[0];
        evbuffer_add_printf(out, "# HELP flick_generation_jobs Generation jobs by status.\n"
                                 "# TYPE flick_generation_jobs gauge\n");
        long long queued = 0;
        for (int i = 0; i < PQntuples(res); i++) {
            evbuffer_add_printf(out, "flick_generation_jobs{status=\"%s\"} %s\n",
                                PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
            if (PQgetvalue(res, i, 0)[0] == 'q') queued = atoll(PQgetvalue(res, i, 1));
        }
        evbuffer_add_printf(out, "# HELP flick_generation_queue_depth Jobs waiting for a worker.\n"
                                 "# TYPE flick_generation_queue_depth gauge\nflick_generation_queue_depth %lld\n", queued);
    }
    size_t len = evbuffer_get_length(out);
    api_reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", evbuffer_pullup(out, (ev_ssize_t)len), len);
    evbuffer_free(out);
}

void api_metrics(api_req *r)
{
    db_exec(r->thread->db,
            "SELECT s.status, count(g.id) FROM unnest(ARRAY['queued','running','succeeded','failed','canceled']) "
            "AS s(status) LEFT JOIN generations g ON g.status = s.status GROUP BY s.status ORDER BY s.status",
            0, NULL, metrics_jobs, r);
}
