/* tests/integration/rank_role.c: the rank role against real PostgreSQL and Redis: events
 * become per-post counters and a trending entry within seconds, folding the log again adds
 * nothing, and after Redis loses everything the log is replayed to the same counters. The
 * log's monthly partitions (migrations/0013): made ahead by events_partitions_ensure(),
 * also from several callers at once and by the role itself; rows of any month read back
 * in id order, and rows the default partition caught move to their month when it is made.
 *
 * Needs FLICK_DATABASE_URL and FLICK_REDIS_URL as scripts/test.sh exports them (the tests
 * skip without them). They flush the Redis database they are given. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    /* Unique across the test processes of a run (each test is a process of its own):
     * names from rand() seeded by the clock could meet in two tests seconds apart. */
    static unsigned made;
    char name[32];
    snprintf(name, sizeof name, "rk_%x_%x", (unsigned)getpid(), ++made);
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

/* ---- the log's partitions ---- */

/* The name of the partition `months` from the current UTC month (negative: before it). */
static const char *month_part(int months, char *out, size_t len)
{
    snprintf(out, len, "%s", q("SELECT 'events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') "
                               "+ make_interval(months => %d), 'YYYY_MM')", months));
    return out;
}

static int attached(const char *part)
{
    return strcmp(q("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass "
                    "AND inhrelid = to_regclass('%s')", part), "1") == 0;
}

/* Drops the (empty) partitions beyond the months the migration and the role keep, so each
 * test starts from the partitions a deployment has. */
static void drop_far_months(void)
{
    q("DO $$ DECLARE t text; BEGIN "
      "FOR t IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "    WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{4}_[0-9]{2}$' "
      "    AND c.relname > 'events_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') "
      "                                         + interval '%d months', 'YYYY_MM') "
      "LOOP EXECUTE format('DROP TABLE %%I', t); END LOOP; END $$", RANK_PARTITIONS_AHEAD);
}

static void partitions_setup(void)
{
    setup();
    drop_far_months();
    q("SELECT events_partitions_ensure(%d)", RANK_PARTITIONS_AHEAD);
}

static void partitions_teardown(void)
{
    if (db) drop_far_months();
    teardown();
}

TestSuite(events_partitions, .init = partitions_setup, .fini = partitions_teardown, .timeout = 60);

Test(events_partitions, ensure_makes_the_missing_months_once)
{
    char part[32];
    for (int m = 0; m <= RANK_PARTITIONS_AHEAD; m++)
        cr_assert(attached(month_part(m, part, sizeof part)), "%s missing after the migration", part);
    cr_assert_str_eq(q("SELECT events_partitions_ensure(%d)", RANK_PARTITIONS_AHEAD), "0");
    cr_assert(!attached(month_part(RANK_PARTITIONS_AHEAD + 1, part, sizeof part)));

    cr_assert_str_eq(q("SELECT events_partitions_ensure(14)"), "12", "months 3 to 14 are made");
    cr_assert(attached(month_part(14, part, sizeof part)), "%s", part);
    cr_assert(!attached(month_part(15, part, sizeof part)));
    cr_assert_str_eq(q("SELECT events_partitions_ensure(14)"), "0", "made twice");

    /* Bounds are whole UTC months, whatever the session's time zone. */
    q("SET timezone = 'America/Los_Angeles'");
    month_part(13, part, sizeof part);
    cr_assert_str_eq(q("SELECT pg_get_expr(relpartbound, oid) = format('FOR VALUES FROM (%%L) TO (%%L)', "
                       "(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '13 months') AT TIME ZONE 'UTC', "
                       "(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '14 months') AT TIME ZONE 'UTC') "
                       "FROM pg_class WHERE relname = '%s'", part), "t", "%s", part);
    /* A new month's partition gets every index of the parent (the id range scan needs its
     * primary key), and the checks. */
    cr_assert_str_eq(q("SELECT count(*) FROM pg_index WHERE indrelid = '%s'::regclass", part), "4");
    cr_assert_str_eq(q("SELECT count(*) FROM pg_constraint WHERE conrelid = '%s'::regclass AND contype = 'c'",
                       part), "2");
}

typedef struct ensure_call {
    PGconn *conn;
    int made;                   /* what events_partitions_ensure returned; -1 if it failed */
    char error[256];
} ensure_call;

static void *call_ensure(void *arg)
{
    ensure_call *c = arg;
    PGresult *res = PQexec(c->conn, "SELECT events_partitions_ensure(20)");
    c->made = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -1;
    snprintf(c->error, sizeof c->error, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

Test(events_partitions, concurrent_callers_all_succeed)
{
    /* A caller inside an open transaction holds the upkeep: the second waits for its
     * commit, then finds every month made. */
    PGconn *other = PQconnectdb(getenv("FLICK_DATABASE_URL"));
    cr_assert_eq(PQstatus(other), CONNECTION_OK);
    q("BEGIN");
    cr_assert_str_eq(q("SELECT events_partitions_ensure(20)"), "18");
    cr_assert_eq(PQsendQuery(other, "SELECT events_partitions_ensure(20)"), 1);
    sleep_ms(300);
    cr_assert_eq(PQconsumeInput(other), 1);
    cr_assert(PQisBusy(other), "the second caller did not wait");
    q("COMMIT");
    PGresult *res = PQgetResult(other);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
    cr_assert_str_eq(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    while ((res = PQgetResult(other))) PQclear(res);
    PQfinish(other);

    /* Four at once: none fails, and the months are made exactly once between them. */
    drop_far_months();
    ensure_call calls[4];
    pthread_t tids[4];
    for (int i = 0; i < 4; i++) {
        calls[i].conn = PQconnectdb(getenv("FLICK_DATABASE_URL"));
        cr_assert_eq(PQstatus(calls[i].conn), CONNECTION_OK);
    }
    for (int i = 0; i < 4; i++) pthread_create(&tids[i], NULL, call_ensure, &calls[i]);
    int made = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(tids[i], NULL);
        PQfinish(calls[i].conn);
        cr_assert_geq(calls[i].made, 0, "caller %d failed: %s", i, calls[i].error);
        made += calls[i].made;
    }
    cr_assert_eq(made, 18);
    char part[32];
    cr_assert(attached(month_part(20, part, sizeof part)));
}

Test(events_partitions, rows_of_any_month_read_back_in_id_order)
{
    long long pid = post_with_events(0, 0, 0, 0);
    const char *author = q("SELECT author_id FROM posts WHERE id = %lld", pid);
    char uid[24], two_ago[32], one_ago[32], now_part[32];
    snprintf(uid, sizeof uid, "%s", author);
    month_part(-2, two_ago, sizeof two_ago);
    month_part(-1, one_ago, sizeof one_ago);
    month_part(0, now_part, sizeof now_part);

    /* Ids in insert order, months interleaved: now, two months ago, a month ago, ... Past
     * months may have no partition yet: the default one takes those rows. */
    const int months[] = { 0, -2, -1, -2, 0, -1 };
    long long ids[6];
    for (int i = 0; i < 6; i++)
        ids[i] = atoll(q("INSERT INTO events (user_id, post_id, author_id, type, at, received_at) "
                         "VALUES (%s, %lld, %s, 'complete', now(), CASE WHEN %d = 0 THEN now() - interval '5 seconds' "
                         "ELSE (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => %d) "
                         "      + interval '3 days') AT TIME ZONE 'UTC' END) RETURNING id",
                         uid, pid, uid, months[i], months[i]));
    for (int i = 1; i < 6; i++) cr_assert_gt(ids[i], ids[i - 1]);

    /* Making those months moves what the default partition caught, ids unchanged. */
    q("SELECT events_partition_ensure(now() - interval '2 months'), events_partition_ensure(now() - interval '1 month')");
    for (int i = 0; i < 6; i++) {
        const char *want = months[i] == 0 ? now_part : months[i] == -1 ? one_ago : two_ago;
        cr_assert_str_eq(q("SELECT tableoid::regclass::text FROM events WHERE id = %lld", ids[i]), want,
                         "event %d", i);
    }
    cr_assert_str_eq(q("SELECT count(*) FROM events_default WHERE post_id = %lld", pid), "0");

    /* The rank role's scan (BATCH_SQL in ranking/role.c): by id across the partitions. */
    char expect[256] = "", *at = expect;
    for (int i = 0; i < 6; i++) at += sprintf(at, i ? ",%lld" : "%lld", ids[i]);
    cr_assert_str_eq(q("SELECT string_agg(id::text, ',') FROM (SELECT id FROM events WHERE id > %lld "
                       "AND received_at < now() - interval '1 second' AND post_id = %lld ORDER BY id LIMIT 100) b",
                       ids[0] - 1, pid), expect);
    /* ... and the role folds all six. */
    char err[128];
    rank_role *role = rank_role_start(&cfg, err, sizeof err);
    cr_assert_not_null(role, "%s", err);
    int folded = wait_field(pid, "completes", "6");
    rank_role_stop(role);
    cr_assert(folded, "completes: %s", field(pid, "completes"));

    /* A deleted post takes its events along in every partition (the FKs hold per partition). */
    q("DELETE FROM posts WHERE id = %lld", pid);
    cr_assert_str_eq(q("SELECT count(*) FROM events WHERE post_id = %lld", pid), "0");
}

Test(events_partitions, the_rank_role_makes_the_months_ahead)
{
    char part[32];
    month_part(RANK_PARTITIONS_AHEAD, part, sizeof part);
    q("DROP TABLE %s", part);
    cr_assert(!attached(part));
    char err[128];
    rank_role *role = rank_role_start(&cfg, err, sizeof err);
    cr_assert_not_null(role, "%s", err);
    WAIT_UNTIL(attached(part));
    rank_role_stop(role);
    cr_assert(attached(part), "%s was not made", part);
}
