/* tests/integration/db_pool.c: the asynchronous PostgreSQL pool (core/db.h) against a real
 * server: results in order, all-or-nothing pipelines, bounds, timeouts, broken connections
 * a server restart, and LISTEN: notifications reach the pool before the replies that follow
 * them. Needs FLICK_DATABASE_URL (skips without it); the restart test also
 * needs FLICK_VAR and FLICK_PG_PORT to drive scripts/services.sh. Tests run one at a time
 * because that one stops the server. */
#include "core/db.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESULTS 8

typedef struct harness harness;

/* What one callback saw, copied out because the reply is borrowed. */
typedef struct outcome {
    harness *h;
    int calls;                          /* must end at exactly 1 */
    db_status status;
    char sqlstate[6];
    char message[256];
    int nresults;
    ExecStatusType rstatus[MAX_RESULTS];
    char text[MAX_RESULTS][256];        /* rows joined by ';', columns by ',' */
    long long at_ms;                    /* when the callback ran */
} outcome;

struct harness {
    struct event_base *base;
    db_pool *pool;
    int outstanding;                    /* submitted queries whose callback has not run */
    int in_db_run;                      /* set around db_run: callbacks must never see it */
};

static char scratch[64];                /* a table name unique to the running test */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *database_url(void)
{
    const char *url = getenv("FLICK_DATABASE_URL");
    if (!url || !*url) cr_skip_test("FLICK_DATABASE_URL is not set");
    return url;
}

/* What a listening pool heard. */
typedef struct heard {
    int notes;                          /* notifications so far */
    char last[128];                     /* the last one's payload */
    int listening;                      /* on_listening's running sum */
} heard;

static void on_note(void *arg, const char *payload)
{
    heard *hd = arg;
    hd->notes++;
    snprintf(hd->last, sizeof hd->last, "%s", payload);
}

static void on_listening(void *arg, int delta)
{
    ((heard *)arg)->listening += delta;
}

static void harness_init_listening(harness *h, int max_conns, int max_waiting, int timeout_ms,
                                   const char *channel, heard *hd)
{
    memset(h, 0, sizeof *h);
    db_pool_config cfg = {
        .conninfo = database_url(),
        .max_conns = max_conns,
        .max_waiting = max_waiting,
        .query_timeout_ms = timeout_ms,
    };
    if (channel) cfg.listen = (db_listen){ channel, on_note, on_listening, hd };
    h->base = event_base_new();
    cr_assert_not_null(h->base);
    h->pool = db_pool_new(h->base, &cfg);
    cr_assert_not_null(h->pool);
}

static void harness_init(harness *h, int max_conns, int max_waiting, int timeout_ms)
{
    harness_init_listening(h, max_conns, max_waiting, timeout_ms, NULL, NULL);
}

static void harness_fini(harness *h)
{
    db_pool_free(h->pool);
    event_base_free(h->base);
}

static void on_reply(void *arg, const db_reply *r)
{
    outcome *o = arg;
    cr_assert_eq(o->h->in_db_run, 0, "a callback ran inside db_run");
    o->calls++;
    o->at_ms = now_ms();
    o->status = r->status;
    snprintf(o->sqlstate, sizeof o->sqlstate, "%s", r->sqlstate);
    snprintf(o->message, sizeof o->message, "%s", r->message);
    o->nresults = r->nresults;
    for (int i = 0; i < r->nresults && i < MAX_RESULTS; i++) {
        const PGresult *res = r->results[i];
        o->rstatus[i] = PQresultStatus(res);
        size_t n = 0;
        o->text[i][0] = '\0';
        for (int row = 0; row < PQntuples(res); row++)
            for (int col = 0; col < PQnfields(res); col++)
                n += (size_t)snprintf(o->text[i] + n, n < 256 ? 256 - n : 0, "%s%s",
                                      row && !col ? ";" : col ? "," : "",
                                      PQgetisnull(res, row, col) ? "NULL" : PQgetvalue(res, row, col));
    }
    if (--o->h->outstanding == 0) event_base_loopbreak(o->h->base);
}

static void submit(harness *h, db_query *q, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->h = h;
    h->outstanding++;
    h->in_db_run = 1;
    db_run(h->pool, q, on_reply, o);
    h->in_db_run = 0;
}

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop until every submitted query has its reply; a guard timer turns a reply that
 * never comes into a test failure instead of a hang. */
static void wait_all(harness *h)
{
    struct event *guard = evtimer_new(h->base, on_guard, h->base);
    struct timeval tv = { 15, 0 };
    evtimer_add(guard, &tv);
    if (h->outstanding > 0) event_base_dispatch(h->base);
    event_free(guard);
    cr_assert_eq(h->outstanding, 0, "%d queries never got a reply", h->outstanding);
}

/* Lets the loop run for `ms` (pending connections and timers make progress meanwhile). */
static void run_for(harness *h, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(h->base, &tv);
    event_base_dispatch(h->base);
}

static outcome run_sql(harness *h, const char *sql, int nparams, const char *const *params)
{
    outcome o;
    db_query *q = db_query_new();
    db_query_add(q, sql, nparams, params);
    submit(h, q, &o);
    wait_all(h);
    cr_assert_eq(o.calls, 1);
    return o;
}

static void expect_ok(const outcome *o)
{
    cr_assert_eq(o->status, DB_OK, "expected DB_OK, got %d (%s %s)", o->status, o->sqlstate,
                 o->message);
}

static char *sqlf(char *buf, size_t len, const char *fmt)
{
    snprintf(buf, len, fmt, scratch);
    return buf;
}

static void make_scratch(void)
{
    snprintf(scratch, sizeof scratch, "db_pool_it_%ld", (long)getpid());
}

/* Drops the scratch table with a plain blocking connection: this runs after the test, on
 * no event loop, even when an assertion ended the test early. */
static void drop_scratch(void)
{
    const char *url = getenv("FLICK_DATABASE_URL");
    if (!url || !scratch[0]) return;
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) == CONNECTION_OK) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", scratch);
        PQclear(PQexec(pg, sql));
    }
    PQfinish(pg);
}

Test(db_pool, select_with_params)
{
    harness h;
    harness_init(&h, 2, 10, 5000);
    const char *params[] = { "2", "40", NULL, "it's \"quoted\"" };
    outcome o = run_sql(&h, "SELECT $1::int + $2::int, $3::text IS NULL, $4::text", 4, params);
    expect_ok(&o);
    cr_assert_eq(o.nresults, 1);
    cr_assert_eq(o.rstatus[0], PGRES_TUPLES_OK);
    cr_assert_str_eq(o.text[0], "42,t,it's \"quoted\"");
    cr_assert_str_eq(o.sqlstate, "");

    db_pool_stats st;
    db_pool_get_stats(h.pool, &st);
    cr_assert_eq(st.conns_open, 1);
    cr_assert_eq(st.conns_busy, 0);
    cr_assert_eq(st.waiting, 0);
    cr_assert_eq(st.healthy, 1);
    harness_fini(&h);
}

Test(db_pool, pipeline_returns_results_in_order, .fini = drop_scratch)
{
    harness h;
    harness_init(&h, 2, 10, 5000);
    make_scratch();
    char s0[128], s1[128], s2[128], s3[128];
    const char *two[] = { "2" };
    db_query *q = db_query_new();
    cr_assert_eq(db_query_add(q, sqlf(s0, sizeof s0, "CREATE TABLE %s (id int PRIMARY KEY, name text)"), 0, NULL), 0);
    cr_assert_eq(db_query_add(q, sqlf(s1, sizeof s1, "INSERT INTO %s VALUES (1, 'a'), (2, 'b') RETURNING id"), 0, NULL), 1);
    cr_assert_eq(db_query_add(q, sqlf(s2, sizeof s2, "UPDATE %s SET name = 'z' WHERE id = $1"), 1, two), 2);
    cr_assert_eq(db_query_add(q, sqlf(s3, sizeof s3, "SELECT id, name FROM %s ORDER BY id"), 0, NULL), 3);
    cr_assert_eq(db_query_add(q, "SELECT txid_current()", 0, NULL), 4);
    cr_assert_eq(db_query_add(q, "SELECT txid_current()", 0, NULL), 5);
    outcome o;
    submit(&h, q, &o);
    wait_all(&h);
    expect_ok(&o);
    cr_assert_eq(o.nresults, 6);
    cr_assert_eq(o.rstatus[0], PGRES_COMMAND_OK);
    cr_assert_eq(o.rstatus[1], PGRES_TUPLES_OK);
    cr_assert_str_eq(o.text[1], "1;2");
    cr_assert_eq(o.rstatus[2], PGRES_COMMAND_OK);
    cr_assert_eq(o.rstatus[3], PGRES_TUPLES_OK);
    cr_assert_str_eq(o.text[3], "1,a;2,z");
    /* One sync, one implicit transaction. */
    cr_assert_str_eq(o.text[4], o.text[5]);
    harness_fini(&h);
}

Test(db_pool, failing_statement_rolls_back_the_whole_query, .fini = drop_scratch)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    make_scratch();
    char sql[160];
    expect_ok((outcome[]){ run_sql(&h, sqlf(sql, sizeof sql, "CREATE TABLE %s (id int PRIMARY KEY)"), 0, NULL) });
    outcome pid_before = run_sql(&h, "SELECT pg_backend_pid()", 0, NULL);
    expect_ok(&pid_before);

    /* A unique violation in the middle: the inserts before it must not survive. */
    char i1[128], i2[128];
    const char *one[] = { "1" }, *two[] = { "2" };
    db_query *q = db_query_new();
    db_query_add(q, sqlf(i1, sizeof i1, "INSERT INTO %s VALUES ($1)"), 1, one);
    db_query_add(q, sqlf(i2, sizeof i2, "INSERT INTO %s VALUES ($1)"), 1, two);
    db_query_add(q, i1, 1, one);
    db_query_add(q, "SELECT 1", 0, NULL);
    outcome o;
    submit(&h, q, &o);
    wait_all(&h);
    cr_assert_eq(o.calls, 1);
    cr_assert_eq(o.status, DB_ERROR);
    cr_assert_str_eq(o.sqlstate, "23505");
    cr_assert_neq(o.message[0], '\0');
    cr_assert_eq(o.nresults, 4);
    cr_assert_eq(o.rstatus[2], PGRES_FATAL_ERROR);
    cr_assert_eq(o.rstatus[3], PGRES_PIPELINE_ABORTED);
    outcome count = run_sql(&h, sqlf(sql, sizeof sql, "SELECT count(*) FROM %s"), 0, NULL);
    expect_ok(&count);
    cr_assert_str_eq(count.text[0], "0");

    /* A bad parameter: 22P02, and again nothing of the query is kept. */
    const char *bad[] = { "abc" };
    q = db_query_new();
    db_query_add(q, i1, 1, one);
    db_query_add(q, i2, 1, bad);
    db_query_add(q, i2, 1, two);
    submit(&h, q, &o);
    wait_all(&h);
    cr_assert_eq(o.status, DB_ERROR);
    cr_assert_str_eq(o.sqlstate, "22P02");
    count = run_sql(&h, sqlf(sql, sizeof sql, "SELECT count(*) FROM %s"), 0, NULL);
    expect_ok(&count);
    cr_assert_str_eq(count.text[0], "0");

    /* A refused statement is an answer, not a broken connection: it is kept. */
    outcome pid_after = run_sql(&h, "SELECT pg_backend_pid()", 0, NULL);
    expect_ok(&pid_after);
    cr_assert_str_eq(pid_after.text[0], pid_before.text[0]);
    harness_fini(&h);
}

Test(db_pool, many_concurrent_queries_share_few_connections)
{
    enum { N = 60 };
    harness h;
    harness_init(&h, 3, 100, 10000);
    static outcome o[N];
    for (int i = 0; i < N; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        const char *params[] = { v };
        db_query *q = db_query_new();
        db_query_add(q, "SELECT $1::int * 2, pg_backend_pid(), pg_sleep(0.005)", 1, params);
        submit(&h, q, &o[i]);
    }
    db_pool_stats st;
    db_pool_get_stats(h.pool, &st);
    cr_assert_leq(st.conns_open, 3);
    cr_assert_eq(st.waiting, N, "all queries wait for the first connections");
    wait_all(&h);

    char pids[3][32] = { "", "", "" };
    int npids = 0;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(o[i].calls, 1);
        expect_ok(&o[i]);
        int value;
        char pid[32];
        cr_assert_eq(sscanf(o[i].text[0], "%d,%31[0-9]", &value, pid), 2, "row %s", o[i].text[0]);
        cr_assert_eq(value, 2 * i);
        int seen = 0;
        for (int k = 0; k < npids; k++) seen |= strcmp(pids[k], pid) == 0;
        if (!seen) {
            cr_assert_lt(npids, 3, "more backends than max_conns");
            snprintf(pids[npids++], sizeof pids[0], "%s", pid);
        }
    }
    db_pool_get_stats(h.pool, &st);
    cr_assert_leq(st.conns_open, 3);
    cr_assert_eq(st.conns_busy, 0);
    cr_assert_eq(st.waiting, 0);
    cr_assert_geq(st.waits_total, (unsigned long long)N - 3);
    cr_assert_eq(st.rejected_total, 0);
    harness_fini(&h);
}

Test(db_pool, full_wait_queue_refuses_with_unavailable)
{
    enum { N = 8 };
    harness h;
    harness_init(&h, 1, 2, 5000);
    outcome o[N];
    for (int i = 0; i < N; i++) {
        db_query *q = db_query_new();
        db_query_add(q, "SELECT pg_sleep(0.05)", 0, NULL);
        submit(&h, q, &o[i]);
    }
    /* Refusals too are answered later, from the loop. */
    for (int i = 0; i < N; i++) cr_assert_eq(o[i].calls, 0);
    wait_all(&h);
    /* One for the connection being opened, two queued, the rest refused, in order. */
    for (int i = 0; i < N; i++) {
        cr_assert_eq(o[i].calls, 1);
        cr_assert_eq(o[i].status, i < 3 ? DB_OK : DB_UNAVAILABLE, "query %d: %d", i, o[i].status);
    }
    db_pool_stats st;
    db_pool_get_stats(h.pool, &st);
    cr_assert_eq(st.rejected_total, N - 3);
    harness_fini(&h);
}

Test(db_pool, query_timeout_replaces_the_connection)
{
    harness h;
    harness_init(&h, 1, 10, 300);
    outcome before = run_sql(&h, "SELECT pg_backend_pid()", 0, NULL);
    expect_ok(&before);

    outcome slow, queued;
    db_query *q = db_query_new();
    db_query_add(q, "SELECT pg_sleep(2)", 0, NULL);
    long long t0 = now_ms();
    submit(&h, q, &slow);
    q = db_query_new();
    db_query_add(q, "SELECT 1", 0, NULL);
    submit(&h, q, &queued);
    wait_all(&h);
    cr_assert_eq(slow.status, DB_UNAVAILABLE);
    cr_assert_eq(slow.nresults, 0);
    cr_assert_geq(slow.at_ms - t0, 250);
    cr_assert_lt(slow.at_ms - t0, 1000);
    /* The deadline covers waiting too. */
    cr_assert_eq(queued.status, DB_UNAVAILABLE);
    cr_assert_lt(queued.at_ms - t0, 1000);

    outcome after = run_sql(&h, "SELECT pg_backend_pid()", 0, NULL);
    expect_ok(&after);
    cr_assert_str_neq(after.text[0], before.text[0], "a timed-out connection was reused");
    harness_fini(&h);
}

Test(db_pool, broken_connection_fails_its_query_and_is_replaced)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    outcome o = run_sql(&h, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL);
    cr_assert_eq(o.status, DB_UNAVAILABLE);
    expect_ok((outcome[]){ run_sql(&h, "SELECT 1", 0, NULL) });
    harness_fini(&h);
}

Test(db_pool, free_answers_everything_pending)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    outcome o[4];
    for (int i = 0; i < 4; i++) {
        db_query *q = db_query_new();
        db_query_add(q, i == 0 ? "SELECT pg_sleep(1)" : "SELECT 1", 0, NULL);
        submit(&h, q, &o[i]);
    }
    run_for(&h, 200);           /* the first is now running, the others waiting */
    db_pool_stats st;
    db_pool_get_stats(h.pool, &st);
    cr_assert_eq(st.conns_busy, 1);
    cr_assert_eq(st.waiting, 3);
    db_pool_free(h.pool);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(o[i].calls, 1);
        cr_assert_eq(o[i].status, DB_UNAVAILABLE);
    }
    db_pool_free(NULL);
    event_base_free(h.base);
}

/* Frees the pool from inside a reply, as a shutting-down caller might. */
static void on_reply_then_free(void *arg, const db_reply *r)
{
    outcome *o = arg;
    harness *h = o->h;
    on_reply(arg, r);
    db_pool_free(h->pool);
    h->pool = NULL;
}

Test(db_pool, free_from_inside_a_callback)
{
    harness h;
    harness_init(&h, 2, 10, 5000);
    expect_ok((outcome[]){ run_sql(&h, "SELECT 1", 0, NULL) });
    outcome first, rest[3];
    memset(&first, 0, sizeof first);
    first.h = &h;
    h.outstanding++;
    db_exec(h.pool, "SELECT 1", 0, NULL, on_reply_then_free, &first);
    for (int i = 0; i < 3; i++) {
        db_query *q = db_query_new();
        db_query_add(q, "SELECT pg_sleep(1)", 0, NULL);
        submit(&h, q, &rest[i]);
    }
    wait_all(&h);
    cr_assert_null(h.pool);
    cr_assert_eq(first.status, DB_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(rest[i].calls, 1);
        cr_assert_eq(rest[i].status, DB_UNAVAILABLE);
    }
    event_base_free(h.base);
}

/* ---- prepared statements ---- */

static void backend_pid(harness *h, char *out, size_t len)
{
    outcome o = run_sql(h, "SELECT pg_backend_pid()", 0, NULL);
    expect_ok(&o);
    snprintf(out, len, "%.31s", o.text[0]);
}

/* The pool's (single) connection is still the backend `pid`. */
static void expect_same_backend(harness *h, const char *pid)
{
    char now[32];
    backend_pid(h, now, sizeof now);
    cr_assert_str_eq(now, pid, "the connection was replaced");
}

/* "<statements with this text>,<times they ran>" on the pool's connection. */
static void prepared_uses(harness *h, const char *sql, char *out, size_t len)
{
    const char *params[] = { sql };
    outcome o = run_sql(h, "SELECT count(*), COALESCE(sum(generic_plans + custom_plans), 0) "
                           "FROM pg_prepared_statements WHERE statement = $1", 1, params);
    expect_ok(&o);
    snprintf(out, len, "%.31s", o.text[0]);
}

Test(db_pool, a_statement_is_prepared_once_per_connection_and_reused)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    const char *sql = "SELECT $1::int + 1, 'prepared once'";
    for (int i = 0; i < 10; i++) {
        char v[16], want[48];
        snprintf(v, sizeof v, "%d", i);
        const char *params[] = { v };
        outcome o = run_sql(&h, sql, 1, params);
        expect_ok(&o);
        snprintf(want, sizeof want, "%d,prepared once", i + 1);
        cr_assert_str_eq(o.text[0], want);
    }
    char uses[64];
    prepared_uses(&h, sql, uses, sizeof uses);
    cr_assert_str_eq(uses, "1,10", "one prepared statement run 10 times, got %s", uses);

    /* Several statements of one query, one of them twice: each text prepared once. */
    db_query *q = db_query_new();
    const char *one[] = { "1" };
    db_query_add(q, sql, 1, one);
    db_query_add(q, "SELECT 'second text'", 0, NULL);
    db_query_add(q, "SELECT 'second text'", 0, NULL);
    outcome o;
    submit(&h, q, &o);
    wait_all(&h);
    expect_ok(&o);
    cr_assert_eq(o.nresults, 3);
    cr_assert_str_eq(o.text[0], "2,prepared once");
    cr_assert_str_eq(o.text[2], "second text");
    prepared_uses(&h, sql, uses, sizeof uses);
    cr_assert_str_eq(uses, "1,11");
    prepared_uses(&h, "SELECT 'second text'", uses, sizeof uses);
    cr_assert_str_eq(uses, "1,2");
    harness_fini(&h);
}

/* A membership test against an array parameter runs faster planned with the values than with
 * the generic plan a prepared statement settles on: such texts are never prepared. */
Test(db_pool, a_statement_testing_an_array_parameter_is_not_prepared)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    const char *any = "SELECT count(*) FROM generate_series(1, 100) g WHERE g = ANY ($1::int[])";
    const char *all = "SELECT count(*) FROM generate_series(1, 100) g WHERE g <> ALL\n($1::int[])";
    const char *params[] = { "{1,2,3,200}" };
    char uses[64];
    for (int i = 0; i < 8; i++) {
        outcome o = run_sql(&h, any, 1, params);
        expect_ok(&o);
        cr_assert_str_eq(o.text[0], "3");
        o = run_sql(&h, all, 1, params);
        expect_ok(&o);
        cr_assert_str_eq(o.text[0], "97");
    }
    prepared_uses(&h, any, uses, sizeof uses);
    cr_assert_str_eq(uses, "0,0");
    prepared_uses(&h, all, uses, sizeof uses);
    cr_assert_str_eq(uses, "0,0");
    /* A constant list is no parameter: that text is prepared as usual. */
    const char *fixed = "SELECT 5 = ANY (ARRAY[1, 5])";
    expect_ok((outcome[]){ run_sql(&h, fixed, 0, NULL) });
    prepared_uses(&h, fixed, uses, sizeof uses);
    cr_assert_str_eq(uses, "1,1");
    harness_fini(&h);
}

Test(db_pool, the_prepared_cache_is_bounded)
{
    enum { N = 200 };
    harness h;
    harness_init(&h, 1, 10, 5000);
    char pid[32];
    backend_pid(&h, pid, sizeof pid);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            char sql[64], want[16];
            snprintf(sql, sizeof sql, "SELECT %d + 0 AS bounded", i);
            snprintf(want, sizeof want, "%d", i);
            outcome o = run_sql(&h, sql, 0, NULL);
            expect_ok(&o);
            cr_assert_str_eq(o.text[0], want);
        }
    }
    outcome o = run_sql(&h, "SELECT count(*) FROM pg_prepared_statements", 0, NULL);
    expect_ok(&o);
    int n = atoi(o.text[0]);
    cr_assert_gt(n, 0);
    cr_assert_leq(n, 64, "%d statements prepared on one connection", n);
    /* Past the bound statements ran unnamed, on the same connection. */
    expect_same_backend(&h, pid);
    harness_fini(&h);
}

Test(db_pool, a_new_connection_prepares_its_statements_afresh)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    const char *sql = "SELECT 'after reconnect'";
    char before[32], after[32], uses[64];
    expect_ok((outcome[]){ run_sql(&h, sql, 0, NULL) });
    expect_ok((outcome[]){ run_sql(&h, sql, 0, NULL) });
    backend_pid(&h, before, sizeof before);
    outcome o = run_sql(&h, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL);
    cr_assert_eq(o.status, DB_UNAVAILABLE);
    o = run_sql(&h, sql, 0, NULL);
    expect_ok(&o);
    cr_assert_str_eq(o.text[0], "after reconnect");
    backend_pid(&h, after, sizeof after);
    cr_assert_str_neq(after, before);
    prepared_uses(&h, sql, uses, sizeof uses);
    cr_assert_str_eq(uses, "1,1", "the new connection prepared it once and ran it once, got %s", uses);
    harness_fini(&h);
}

Test(db_pool, a_failing_prepared_statement_keeps_the_connection, .fini = drop_scratch)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    make_scratch();
    char create[128], ins[128], count[128], pid[32], uses[64];
    expect_ok((outcome[]){ run_sql(&h, sqlf(create, sizeof create, "CREATE TABLE %s (id int PRIMARY KEY)"), 0, NULL) });
    backend_pid(&h, pid, sizeof pid);
    sqlf(ins, sizeof ins, "INSERT INTO %s VALUES ($1)");
    const char *one[] = { "1" };
    expect_ok((outcome[]){ run_sql(&h, ins, 1, one) });
    for (int i = 0; i < 3; i++) {
        /* The prepared insert fails; a statement never seen before comes after it, so
         * its Prepare is skipped with the rest of the pipeline and must not count as done. */
        char fresh[64];
        snprintf(fresh, sizeof fresh, "SELECT %d AS after_failure", i);
        db_query *q = db_query_new();
        db_query_add(q, ins, 1, one);
        db_query_add(q, fresh, 0, NULL);
        outcome o;
        submit(&h, q, &o);
        wait_all(&h);
        cr_assert_eq(o.status, DB_ERROR);
        cr_assert_str_eq(o.sqlstate, "23505");
        cr_assert_eq(o.nresults, 2);
        cr_assert_eq(o.rstatus[1], PGRES_PIPELINE_ABORTED);
        outcome again = run_sql(&h, fresh, 0, NULL);
        expect_ok(&again);
        prepared_uses(&h, fresh, uses, sizeof uses);
        cr_assert_str_eq(uses, "1,1");
    }
    /* A statement the server cannot prepare is the caller's error, as unprepared. */
    for (int i = 0; i < 3; i++) {
        outcome bad = run_sql(&h, "SELEC 1", 0, NULL);
        cr_assert_eq(bad.status, DB_ERROR);
        cr_assert_str_eq(bad.sqlstate, "42601");
    }
    outcome c = run_sql(&h, sqlf(count, sizeof count, "SELECT count(*) FROM %s"), 0, NULL);
    expect_ok(&c);
    cr_assert_str_eq(c.text[0], "1");
    expect_same_backend(&h, pid);
    harness_fini(&h);
}

/* A table changed under a prepared SELECT *: PostgreSQL refuses the cached plan (0A000);
 * the pool runs the query again unprepared and prepares the text afresh afterwards. */
Test(db_pool, a_prepared_statement_survives_a_table_change, .fini = drop_scratch)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    make_scratch();
    char create[128], ins[128], sel[128], alter[128], pid[32];
    db_query *q = db_query_new();
    db_query_add(q, sqlf(create, sizeof create, "CREATE TABLE %s (a int)"), 0, NULL);
    db_query_add(q, sqlf(ins, sizeof ins, "INSERT INTO %s VALUES (1)"), 0, NULL);
    outcome made;
    submit(&h, q, &made);
    wait_all(&h);
    expect_ok(&made);
    sqlf(sel, sizeof sel, "SELECT * FROM %s");
    for (int i = 0; i < 2; i++) {
        outcome o = run_sql(&h, sel, 0, NULL);
        expect_ok(&o);
        cr_assert_str_eq(o.text[0], "1");
    }
    backend_pid(&h, pid, sizeof pid);
    expect_ok((outcome[]){ run_sql(&h, sqlf(alter, sizeof alter, "ALTER TABLE %s ADD COLUMN b int DEFAULT 7"), 0, NULL) });
    for (int i = 0; i < 3; i++) {
        outcome o = run_sql(&h, sel, 0, NULL);
        expect_ok(&o);
        cr_assert_str_eq(o.text[0], "1,7");
    }
    expect_same_backend(&h, pid);
    harness_fini(&h);
}

/* Statements deallocated behind the pool's back (DEALLOCATE ALL): the query runs again
 * unprepared, and the connection, whose names no longer match, is replaced afterwards. */
Test(db_pool, deallocated_statements_are_run_again)
{
    harness h;
    harness_init(&h, 1, 10, 5000);
    char pid[32], pid_after[32], uses[64];
    const char *sql = "SELECT 'kept answering'";
    expect_ok((outcome[]){ run_sql(&h, sql, 0, NULL) });
    backend_pid(&h, pid, sizeof pid);
    expect_ok((outcome[]){ run_sql(&h, "DEALLOCATE ALL", 0, NULL) });
    outcome o = run_sql(&h, sql, 0, NULL);
    expect_ok(&o);
    cr_assert_str_eq(o.text[0], "kept answering");
    backend_pid(&h, pid_after, sizeof pid_after);
    cr_assert_str_neq(pid_after, pid);
    expect_ok((outcome[]){ run_sql(&h, sql, 0, NULL) });
    prepared_uses(&h, sql, uses, sizeof uses);
    cr_assert_str_eq(uses, "1,1");
    harness_fini(&h);
}

static int services(const char *verb)
{
    const char *root = getenv("FLICK_ROOT");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash %s/scripts/services.sh %s >/dev/null", root ? root : ".", verb);
    return system(cmd);
}

/* ---- LISTEN ---- */

static char channel[64];

static const char *listen_channel(void)
{
    snprintf(channel, sizeof channel, "db_pool_it_%ld", (long)getpid());
    return channel;
}

/* A reply callback that also records how many notifications had arrived before it ran. */
typedef struct noted {
    outcome o;
    heard *hd;
    int notes_before;
} noted;

static void on_noted_reply(void *arg, const db_reply *r)
{
    noted *n = arg;
    n->notes_before = n->hd->notes;
    on_reply(&n->o, r);
}

static noted run_noted(harness *h, heard *hd, const char *sql, int nparams, const char *const *params)
{
    noted n = { .hd = hd };
    db_query *q = db_query_new();
    db_query_add(q, sql, nparams, params);
    n.o.h = h;
    h->outstanding++;
    db_run(h->pool, q, on_noted_reply, &n);
    wait_all(h);
    cr_assert_eq(n.o.calls, 1);
    return n;
}

Test(db_pool, a_connection_hears_its_own_notify_before_its_reply)
{
    harness h;
    heard hd = { 0 };
    harness_init_listening(&h, 2, 10, 5000, listen_channel(), &hd);
    for (int i = 0; i < 20; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "own-%d", i);
        const char *params[] = { channel, payload };
        noted n = run_noted(&h, &hd, "SELECT pg_notify($1, $2)", 2, params);
        expect_ok(&n.o);
        cr_assert_eq(n.notes_before, i + 1, "round %d: %d notifications before the reply", i, n.notes_before);
        cr_assert_str_eq(hd.last, payload);
    }
    cr_assert_eq(hd.listening, 1);
    harness_fini(&h);
    cr_assert_eq(hd.listening, 0, "a freed pool still counts %d listening connections", hd.listening);
}

/* Another session commits a NOTIFY; a query the pool sends afterwards gets its reply only
 * after the notification was handed over, whichever connection runs it. */
Test(db_pool, a_notify_committed_elsewhere_arrives_before_a_later_reply)
{
    harness h;
    heard hd = { 0 };
    harness_init_listening(&h, 3, 10, 5000, listen_channel(), &hd);
    /* Three listening connections: three queries at once make the pool open them all. */
    outcome warm[3];
    for (int i = 0; i < 3; i++) {
        db_query *q = db_query_new();
        db_query_add(q, "SELECT pg_sleep(0.05)", 0, NULL);
        submit(&h, q, &warm[i]);
    }
    wait_all(&h);
    cr_assert_eq(hd.listening, 3);
    int before = hd.notes;

    PGconn *other = PQconnectdb(database_url());
    cr_assert_eq(PQstatus(other), CONNECTION_OK);
    for (int i = 0; i < 50; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "NOTIFY %s, 'elsewhere-%d'", channel, i);
        PGresult *res = PQexec(other, sql);
        cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        noted n = run_noted(&h, &hd, "SELECT 1", 0, NULL);
        expect_ok(&n.o);
        /* Each of the three connections hears every notification; at least one has passed
         * this one on before the reply. */
        cr_assert_geq(n.notes_before, before + 1, "round %d: the reply came first", i);
        before = n.notes_before;
    }
    PQfinish(other);
    harness_fini(&h);
}

Test(db_pool, listening_count_follows_the_connections)
{
    harness h;
    heard hd = { 0 };
    harness_init_listening(&h, 1, 10, 5000, listen_channel(), &hd);
    cr_assert_eq(hd.listening, 0, "connections are opened lazily");
    expect_ok((outcome[]){ run_sql(&h, "SELECT 1", 0, NULL) });
    cr_assert_eq(hd.listening, 1);
    outcome o = run_sql(&h, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL);
    cr_assert_eq(o.status, DB_UNAVAILABLE);
    cr_assert_eq(hd.listening, 0);
    expect_ok((outcome[]){ run_sql(&h, "SELECT 1", 0, NULL) });
    cr_assert_eq(hd.listening, 1, "the new connection listens again");
    harness_fini(&h);
    cr_assert_eq(hd.listening, 0);
}

static void restart_server(void)
{
    if (getenv("FLICK_VAR")) services("pg-start");
}

Test(db_pool, server_stop_fails_fast_and_start_recovers, .fini = restart_server, .timeout = 60)
{
    database_url();
    if (!getenv("FLICK_VAR")) cr_skip_test("FLICK_VAR is not set");
    const char *root = getenv("FLICK_ROOT");
    char script[512];
    snprintf(script, sizeof script, "%s/scripts/services.sh", root ? root : ".");
    if (access(script, R_OK) != 0) cr_skip_test("scripts/services.sh not found (set FLICK_ROOT)");

    harness h;
    harness_init(&h, 2, 10, 5000);
    expect_ok((outcome[]){ run_sql(&h, "SELECT 1", 0, NULL) });

    cr_assert_eq(services("pg-stop"), 0);
    /* Twice: once on the connection the stop broke, once with no connection at all. */
    for (int i = 0; i < 2; i++) {
        long long t0 = now_ms();
        outcome o = run_sql(&h, "SELECT 1", 0, NULL);
        cr_assert_eq(o.status, DB_UNAVAILABLE, "attempt %d: %d", i, o.status);
        cr_assert_lt(now_ms() - t0, 1000, "attempt %d took %lld ms", i, now_ms() - t0);
    }
    db_pool_stats st;
    db_pool_get_stats(h.pool, &st);
    cr_assert_eq(st.healthy, 0);
    cr_assert_eq(st.conns_open, 0);
    cr_assert_geq(st.rejected_total, 1);

    cr_assert_eq(services("pg-start"), 0);
    long long t0 = now_ms();
    outcome o;
    do {
        o = run_sql(&h, "SELECT 1", 0, NULL);
        if (o.status != DB_OK) run_for(&h, 100);
    } while (o.status != DB_OK && now_ms() - t0 < 5000);
    expect_ok(&o);
    cr_assert_lt(now_ms() - t0, 5000);
    db_pool_get_stats(h.pool, &st);
    cr_assert_eq(st.healthy, 1);
    harness_fini(&h);
}

/* One test at a time: the restart test stops the server under everyone's feet. */
int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    criterion_options.jobs = 1;
    int result = 0;
    if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}
