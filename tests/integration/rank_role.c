/* tests/integration/rank_role.c: the rank role against real PostgreSQL and Redis: events
 * become per-post counters and a trending entry within seconds, folding the log again adds
 * nothing, and after Redis loses everything the log is replayed to the same counters.
 *
 * Needs FLICK_DATABASE_URL and FLICK_REDIS_URL as scripts/test.sh exports them (the tests
 * skip without them). They flush the Redis database they are given. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/kv.h"
#include "ranking/role.h"
#include "ranking/store.h"

static PGconn *db;
static redisContext *redis;
static core_config cfg;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* One statement; the first column of its first row (static buffer), "" without a row. */
static const char *q(const char *fmt, ...)
{
    static char out[256];
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(res));
    snprintf(out, sizeof out, "%s", st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return out;
}

/* A Redis reply as text ("" for nil), for comparing. */
static const char *r(const char *fmt, ...)
{
    static char out[256];
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(redis, fmt, ap);
    va_end(ap);
    cr_assert_not_null(rep, "redis: %s", redis->errstr);
    if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS) snprintf(out, sizeof out, "%s", rep->str);
    else if (rep->type == REDIS_REPLY_INTEGER) snprintf(out, sizeof out, "%lld", rep->integer);
    else out[0] = '\0';
    freeReplyObject(rep);
    return out;
}

static void setup(void)
{
    const char *url = getenv("FLICK_DATABASE_URL"), *rurl = getenv("FLICK_REDIS_URL");
    if (!url || !rurl) cr_skip_test("FLICK_DATABASE_URL and FLICK_REDIS_URL are not set");
    db = PQconnectdb(url);
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    kv_config kc = { .port = 6379 };
    cr_assert_eq(kv_parse_url(rurl, &kc), 0);
    redis = redisConnect(kc.host, kc.port);
    cr_assert(redis && !redis->err);
    r("SELECT %d", kc.db);
    r("FLUSHDB");
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.database_url, sizeof cfg.database_url, "%s", url);
    snprintf(cfg.redis_url, sizeof cfg.redis_url, "%s", rurl);
    cfg.redis_timeout_ms = 1000;
}

static void teardown(void)
{
    if (redis) redisFree(redis);
    if (db) PQfinish(db);
}

/* A published public post of a new user, with `n` events of each kind on it (received a
 * few seconds ago, so no commit margin holds them back); returns the post id. */
static long long post_with_events(int completes, int skips, int shares, int not_interested)
{
    char name[32];
    snprintf(name, sizeof name, "rk_%08x", (unsigned)rand());
    long long uid = atoll(q("INSERT INTO users (username, password_hash, birth_year) VALUES ('%s', 'x', 1990) "
                            "RETURNING id", name));
    long long pid = atoll(q("INSERT INTO posts (author_id, status, published_at) VALUES (%lld, 'published', now()) "
                            "RETURNING id", uid));
    const char *types[] = { "complete", "skip", "share", "not_interested" };
    int counts[] = { completes, skips, shares, not_interested };
    for (int t = 0; t < 4; t++)
        q("INSERT INTO events (user_id, post_id, author_id, type, at, received_at) "
          "SELECT %lld, %lld, %lld, '%s', now(), now() - interval '5 seconds' FROM generate_series(1, %d)",
          uid, pid, uid, types[t], counts[t]);
    return pid;
}

static const char *field(long long pid, const char *name)
{
    char key[64];
    rank_post_key(pid, key, sizeof key);
    return r("HGET %s %s", key, name);
}

/* Polls `cond` for up to 8 s. */
#define WAIT_UNTIL(cond) for (int w_ = 0; w_ < 80 && !(cond); w_++) sleep_ms(100)

/* Waits for HGET field == want; whether it came. */
static int wait_field(long long pid, const char *name, const char *want)
{
    WAIT_UNTIL(strcmp(field(pid, name), want) == 0);
    return strcmp(field(pid, name), want) == 0;
}

TestSuite(rank_role, .init = setup, .fini = teardown, .timeout = 60);

Test(rank_role, events_become_counters_and_trending)
{
    srand((unsigned)time(NULL) ^ 1u);
    long long pid = post_with_events(2, 1, 3, 1);
    char err[128];
    rank_role *role = rank_role_start(&cfg, err, sizeof err);
    cr_assert_not_null(role, "%s", err);
    cr_assert(wait_field(pid, "completes", "2"), "completes: %s", field(pid, "completes"));
    cr_assert_str_eq(field(pid, "skips"), "1");
    cr_assert_str_eq(field(pid, "ni"), "1");
    /* 2 completes and 3 shares, just now: 2 * 2 + 3 * 5 = 19, barely decayed. */
    double v = atof(field(pid, "v"));
    cr_assert(v > 18.9 && v <= 19.0, "velocity %f", v);
    char id[24];
    snprintf(id, sizeof id, "%lld", pid);
    WAIT_UNTIL(*r("ZSCORE %s %s", RANK_KEY_TRENDING, id));
    cr_assert(atof(r("ZSCORE %s %s", RANK_KEY_TRENDING, id)) > 0, "not in trending");
    cr_assert_neq(*r("ZSCORE %s %s", RANK_KEY_ACTIVE, id), '\0');

    /* A restricted post leaves trending at the next recomputation. */
    q("UPDATE posts SET restricted = true WHERE id = %lld", pid);
    WAIT_UNTIL(!*r("ZSCORE %s %s", RANK_KEY_TRENDING, id));
    cr_assert_str_eq(r("ZSCORE %s %s", RANK_KEY_TRENDING, id), "", "a restricted post stays in trending");
    rank_role_stop(role);
}

Test(rank_role, folding_again_adds_nothing_and_a_flush_replays)
{
    srand((unsigned)time(NULL) ^ 2u);
    long long pid = post_with_events(3, 0, 1, 0);
    char err[128];
    rank_role *role = rank_role_start(&cfg, err, sizeof err);
    cr_assert_not_null(role, "%s", err);
    cr_assert(wait_field(pid, "completes", "3"));
    const char *last = q("SELECT max(id) FROM events");
    char want[24];
    snprintf(want, sizeof want, "%s", last);
    WAIT_UNTIL(strcmp(q("SELECT last_id FROM event_offsets WHERE consumer = 'rank'"), want) == 0);
    cr_assert_str_eq(q("SELECT last_id FROM event_offsets WHERE consumer = 'rank'"), want);

    /* The offset goes back (a crash between Redis and the commit): nothing is counted twice. */
    q("UPDATE event_offsets SET last_id = 0 WHERE consumer = 'rank'");
    WAIT_UNTIL(strcmp(q("SELECT last_id FROM event_offsets WHERE consumer = 'rank'"), want) == 0);
    cr_assert_str_eq(q("SELECT last_id FROM event_offsets WHERE consumer = 'rank'"), want);
    cr_assert_str_eq(field(pid, "completes"), "3");

    /* Redis loses everything: the log is replayed to the same counters. */
    r("FLUSHDB");
    cr_assert_str_eq(field(pid, "completes"), "");
    cr_assert(wait_field(pid, "completes", "3"), "not replayed: %s", field(pid, "completes"));
    cr_assert_str_eq(r("EXISTS %s", RANK_KEY_META), "1");
    rank_role_stop(role);
}

Test(rank_role, stops_promptly_without_its_services)
{
    core_config dead = cfg;
    snprintf(dead.redis_url, sizeof dead.redis_url, "redis://127.0.0.1:1/0");
    char err[128];
    rank_role *role = rank_role_start(&dead, err, sizeof err);
    cr_assert_not_null(role);
    sleep_ms(300);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rank_role_stop(role);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert_lt((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000, 2000);
    cr_assert_null(rank_role_start(&(core_config){ .redis_url = "http://nope" }, err, sizeof err));
    cr_assert_str_eq(err, "FLICK_REDIS_URL is not a redis:// URL");
}
