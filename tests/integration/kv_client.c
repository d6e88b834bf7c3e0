/* tests/integration/kv_client.c: the Redis client (core/kv.h) against a real Redis, a
 * Redis that stops and comes back, and a server that accepts and never answers.
 *
 * Needs FLICK_REDIS_URL (skipped otherwise); the stop/start cases also need FLICK_VAR and
 * FLICK_REDIS_PORT for scripts/services.sh, run from the repository root. Tests run one at
 * a time because those cases stop the shared Redis. */
#include <criterion/criterion.h>
#include <criterion/options.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/kv.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
}

/* Runs the loop until done(arg) or max_ms pass; a 5 ms tick keeps EVLOOP_ONCE returning. */
static void run_until(struct event_base *base, int (*done)(void *), void *arg, int max_ms)
{
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = { 0, 5000 };
    event_add(tick, &tv);
    uint64_t end = now_ms() + (uint64_t)max_ms;
    while (!(done && done(arg)) && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
}

/* What one callback saw. type is -1 for a NULL reply. */
typedef struct answer {
    int calls;
    int type;
    long long integer;
    char str[512];
    size_t len;
    uint64_t at_ms;
} answer;

static void record(void *arg, const redisReply *r)
{
    answer *a = arg;
    a->calls++;
    a->at_ms = now_ms();
    a->type = r ? r->type : -1;
    if (!r) return;
    a->integer = r->integer;
    a->len = r->str ? (r->len < sizeof a->str ? r->len : sizeof a->str) : 0;
    if (r->str) memcpy(a->str, r->str, a->len);
}

static int answered(void *arg) { return ((answer *)arg)->calls > 0; }
static int connected(void *arg) { return kv_connected(arg); }

static int redis_config(kv_config *cfg, int timeout_ms)
{
    const char *url = getenv("FLICK_REDIS_URL");
    if (!url || !*url) return -1;
    memset(cfg, 0, sizeof *cfg);
    cfg->timeout_ms = timeout_ms;
    cr_assert_eq(kv_parse_url(url, cfg), 0, "FLICK_REDIS_URL is malformed: %s", url);
    return 0;
}

static kv_client *open_client(struct event_base *base, const kv_config *cfg)
{
    kv_client *kv = kv_new(base, cfg);
    cr_assert_not_null(kv);
    run_until(base, connected, kv, 3000);
    cr_assert(kv_connected(kv), "no connection to %s:%d within 3 s", cfg->host, cfg->port);
    return kv;
}

#define REDIS_OR_SKIP(cfg, timeout_ms)                                   \
    do {                                                                 \
        if (redis_config(&(cfg), (timeout_ms)) != 0)                     \
            cr_skip_test("FLICK_REDIS_URL is not set");                  \
    } while (0)

/* One command, waited for. */
static answer call(struct event_base *base, kv_client *kv, int argc, const char *const *argv,
                   const size_t *argvlen, int max_ms)
{
    answer a = { 0 };
    kv_command(kv, record, &a, argc, argv, argvlen);
    run_until(base, answered, &a, max_ms);
    return a;
}

static answer ping(struct event_base *base, kv_client *kv, int max_ms)
{
    const char *argv[] = { "PING" };
    return call(base, kv, 1, argv, NULL, max_ms);
}

/* ---- URL parsing ------------------------------------------------------------------- */

Test(kv_url, full_and_partial_forms)
{
    kv_config c = { .timeout_ms = 5 };
    cr_assert_eq(kv_parse_url("redis://cache.internal:7000/3", &c), 0);
    cr_assert_str_eq(c.host, "cache.internal");
    cr_assert_eq(c.port, 7000);
    cr_assert_eq(c.db, 3);
    cr_assert_eq(c.timeout_ms, 5);

    kv_config d = { 0 };
    cr_assert_eq(kv_parse_url("redis://127.0.0.1:6380", &d), 0);
    cr_assert_str_eq(d.host, "127.0.0.1");
    cr_assert_eq(d.port, 6380);
    cr_assert_eq(d.db, 0);

    kv_config e = { 0 };
    cr_assert_eq(kv_parse_url("redis://localhost", &e), 0);
    cr_assert_str_eq(e.host, "localhost");
    cr_assert_eq(e.port, 6379);

    kv_config f = { .port = 7001, .db = 2 };
    cr_assert_eq(kv_parse_url("REDIS://h/", &f), 0);
    cr_assert_eq(f.port, 7001, "a missing port keeps the configured one");
    cr_assert_eq(f.db, 2);

    kv_config g = { 0 };
    cr_assert_eq(kv_parse_url("redis://[::1]:6390/1", &g), 0);
    cr_assert_str_eq(g.host, "::1");
    cr_assert_eq(g.port, 6390);
    cr_assert_eq(g.db, 1);
}

Test(kv_url, rejects_garbage_and_leaves_cfg_alone)
{
    static const char *const bad[] = {
        NULL, "", "redis://", "http://h:1", "redis:/h", "redis://h:", "redis://h:0",
        "redis://h:65536", "redis://h:12x", "redis://h:-1", "redis://h/x", "redis://h/-1",
        "redis://h:1/2/3", "redis://:pw@h:1", "redis://h:1?db=2", "redis://[::1", "h:6379",
        "redis://h/99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kv_config c = { .host = "keep", .port = 1, .db = 4 };
        cr_assert_eq(kv_parse_url(bad[i], &c), -1, "accepted %s", bad[i] ? bad[i] : "NULL");
        cr_assert_str_eq(c.host, "keep");
        cr_assert_eq(c.port, 1);
        cr_assert_eq(c.db, 4);
    }
}

/* ---- against Redis ----------------------------------------------------------------- */

Test(kv_redis, set_get_round_trip)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 1000);
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);

    answer a = { 0 };
    kv_commandf(kv, record, &a, "SET %s %s", "kv:test:greeting", "hello");
    cr_assert_eq(a.calls, 0, "the callback ran inside kv_commandf");
    run_until(base, answered, &a, 1000);
    cr_assert_eq(a.type, REDIS_REPLY_STATUS);

    answer b = { 0 };
    kv_commandf(kv, record, &b, "GET %s", "kv:test:greeting");
    run_until(base, answered, &b, 1000);
    cr_assert_eq(b.type, REDIS_REPLY_STRING);
    cr_assert_eq(b.len, 5);
    cr_assert(memcmp(b.str, "hello", 5) == 0);

    kv_stats st;
    kv_get_stats(kv, &st);
    cr_assert_eq(st.connected, 1);
    cr_assert_eq(st.pending, 0);
    cr_assert_eq(st.failed_total, 0);
    kv_free(kv);
    event_base_free(base);
}

Test(kv_redis, argv_is_binary_safe)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 1000);
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);

    static const char key[] = "kv:test:bin\0ary";
    char value[300];
    for (size_t i = 0; i < sizeof value; i++) value[i] = (char)(i * 7);
    memcpy(value + 10, "\r\n$3\r\n\0", 7);          /* protocol bytes and a NUL inside */

    const char *set[] = { "SET", key, value };
    size_t setlen[] = { 3, sizeof key - 1, sizeof value };
    answer a = call(base, kv, 3, set, setlen, 1000);
    cr_assert_eq(a.type, REDIS_REPLY_STATUS);

    const char *get[] = { "GET", key };
    size_t getlen[] = { 3, sizeof key - 1 };
    answer b = call(base, kv, 2, get, getlen, 1000);
    cr_assert_eq(b.type, REDIS_REPLY_STRING);
    cr_assert_eq(b.len, sizeof value);
    cr_assert(memcmp(b.str, value, sizeof value) == 0);

    /* The key stopped at its NUL would be another key, which must not exist. */
    const char *get_short[] = { "EXISTS", "kv:test:bin" };
    answer c = call(base, kv, 2, get_short, NULL, 1000);
    cr_assert_eq(c.type, REDIS_REPLY_INTEGER);
    cr_assert_eq(c.integer, 0);

    /* %b in the printf form is binary safe too. */
    answer d = { 0 };
    kv_commandf(kv, record, &d, "STRLEN %b", key, sizeof key - 1);
    run_until(base, answered, &d, 1000);
    cr_assert_eq(d.type, REDIS_REPLY_INTEGER);
    cr_assert_eq(d.integer, (long long)sizeof value);
    kv_free(kv);
    event_base_free(base);
}

typedef struct burst {
    int expected, done, ok, nulls;
    long long last;         /* INCR: the value the previous callback saw */
    int out_of_order;
} burst;

static void count_reply(void *arg, const redisReply *r)
{
    burst *b = arg;
    b->done++;
    if (!r) b->nulls++;
    else if (r->type != REDIS_REPLY_ERROR) b->ok++;
}

static void check_incr(void *arg, const redisReply *r)
{
    burst *b = arg;
    b->done++;
    if (!r || r->type != REDIS_REPLY_INTEGER) { b->nulls++; return; }
    if (r->integer != b->last + 1) b->out_of_order++;
    b->last = r->integer;
    b->ok++;
}

static int burst_done(void *arg) { burst *b = arg; return b->done >= b->expected; }

Test(kv_redis, many_commands_in_flight)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 5000);
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);

    enum { N = 5000 };
    burst b = { .expected = 2 * N };
    for (int i = 0; i < N; i++)
        kv_commandf(kv, count_reply, &b, "SET kv:test:many:%d %d", i, i);
    for (int i = 0; i < N; i++)
        kv_commandf(kv, count_reply, &b, "GET kv:test:many:%d", i);
    kv_stats st;
    kv_get_stats(kv, &st);
    cr_assert_eq(st.pending, 2 * N, "all commands are in flight before the loop runs");
    cr_assert_eq(b.done, 0);

    run_until(base, burst_done, &b, 10000);
    cr_assert_eq(b.done, 2 * N);
    cr_assert_eq(b.ok, 2 * N, "%d NULL replies", b.nulls);
    kv_get_stats(kv, &st);
    cr_assert_eq(st.pending, 0);

    /* Clean up in one command so other tests see a small keyspace. */
    answer a = { 0 };
    kv_commandf(kv, record, &a, "EVAL %s 0", "for _,k in ipairs(redis.call('KEYS','kv:test:many:*')) "
                                             "do redis.call('DEL',k) end return 1");
    run_until(base, answered, &a, 5000);
    kv_free(kv);
    event_base_free(base);
}

Test(kv_redis, pipelined_incr_answers_in_order)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 5000);
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);

    enum { N = 2000 };
    kv_commandf(kv, NULL, NULL, "DEL kv:test:counter");       /* fire and forget, sent first */
    burst b = { .expected = N };
    for (int i = 0; i < N; i++)
        kv_commandf(kv, check_incr, &b, "INCR kv:test:counter");
    run_until(base, burst_done, &b, 10000);
    cr_assert_eq(b.ok, N);
    cr_assert_eq(b.out_of_order, 0);
    cr_assert_eq(b.last, N);
    kv_free(kv);
    event_base_free(base);
}

Test(kv_redis, selects_the_configured_database)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 1000);
    struct event_base *base = event_base_new();
    kv_config other = cfg;
    other.db = cfg.db == 1 ? 2 : 1;
    kv_client *main_db = open_client(base, &cfg);
    kv_client *other_db = open_client(base, &other);

    const char *del[] = { "DEL", "kv:test:db" };
    cr_assert_eq(call(base, main_db, 2, del, NULL, 1000).type, REDIS_REPLY_INTEGER);
    const char *set[] = { "SET", "kv:test:db", "x" };
    cr_assert_eq(call(base, other_db, 3, set, NULL, 1000).type, REDIS_REPLY_STATUS);
    const char *exists[] = { "EXISTS", "kv:test:db" };
    answer in_other = call(base, other_db, 2, exists, NULL, 1000);
    answer in_main = call(base, main_db, 2, exists, NULL, 1000);
    cr_assert_eq(in_other.integer, 1);
    cr_assert_eq(in_main.integer, 0, "the key landed in the wrong database");
    call(base, other_db, 2, del, NULL, 1000);

    /* A database Redis does not have: never ready, callers get NULL, nothing hangs. */
    kv_config bad = cfg;
    bad.db = 100000;
    kv_client *nodb = kv_new(base, &bad);
    run_until(base, NULL, NULL, 300);
    cr_assert_eq(kv_connected(nodb), 0);
    answer a = ping(base, nodb, 1000);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(a.type, -1);
    kv_free(nodb);
    kv_free(other_db);
    kv_free(main_db);
    event_base_free(base);
}

Test(kv_redis, slow_command_times_out_and_late_reply_is_ignored)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 200);
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);

    /* BLPOP on a missing list holds this connection's answers back for 1 s, as a slow
     * server would (DEBUG SLEEP is disabled by default since Redis 7). */
    const char *argv[] = { "BLPOP", "kv:test:never", "1" };
    uint64_t t0 = now_ms();
    answer a = { 0 };
    kv_command(kv, record, &a, 3, argv, NULL);
    run_until(base, answered, &a, 2000);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(a.type, -1, "expected a timeout, got reply type %d", a.type);
    uint64_t waited = a.at_ms - t0;
    cr_assert(waited >= 180 && waited <= 350, "timed out after %llu ms", (unsigned long long)waited);

    /* The late reply arrives around 1 s and must not reach the caller again. */
    run_until(base, NULL, NULL, 1000);
    cr_assert_eq(a.calls, 1);

    answer p = { 0 };
    uint64_t end = now_ms() + 2000;
    while (p.type != REDIS_REPLY_STATUS && now_ms() < end) {
        p = ping(base, kv, 500);
        if (p.type != REDIS_REPLY_STATUS) run_until(base, NULL, NULL, 50);
    }
    cr_assert_eq(p.type, REDIS_REPLY_STATUS, "the client does not work after a timeout");
    kv_stats st;
    kv_get_stats(kv, &st);
    cr_assert_geq(st.failed_total, 1);
    cr_assert_eq(st.pending, 0);
    kv_free(kv);
    event_base_free(base);
}

Test(kv_redis, kv_free_answers_pending_commands_once)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 2000);
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);

    enum { N = 50 };
    answer a[N] = { { 0 } };
    const char *blpop[] = { "BLPOP", "kv:test:never", "1" };
    kv_command(kv, record, &a[0], 3, blpop, NULL);
    for (int i = 1; i < N; i++)
        kv_commandf(kv, record, &a[i], "INCR kv:test:free:%d", i);
    run_until(base, NULL, NULL, 50);            /* sent, and stuck behind the BLPOP */
    kv_stats st;
    kv_get_stats(kv, &st);
    cr_assert_eq(st.pending, N);

    kv_free(kv);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(a[i].calls, 1, "command %d answered %d times", i, a[i].calls);
        cr_assert_eq(a[i].type, -1);
    }
    run_until(base, NULL, NULL, 100);
    for (int i = 0; i < N; i++)
        cr_assert_eq(a[i].calls, 1);

    kv_free(NULL);
    event_base_free(base);
}

/* Frees the client from inside a reply callback; the remaining commands still hear back. */
typedef struct freer {
    kv_client *kv;
    int calls, nulls;
} freer;

static void free_on_first(void *arg, const redisReply *r)
{
    freer *f = arg;
    if (f->calls++ == 0) kv_free(f->kv);
    if (!r) f->nulls++;
}

static int freer_done(void *arg) { return ((freer *)arg)->calls >= 20; }

Test(kv_redis, kv_free_from_a_callback)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 1000);
    struct event_base *base = event_base_new();
    freer f = { .kv = open_client(base, &cfg) };
    for (int i = 0; i < 20; i++)
        kv_commandf(f.kv, free_on_first, &f, "PING");
    run_until(base, freer_done, &f, 1000);
    run_until(base, NULL, NULL, 100);
    cr_assert_eq(f.calls, 20);
    cr_assert_eq(f.nulls, 19, "the first had its reply, the others NULL");
    event_base_free(base);
}

Test(kv_redis, nothing_listening_answers_null_promptly)
{
    /* A port nobody listens on (bound then closed): no Redis URL needed. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s);

    struct event_base *base = event_base_new();
    kv_config cfg = { .host = "127.0.0.1", .port = ntohs(sa.sin_port), .timeout_ms = 500 };
    kv_client *kv = kv_new(base, &cfg);
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = now_ms();
        answer a = { 0 };
        kv_commandf(kv, record, &a, "PING");
        cr_assert_eq(a.calls, 0, "the callback ran inside kv_commandf");
        run_until(base, answered, &a, 1000);
        cr_assert_eq(a.calls, 1);
        cr_assert_eq(a.type, -1);
        cr_assert_leq(a.at_ms - t0, 50, "a NULL answer took %llu ms",
                      (unsigned long long)(a.at_ms - t0));
        run_until(base, NULL, NULL, 100);
        cr_assert_eq(a.calls, 1);
    }
    kv_stats st;
    kv_get_stats(kv, &st);
    cr_assert_eq(st.connected, 0);
    cr_assert_eq(st.failed_total, 5);
    kv_free(kv);
    event_base_free(base);
}

/* ---- Redis stops and comes back -------------------------------------------------------- */

static int services(const char *verb)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "bash scripts/services.sh %s >/dev/null", verb);
    return system(cmd);
}

static void restart_redis(void)
{
    if (getenv("FLICK_VAR")) services("redis-start");
}

Test(kv_fault, redis_stops_and_comes_back, .fini = restart_redis, .timeout = 30)
{
    kv_config cfg;
    REDIS_OR_SKIP(cfg, 500);
    if (!getenv("FLICK_VAR") || !getenv("FLICK_REDIS_PORT"))
        cr_skip_test("FLICK_VAR or FLICK_REDIS_PORT is not set");
    if (access("scripts/services.sh", R_OK) != 0)
        cr_skip_test("run from the repository root");
    struct event_base *base = event_base_new();
    kv_client *kv = open_client(base, &cfg);
    cr_assert_eq(ping(base, kv, 1000).type, REDIS_REPLY_STATUS);

    /* A command in flight when Redis goes away hears back once the connection drops. */
    const char *blpop[] = { "BLPOP", "kv:test:never", "5" };
    answer inflight = { 0 };
    kv_command(kv, record, &inflight, 3, blpop, NULL);
    run_until(base, NULL, NULL, 20);
    cr_assert_eq(services("redis-stop"), 0);

    run_until(base, answered, &inflight, 1000);
    cr_assert_eq(inflight.calls, 1);
    cr_assert_eq(inflight.type, -1);
    run_until(base, NULL, NULL, 50);
    cr_assert_eq(kv_connected(kv), 0);

    /* While Redis is down every command is answered NULL at once. */
    for (int i = 0; i < 20; i++) {
        uint64_t t0 = now_ms();
        answer a = ping(base, kv, 1000);
        cr_assert_eq(a.calls, 1);
        cr_assert_eq(a.type, -1);
        cr_assert_leq(a.at_ms - t0, 50);
        run_until(base, NULL, NULL, 50);
    }

    cr_assert_eq(services("redis-start"), 0);
    uint64_t back = now_ms();
    answer p = { 0 };
    while (p.type != REDIS_REPLY_STATUS && now_ms() - back < 3000) {
        p = ping(base, kv, 600);
        if (p.type != REDIS_REPLY_STATUS) run_until(base, NULL, NULL, 20);
    }
    cr_assert_eq(p.type, REDIS_REPLY_STATUS, "no success within 3 s of Redis coming back");
    cr_assert(kv_connected(kv));
    kv_free(kv);
    event_base_free(base);
}

/* ---- a server that accepts and never answers --------------------------------------------- */

typedef struct mute_server {
    int fd;
    int accepted;
    int conns[64];
} mute_server;

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    mute_server *m = arg;
    int c = accept(fd, NULL, NULL);
    if (c < 0) return;
    if (m->accepted < 64) m->conns[m->accepted] = c;   /* held open, never read */
    else close(c);
    m->accepted++;
}

typedef struct sequence {
    struct event_base *base;
    kv_client *kv;
    int left;
    uint64_t sent_at, worst_ms;
    int non_null, max_pending;
} sequence;

static void next_in_sequence(void *arg, const redisReply *r);

static void send_next(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    sequence *s = arg;
    s->sent_at = now_ms();
    s->left--;
    kv_commandf(s->kv, next_in_sequence, s, "GET kv:test:mute");
}

static void next_in_sequence(void *arg, const redisReply *r)
{
    sequence *s = arg;
    uint64_t took = now_ms() - s->sent_at;
    if (took > s->worst_ms) s->worst_ms = took;
    if (r) s->non_null++;
    kv_stats st;
    kv_get_stats(s->kv, &st);
    if (st.pending > s->max_pending) s->max_pending = st.pending;
    /* Paced, so the run spans several hang, drop and reconnect rounds. */
    struct timeval pause = { 0, 20000 };
    if (s->left > 0) event_base_once(s->base, -1, EV_TIMEOUT, send_next, s, &pause);
}

static int sequence_done(void *arg) { return ((sequence *)arg)->left == 0; }

Test(kv_fault, hung_server_is_dropped_and_commands_keep_timing_out, .timeout = 30)
{
    mute_server m = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(m.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(m.fd, 16), 0);
    cr_assert_eq(getsockname(m.fd, (struct sockaddr *)&sa, &len), 0);
    evutil_make_socket_nonblocking(m.fd);

    struct event_base *base = event_base_new();
    struct event *acc = event_new(base, m.fd, EV_READ | EV_PERSIST, on_accept, &m);
    event_add(acc, NULL);
    kv_config cfg = { .host = "127.0.0.1", .port = ntohs(sa.sin_port), .timeout_ms = 100 };
    kv_client *kv = kv_new(base, &cfg);
    run_until(base, connected, kv, 2000);
    cr_assert(kv_connected(kv));

    /* A burst, all in flight at once, all timing out together. */
    burst b = { .expected = 50 };
    uint64_t t0 = now_ms();
    for (int i = 0; i < 50; i++)
        kv_commandf(kv, count_reply, &b, "GET kv:test:mute");
    run_until(base, burst_done, &b, 2000);
    cr_assert_eq(b.done, 50);
    cr_assert_eq(b.nulls, 50);
    cr_assert_leq(now_ms() - t0, 300);

    /* Then one command after another for a while: each hears back within about the
     * timeout, and nothing piles up behind the silent server. */
    sequence s = { .base = base, .kv = kv, .left = 60 };
    send_next(-1, 0, &s);
    run_until(base, sequence_done, &s, 15000);
    cr_assert_eq(s.left, 0);
    run_until(base, NULL, NULL, 200);
    cr_assert_eq(s.non_null, 0);
    cr_assert_leq(s.worst_ms, 250, "a command waited %llu ms", (unsigned long long)s.worst_ms);
    cr_assert_leq(s.max_pending, 2);
    cr_assert_geq(m.accepted, 4, "the stuck connection was not dropped and made again");

    kv_stats st;
    kv_get_stats(kv, &st);
    cr_assert_eq(st.failed_total, 110);
    kv_free(kv);
    event_free(acc);
    for (int i = 0; i < m.accepted && i < 64; i++) close(m.conns[i]);
    close(m.fd);
    event_base_free(base);
}

/* kv_free from the callbacks that answer NULL: out of the failure queue (no server) and
 * out of the deadline timer (a silent server). Every other caller still hears back once. */
Test(kv_fault, kv_free_from_null_callbacks)
{
    mute_server m = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(m.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(m.fd, 16), 0);
    cr_assert_eq(getsockname(m.fd, (struct sockaddr *)&sa, &len), 0);
    evutil_make_socket_nonblocking(m.fd);
    struct event_base *base = event_base_new();
    struct event *acc = event_new(base, m.fd, EV_READ | EV_PERSIST, on_accept, &m);
    event_add(acc, NULL);
    kv_config cfg = { .host = "127.0.0.1", .port = ntohs(sa.sin_port), .timeout_ms = 100 };

    /* Not connected yet: the commands wait in the failure queue. */
    freer early = { .kv = kv_new(base, &cfg) };
    for (int i = 0; i < 20; i++)
        kv_commandf(early.kv, free_on_first, &early, "PING");
    run_until(base, freer_done, &early, 1000);
    run_until(base, NULL, NULL, 50);
    cr_assert_eq(early.calls, 20);
    cr_assert_eq(early.nulls, 20);

    /* Connected to a server that never answers: they time out together. */
    freer late = { .kv = kv_new(base, &cfg) };
    run_until(base, connected, late.kv, 2000);
    cr_assert(kv_connected(late.kv));
    for (int i = 0; i < 20; i++)
        kv_commandf(late.kv, free_on_first, &late, "PING");
    run_until(base, freer_done, &late, 1000);
    run_until(base, NULL, NULL, 200);
    cr_assert_eq(late.calls, 20);
    cr_assert_eq(late.nulls, 20);

    event_free(acc);
    for (int i = 0; i < m.accepted && i < 64; i++) close(m.conns[i]);
    close(m.fd);
    event_base_free(base);
}

int main(int argc, char *argv[])
{
    signal(SIGPIPE, SIG_IGN);                   /* as flickd does: see core/kv.h */
    struct criterion_test_set *tests = criterion_initialize();
    int ok = 1;
    if (criterion_handle_args(argc, argv, true)) {
        criterion_options.jobs = 1;             /* the fault cases stop the shared Redis */
        ok = criterion_run_all_tests(tests);
    }
    criterion_finalize(tests);
    return ok ? 0 : 1;
}
