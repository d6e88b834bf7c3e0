/* ranking/role.c: the rank role of role.h. Each step is safe to repeat: a post's counters
 * carry the id of the last event folded into them (`seq`), and a Lua script adds a batch
 * only when its last id is beyond it, so a batch folded into Redis whose offset then failed
 * to commit adds nothing the second time. Velocity is a sum of event weights decaying with
 * RANK_VELOCITY_HALFLIFE_S, kept as (v, vt): decay to now, then add. */
#include "ranking/role.h"

#include "core/kv.h"
#include "core/log.h"
#include "core/mem.h"
#include "ranking/score.h"
#include "ranking/store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECONNECT_MS 1000

struct rank_role {
    core_config cfg;
    kv_config kvc;
    pthread_t tid;
    sem_t stop;                 /* posted by rank_role_stop: cuts any wait short */
    PGconn *db;                 /* the thread's connections; NULL while down */
    redisContext *redis;
    long long next_trending_ms;
    long long next_partitions_ms;   /* 0 at start: the first connection makes them */
    bool db_down_logged, redis_down_logged;
};

/* KEYS[1] a post's counters. ARGV: last event id of the batch, now (Unix s), half-life,
 * completes, skips, not_interested, velocity to add (already decayed to now), ttl. */
static const char FOLD_LUA[] =
    "local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') "
    "if tonumber(ARGV[1]) <= seq then return 0 end "
    "local now = tonumber(ARGV[2]) "
    "local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0') "
    "local vt = tonumber(redis.call('HGET', KEYS[1], 'vt') or ARGV[2]) "
    "if now > vt then v = v * math.pow(0.5, (now - vt) / tonumber(ARGV[3])) end "
    "redis.call('HINCRBY', KEYS[1], 'completes', ARGV[4]) "
    "redis.call('HINCRBY', KEYS[1], 'skips', ARGV[5]) "
    "redis.call('HINCRBY', KEYS[1], 'ni', ARGV[6]) "
    "redis.call('HSET', KEYS[1], 'v', string.format('%.6f', v + tonumber(ARGV[7])), "
    "           'vt', ARGV[2], 'seq', ARGV[1]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[8]) "
    "return 1";

/* One batch of the log, summed per post; the weighted sum is decayed to the server's now.
 * Ids are handed out at insert and become visible at commit, so a batch stops short of the
 * last RANK_COMMIT_MARGIN_MS: a writer still committing a lower id is not jumped over. */
static const char BATCH_SQL[] =
    "WITH b AS (SELECT id, post_id, type, at FROM events WHERE id > $1::bigint "
    "           AND received_at < now() - $7::int * interval '1 millisecond' ORDER BY id LIMIT $2::int) "
    "SELECT post_id, max(id), count(*) FILTER (WHERE type = 'complete'), "
    "       count(*) FILTER (WHERE type = 'skip'), count(*) FILTER (WHERE type = 'not_interested'), "
    "       COALESCE(sum(CASE type WHEN 'view' THEN $3::float8 WHEN 'complete' THEN $4::float8 "
    "                    WHEN 'share' THEN $5::float8 ELSE 0 END "
    "           * exp(-LEAST(700, GREATEST(0, extract(epoch FROM now() - at)::float8) * ln(2) / $6::float8))), 0), "
    "       extract(epoch FROM max(at))::bigint, extract(epoch FROM now())::bigint, count(*) "
    "FROM b GROUP BY post_id";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for rank_role_stop; returns true once it was called (and from then on). */
static bool stopped_within(rank_role *r, long long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long long ns = until.tv_nsec + (ms % 1000) * 1000000;
    until.tv_sec += ms / 1000 + ns / 1000000000;
    until.tv_nsec = ns % 1000000000;
    while (sem_clockwait(&r->stop, CLOCK_MONOTONIC, &until) != 0)
        if (errno != EINTR) return false;
    sem_post(&r->stop);     /* every later wait returns at once too */
    return true;
}

/* ---- connections ---- */

static bool exec_ok(rank_role *r, const char *query);

static void drop_db(rank_role *r)
{
    if (r->db) PQfinish(r->db);
    r->db = NULL;
}

static void drop_redis(rank_role *r)
{
    if (r->redis) redisFree(r->redis);
    r->redis = NULL;
}

static bool connect_db(rank_role *r)
{
    if (r->db && PQstatus(r->db) == CONNECTION_OK) return true;
    drop_db(r);
    const char *keys[] = { "dbname", "connect_timeout", "options", NULL };
    const char *vals[] = { r->cfg.database_url, "5", "-c statement_timeout=30000", NULL };
    r->db = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(r->db) == CONNECTION_OK &&
        exec_ok(r, "INSERT INTO event_offsets (consumer) VALUES ('rank') ON CONFLICT DO NOTHING")) {
        if (r->db_down_logged) log_msg(LOG_INFO, "rank: postgresql available", NULL);
        r->db_down_logged = false;
        return true;
    }
    if (!r->db_down_logged) {
        char esc[300];
        log_msg(LOG_WARN, "rank: postgresql unavailable", "\"error\":\"%s\"",
                log_escape(PQerrorMessage(r->db), esc, sizeof esc));
    }
    r->db_down_logged = true;
    drop_db(r);
    return false;
}

/* A reply that is not an error, or NULL after dropping the connection; caller frees. */
static redisReply *redis_argv(rank_role *r, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(r->redis, argc, argv, NULL);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep) {
            char esc[300];
            log_msg(LOG_WARN, "rank: redis refused a command", "\"error\":\"%s\"",
                    log_escape(rep->str, esc, sizeof esc));
            freeReplyObject(rep);
        }
        drop_redis(r);
        return NULL;
    }
    return rep;
}

static bool connect_redis(rank_role *r)
{
    if (r->redis) return true;
    struct timeval tv = { r->kvc.timeout_ms / 1000, (r->kvc.timeout_ms % 1000) * 1000 };
    /* The command timeout of the API is for requests; a fold pipelines thousands of
     * commands, so this thread allows itself a few seconds. */
    struct timeval cmd = { 5, 0 };
    r->redis = redisConnectWithTimeout(r->kvc.host, r->kvc.port, tv);
    if (r->redis && !r->redis->err && redisSetTimeout(r->redis, cmd) == REDIS_OK) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->kvc.db);
        const char *argv[] = { "SELECT", db };
        redisReply *rep = r->kvc.db ? redis_argv(r, 2, argv) : NULL;
        if (rep) freeReplyObject(rep);
        if (r->redis) {
            if (r->redis_down_logged) log_msg(LOG_INFO, "rank: redis available", NULL);
            r->redis_down_logged = false;
            return true;
        }
    }
    if (!r->redis_down_logged)
        log_msg(LOG_WARN, "rank: redis unavailable", "\"host\":\"%s\",\"port\":%d", r->kvc.host, r->kvc.port);
    r->redis_down_logged = true;
    drop_redis(r);
    return false;
}

/* Runs one statement; the result when it succeeded (caller clears), else NULL after
 * logging (a broken connection is dropped). */
static PGresult *sql(rank_role *r, const char *query, int n, const char *const *params)
{
    PGresult *res = PQexecParams(r->db, query, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return res;
    char esc[400];
    log_msg(LOG_WARN, "rank: query failed", "\"detail\":\"%s\"",
            log_escape(PQresultErrorMessage(res), esc, sizeof esc));
    PQclear(res);
    if (PQstatus(r->db) != CONNECTION_OK) drop_db(r);
    return NULL;
}

static bool exec_ok(rank_role *r, const char *query)
{
    PGresult *res = sql(r, query, 0, NULL);
    PQclear(res);
    return res != NULL;
}

static void rollback(rank_role *r)
{
    if (r->db && PQtransactionStatus(r->db) != PQTRANS_IDLE) exec_ok(r, "ROLLBACK");
}

/* Sends every queued command's reply through; false (connection dropped) if any failed. */
static bool drain(rank_role *r, int pending)
{
    bool ok = true;
    for (int i = 0; i < pending; i++) {
        void *v = NULL;
        if (redisGetReply(r->redis, &v) != REDIS_OK || !v) {
            drop_redis(r);
            return false;
        }
        redisReply *rep = v;
        if (rep->type == REDIS_REPLY_ERROR) ok = false;
        freeReplyObject(rep);
    }
    if (!ok) drop_redis(r);
    return ok;
}

/* ---- folding the log ---- */

/* Redis lost its keys: the offset goes back to 0 (committed before the marker is set, so a
 * crash in between replays again), and the next batches replay the log. */
static bool start_replay(rank_role *r)
{
    log_msg(LOG_INFO, "rank: redis holds no signals; replaying the event log", NULL);
    if (!exec_ok(r, "UPDATE event_offsets SET last_id = 0 WHERE consumer = 'rank'")) return false;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    const char *argv[] = { "HSET", RANK_KEY_META, "built_at", now };
    redisReply *rep = redis_argv(r, 4, argv);
    if (rep) freeReplyObject(rep);
    return rep != NULL;
}

/* Folds one batch. Returns the number of events folded, or -1 on a failure. */
static int fold_batch(rank_role *r)
{
    const char *exists[] = { "EXISTS", RANK_KEY_META };
    redisReply *rep = redis_argv(r, 2, exists);
    if (!rep) return -1;
    bool built = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
    freeReplyObject(rep);
    if (!built && !start_replay(r)) return -1;

    int folded = -1;
    PGresult *off = NULL, *batch = NULL;
    if (!exec_ok(r, "BEGIN")) goto out;
    off = sql(r, "SELECT last_id FROM event_offsets WHERE consumer = 'rank' FOR UPDATE", 0, NULL);
    if (!off || PQntuples(off) != 1) goto out;
    char limit[16], w_view[16], w_complete[16], w_share[16], half[16];
    snprintf(limit, sizeof limit, "%d", RANK_BATCH_EVENTS);
    snprintf(w_view, sizeof w_view, "%g", RANK_WEIGHT_VIEW);
    snprintf(w_complete, sizeof w_complete, "%g", RANK_WEIGHT_COMPLETE);
    snprintf(w_share, sizeof w_share, "%g", RANK_WEIGHT_SHARE);
    snprintf(half, sizeof half, "%g", RANK_VELOCITY_HALFLIFE_S);
    char margin[16];
    snprintf(margin, sizeof margin, "%d", RANK_COMMIT_MARGIN_MS);
    const char *bp[] = { PQgetvalue(off, 0, 0), limit, w_view, w_complete, w_share, half, margin };
    batch = sql(r, BATCH_SQL, 7, bp);
    if (!batch) goto out;
    int n = PQntuples(batch);
    long long last = atoll(PQgetvalue(off, 0, 0));
    int events = 0;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", RANK_SIGNAL_TTL_S);
    for (int i = 0; i < n; i++) {
        char key[64];
        rank_post_key(atoll(PQgetvalue(batch, i, 0)), key, sizeof key);
        const char *argv[] = { "EVAL", FOLD_LUA, "1", key, PQgetvalue(batch, i, 1), PQgetvalue(batch, i, 7),
                               half, PQgetvalue(batch, i, 2), PQgetvalue(batch, i, 3),
                               PQgetvalue(batch, i, 4), PQgetvalue(batch, i, 5), ttl };
        redisAppendCommandArgv(r->redis, 12, argv, NULL);
        const char *zadd[] = { "ZADD", RANK_KEY_ACTIVE, "GT", PQgetvalue(batch, i, 6), PQgetvalue(batch, i, 0) };
        redisAppendCommandArgv(r->redis, 5, zadd, NULL);
        events += atoi(PQgetvalue(batch, i, 8));
        long long id = atoll(PQgetvalue(batch, i, 1));
        if (id > last) last = id;
    }
    if (!drain(r, 2 * n)) goto out;
    if (n > 0) {        /* an idle log writes nothing */
        char last_text[24];
        snprintf(last_text, sizeof last_text, "%lld", last);
        PGresult *up = sql(r, "UPDATE event_offsets SET last_id = $1::bigint WHERE consumer = 'rank'",
                           1, (const char *[]){ last_text });
        if (!up) goto out;
        PQclear(up);
    }
    if (!exec_ok(r, "COMMIT")) goto out;
    folded = events;
out:
    if (folded < 0 && r->db) rollback(r);
    PQclear(off);
    PQclear(batch);
    return folded;
}

/* ---- the trending list ---- */

static int recompute_trending(rank_role *r)
{
    int rc = -1;
    redisReply *ids = NULL, **sig = NULL;
    PGresult *res = NULL;
    char floor_s[32], now_s[24];
    long long now = (long long)time(NULL);
    snprintf(floor_s, sizeof floor_s, "%lld", now - RANK_ACTIVE_WINDOW_S);
    snprintf(now_s, sizeof now_s, "%lld", now);
    const char *trim[] = { "ZREMRANGEBYSCORE", RANK_KEY_ACTIVE, "-inf", floor_s };
    redisReply *t = redis_argv(r, 4, trim);
    if (!t) goto out;
    freeReplyObject(t);
    char pool[16];
    snprintf(pool, sizeof pool, "%d", RANK_TRENDING_POOL - 1);
    const char *range[] = { "ZREVRANGE", RANK_KEY_ACTIVE, "0", pool };
    if (!(ids = redis_argv(r, 4, range)) || ids->type != REDIS_REPLY_ARRAY) goto out;
    size_t n = ids->elements;

    /* The candidates' counters in one pipeline, their totals and eligibility in one query. */
    sig = xcalloc(n + 1, sizeof *sig);
    size_t cap = 4 + n * 21, used = 0;
    char *arr = xmalloc(cap);
    used += (size_t)snprintf(arr, cap, "{");
    for (size_t i = 0; i < n; i++) {
        char key[64];
        rank_post_key(atoll(ids->element[i]->str), key, sizeof key);
        const char *argv[2 + RANK_SIGNAL_NFIELDS] = { "HMGET", key };
        for (int f = 0; f < RANK_SIGNAL_NFIELDS; f++) argv[2 + f] = rank_signal_fields[f];
        redisAppendCommandArgv(r->redis, 2 + RANK_SIGNAL_NFIELDS, argv, NULL);
        used += (size_t)snprintf(arr + used, cap - used, i ? ",%lld" : "%lld", atoll(ids->element[i]->str));
    }
    snprintf(arr + used, cap - used, "}");
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        if (redisGetReply(r->redis, &v) != REDIS_OK) {
            drop_redis(r);
            free(arr);
            goto out;
        }
        sig[i] = v;
    }
    res = sql(r, "SELECT p.id, u.n - 1, extract(epoch FROM now() - p.published_at)::float8, p.views_count, "
                 "p.likes_count, p.remixes_count, p.shares_count, "
                 "(SELECT count(*) FROM reports rp WHERE rp.post_id = p.id AND rp.open), "
                 RANK_SQL_RECENT_LIKES("p.id") " FROM unnest($1::bigint[]) WITH ORDINALITY u(id, n) JOIN posts p ON p.id = u.id "
                 "JOIN users a ON a.id = p.author_id WHERE p.status = 'published' AND p.visibility = 'public' "
                 "AND NOT p.restricted AND NOT a.banned", 1, (const char *[]){ arr });
    free(arr);
    if (!res) goto out;

    /* One transaction, so two rank processes recomputing at once never mix their lists
     * (both keys share the {trending} slot). */
    const char *multi[] = { "MULTI" }, *del[] = { "DEL", RANK_KEY_TRENDING_NEXT };
    redisAppendCommandArgv(r->redis, 1, multi, NULL);
    redisAppendCommandArgv(r->redis, 2, del, NULL);
    int pending = 2, rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(res, i, 0);
        size_t j = (size_t)atoll(PQgetvalue(res, i, 1));
        rank_signals s = { .age_s = atof(PQgetvalue(res, i, 2)), .views = atof(PQgetvalue(res, i, 3)),
                           .likes = atof(PQgetvalue(res, i, 4)), .remixes = atof(PQgetvalue(res, i, 5)),
                           .shares = atof(PQgetvalue(res, i, 6)), .open_reports = atoi(PQgetvalue(res, i, 7)),
                           .recent_likes = atof(PQgetvalue(res, i, 8)) };
        if (j < n) rank_signals_from_reply(sig[j], (double)now, &s);
        char score[32];
        snprintf(score, sizeof score, "%.9g", rank_score(&s));
        const char *zadd[] = { "ZADD", RANK_KEY_TRENDING_NEXT, score, id };
        redisAppendCommandArgv(r->redis, 4, zadd, NULL);
        pending++;
    }
    char keep[16];
    snprintf(keep, sizeof keep, "%d", -(RANK_TRENDING_KEEP + 1));
    if (rows > 0) {
        const char *cut[] = { "ZREMRANGEBYRANK", RANK_KEY_TRENDING_NEXT, "0", keep };
        const char *swap[] = { "RENAME", RANK_KEY_TRENDING_NEXT, RANK_KEY_TRENDING };
        redisAppendCommandArgv(r->redis, 4, cut, NULL);
        redisAppendCommandArgv(r->redis, 3, swap, NULL);
        pending += 2;
    } else {
        const char *clear[] = { "DEL", RANK_KEY_TRENDING };
        redisAppendCommandArgv(r->redis, 2, clear, NULL);
        pending++;
    }
    const char *exec[] = { "EXEC" };
    redisAppendCommandArgv(r->redis, 1, exec, NULL);
    if (drain(r, pending + 1)) rc = 0;
out:
    if (sig)
        for (size_t i = 0; ids && i < ids->elements; i++)
            if (sig[i]) freeReplyObject(sig[i]);
    free(sig);
    if (ids) freeReplyObject(ids);
    PQclear(res);
    return rc;
}

/* ---- the log's partitions ---- */

/* Makes the coming months' partitions of `events` if missing (events_partitions_ensure,
 * migrations/0013: safe while another process does the same). A failure is logged and
 * retried sooner; folding goes on meanwhile, the default partition taking any stray row. */
static void keep_partitions(rank_role *r)
{
    char ahead[16];
    snprintf(ahead, sizeof ahead, "%d", RANK_PARTITIONS_AHEAD);
    PGresult *res = sql(r, "SELECT events_partitions_ensure($1::int)", 1, (const char *[]){ ahead });
    r->next_partitions_ms = now_ms() + (res ? RANK_PARTITIONS_EVERY_MS : RANK_PARTITIONS_RETRY_MS);
    if (res && atoi(PQgetvalue(res, 0, 0)) > 0)
        log_msg(LOG_INFO, "rank: event log partitions made", "\"count\":%d", atoi(PQgetvalue(res, 0, 0)));
    PQclear(res);
}

/* ---- the thread ---- */

static void *role_main(void *arg)
{
    rank_role *r = arg;
    for (long long pause = 0; !stopped_within(r, pause);) {
        pause = RECONNECT_MS;
        if (!connect_db(r)) continue;
        if (now_ms() >= r->next_partitions_ms) keep_partitions(r);
        if (!r->db || !connect_redis(r)) continue;
        int folded = fold_batch(r);
        if (folded >= 0 && r->db && r->redis && now_ms() >= r->next_trending_ms) {
            if (recompute_trending(r) == 0) r->next_trending_ms = now_ms() + RANK_TRENDING_EVERY_MS;
            else folded = -1;
        }
        if (folded >= 0) pause = folded < RANK_BATCH_EVENTS ? RANK_POLL_MS : 0;
    }
    drop_db(r);
    drop_redis(r);
    return NULL;
}

rank_role *rank_role_start(const core_config *cfg, char *err, size_t errlen)
{
    rank_role *r = xcalloc(1, sizeof *r);
    r->cfg = *cfg;
    r->kvc = (kv_config){ .port = 6379, .timeout_ms = cfg->redis_timeout_ms };
    if (kv_parse_url(cfg->redis_url, &r->kvc) != 0) {
        snprintf(err, errlen, "FLICK_REDIS_URL is not a redis:// URL");
        free(r);
        return NULL;
    }
    r->kvc.timeout_ms = cfg->redis_timeout_ms < 1000 ? 1000 : cfg->redis_timeout_ms;
    sem_init(&r->stop, 0, 0);
    signal(SIGPIPE, SIG_IGN);       /* hiredis writes with write(2) */
    pthread_create(&r->tid, NULL, role_main, r);
    log_msg(LOG_INFO, "rank started", "\"trending_every_ms\":%d", RANK_TRENDING_EVERY_MS);
    return r;
}

void rank_role_stop(rank_role *r)
{
    if (!r) return;
    sem_post(&r->stop);
    pthread_join(r->tid, NULL);
    sem_destroy(&r->stop);
    free(r);
}

int rank_role_run(const core_config *cfg)
{
    /* Blocked before the thread starts, so it inherits the mask and sigwait gets them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char err[256];
    rank_role *r = rank_role_start(cfg, err, sizeof err);
    if (!r) {
        fprintf(stderr, "flickd: %s\n", err);
        return 2;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_msg(LOG_INFO, "stopping", "\"role\":\"rank\",\"signal\":%d", sig);
    rank_role_stop(r);
    return 0;
}
