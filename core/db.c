/* core/db.c: the asynchronous PostgreSQL pool of db.h.
 *
 * Connections are opened lazily with PQconnectStart/PQconnectPoll, switched to non-blocking
 * pipeline mode, and driven only by libevent callbacks; a query's statements go out back to
 * back behind one sync. With a channel configured, each new connection first runs LISTEN
 * (as a query of its own) and then passes on every notification it reads. Each connection
 * prepares a statement the first time it runs its text (a Prepare sent in the same pipeline
 * as the statement, its result kept from the caller) and runs the prepared statement from
 * then on; a query that fails because of that machinery (a Prepare refused, a statement
 * gone or whose cached plan no longer fits) runs once more unprepared, which is safe because
 * nothing of a failed pipeline took effect. Not a general libpq wrapper: no COPY, no cancel
 * requests (a query that overruns its deadline loses its connection instead). */
#include "core/db.h"

#include "core/log.h"
#include "core/mem.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* After a failed connection attempt no new one starts for this long: a server that is down
 * costs one refused connect per interval, not one per query, and a server that comes back
 * is found again within the interval. */
#define DB_RECONNECT_MS 250

/* The wire protocol counts parameters in 16 bits. */
#define DB_MAX_PARAMS 65535

typedef struct db_stmt {
    char *sql;                  /* owned */
    int nparams;
    char **params;              /* owned, nparams entries; an entry may be NULL (SQL NULL) */
} db_stmt;

typedef enum query_state {
    Q_NEW,                      /* built by the caller, not yet passed to db_run */
    Q_WAITING,                  /* in the pool's wait queue */
    Q_RUNNING,                  /* sent on `conn`, results arriving */
    Q_DONE                      /* outcome fixed, on the done list until its callback runs */
} query_state;

typedef struct db_conn db_conn;

struct db_query {
    db_stmt *stmts;             /* owned; nstmts used out of cap */
    int nstmts, cap;
    query_state state;
    db_pool *pool;              /* set by db_run */
    db_cb cb;
    void *arg;
    struct event *deadline;     /* owned; pending from db_run until the query is done */
    db_conn *conn;              /* Q_RUNNING only: the connection, whose `q` points back here */
    db_query *prev, *next;      /* Q_WAITING: wait queue links; Q_DONE: done list (next only) */
    PGresult **results;         /* owned; nstmts slots once running, first nresults filled */
    int nresults;
    unsigned char *prepares;    /* owned; per statement: one of STMT_* */
    int next_result;            /* statement whose result (or Prepare result) comes next */
    int prepare_pending;        /* that statement's Prepare result has not arrived yet */
    int unprepared;             /* run every statement unnamed (the query's second run) */
    int rerun;                  /* failed because of the prepared path: run again unprepared */
    db_status status;           /* DB_ERROR as soon as a statement fails; final once Q_DONE */
    char sqlstate[6];           /* DB_ERROR: the first failing statement's SQLSTATE; else "" */
    char *message;              /* owned; NULL while nothing went wrong */
};

/* How a statement of a running query was sent. */
enum { STMT_UNNAMED, STMT_PREPARED, STMT_PREPARING /* Prepare sent just before it */ };

typedef enum conn_state {
    C_CONNECTING,               /* PQconnectPoll in progress; connect_timer pending */
    C_IDLE,                     /* in pipeline mode, nothing in flight, watching for EOF */
    C_BUSY                      /* running `q` */
} conn_state;

/* Statements this connection has prepared, by SQL text: a statement runs its plan from the
 * cache instead of being parsed and planned again on every call. Bounded; past the bound
 * statements simply run unprepared. */
#define DB_PREPARED_MAX 128
typedef struct prepared {
    char *sql;                  /* owned; NULL: free slot */
    unsigned hash;
    int unnamed;                /* the text always runs unnamed: its Prepare was refused, or
                                   it is planned better with its values */
} prepared;

struct db_conn {
    prepared stmts[DB_PREPARED_MAX];    /* open addressing on hash */
    int nprepared;
    db_pool *pool;              /* borrowed; the pool owns the connection through conns[slot] */
    int slot;
    PGconn *pg;                 /* owned; PQfinish'd when the connection is discarded */
    conn_state state;
    struct event *io;           /* owned; persistent watch of io_fd for io_what */
    int io_fd;
    short io_what;
    struct event *connect_timer;/* owned; C_CONNECTING only, bounds the handshake */
    db_query *q;                /* C_BUSY: the running query; otherwise NULL */
    int listening;              /* its LISTEN succeeded: on_listening(+1) was called */
    int names_unknown;          /* the server's prepared statements no longer match `stmts`
                                   (a statement ran DEALLOCATE, say): closed after its query */
};

struct db_pool {
    struct event_base *base;    /* borrowed; must outlive the pool */
    char *conninfo;             /* owned copy */
    db_listen listen;           /* channel: owned copy */
    int max_conns, max_waiting, query_timeout_ms;
    db_conn **conns;            /* owned, max_conns slots; NULL is a free slot */
    db_query *wait_head, *wait_tail;    /* FIFO of Q_WAITING queries; nwaiting long */
    int nwaiting;
    db_query *done_head, *done_tail;    /* Q_DONE queries whose callbacks have not run */
    struct event *done_ev;      /* made active whenever something joins the done list */
    struct event *retry_ev;     /* timer: pump again once the reconnect interval is over */
    long long next_connect_ms;  /* monotonic; no connection attempt starts before this */
    unsigned long long waits_total, rejected_total;
    int healthy;
    int closing;                /* db_pool_free has begun: nothing new is sent */
    int delivering;             /* callbacks are running from on_done */
    int free_deferred;          /* db_pool_free ran inside a callback: on_done frees the pool */
};

static void pump(db_pool *p);
static void start(db_conn *c, db_query *q);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct event *event_or_die(struct event *ev)
{
    /* event_new fails only without memory or on a bad descriptor, both invariant breaks. */
    if (!ev) {
        log_msg(LOG_ERROR, "db: cannot create an event", NULL);
        abort();
    }
    return ev;
}

static void arm_timer(struct event *ev, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(ev, &tv);
}

/* The connection's last error on one line (libpq ends messages with a newline). */
static const char *conn_error(const PGconn *pg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", pg ? PQerrorMessage(pg) : "out of memory");
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t') *c = ' ';
    return buf;
}

static void log_conn_problem(log_level level, const char *msg, const char *why)
{
    char esc[512];
    log_msg(level, msg, "\"error\":\"%s\"", log_escape(why, esc, sizeof esc));
}

/* Notices (a DROP ... IF EXISTS that skipped, say) would otherwise go to stderr as plain
 * text and break the JSON-lines log. */
static void on_notice(void *arg, const PGresult *r)
{
    (void)arg;
    char esc[512];
    log_msg(LOG_DEBUG, "db: notice", "\"detail\":\"%s\"",
            log_escape(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), esc, sizeof esc));
}

/* ---- queries ---------------------------------------------------------------------- */

db_query *db_query_new(void)
{
    db_query *q = xcalloc(1, sizeof *q);
    q->state = Q_NEW;
    return q;
}

int db_query_add(db_query *q, const char *sql, int nparams, const char *const *params)
{
    if (q->state != Q_NEW || nparams < 0 || nparams > DB_MAX_PARAMS || (nparams > 0 && !params)) {
        log_msg(LOG_ERROR, "db: db_query_add misuse", "\"nparams\":%d", nparams);
        abort();
    }
    if (q->nstmts == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 4;
        q->stmts = xrealloc(q->stmts, (size_t)q->cap * sizeof *q->stmts);
    }
    db_stmt *s = &q->stmts[q->nstmts];
    s->sql = xstrdup(sql);
    s->nparams = nparams;
    s->params = nparams ? xcalloc((size_t)nparams, sizeof *s->params) : NULL;
    for (int i = 0; i < nparams; i++)
        s->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    return q->nstmts++;
}

static void clear_results(db_query *q)
{
    for (int i = 0; i < q->nresults; i++) PQclear(q->results[i]);
    q->nresults = 0;
}

/* Frees everything the query owns; it must be on no list and have no connection. */
static void query_destroy(db_query *q)
{
    free(q->prepares);
    for (int i = 0; i < q->nstmts; i++) {
        for (int j = 0; j < q->stmts[i].nparams; j++) free(q->stmts[i].params[j]);
        free(q->stmts[i].params);
        free(q->stmts[i].sql);
    }
    free(q->stmts);
    clear_results(q);
    free(q->results);
    free(q->message);
    if (q->deadline) event_free(q->deadline);
    free(q);
}

void db_query_free(db_query *q)
{
    if (q) query_destroy(q);
}

static void unlink_waiting(db_pool *p, db_query *q)
{
    if (q->prev) q->prev->next = q->next; else p->wait_head = q->next;
    if (q->next) q->next->prev = q->prev; else p->wait_tail = q->prev;
    q->prev = q->next = NULL;
    p->nwaiting--;
}

/* Fixes q's outcome and puts it on the done list; its callback runs later from on_done, so
 * that no callback ever runs inside db_run or in the middle of the pool's own bookkeeping.
 * Detaches q from the wait queue or its connection (the caller settles the connection). */
static void complete(db_query *q, db_status status, const char *message)
{
    db_pool *p = q->pool;

    if (q->state == Q_WAITING) unlink_waiting(p, q);
    if (q->conn) {
        q->conn->q = NULL;
        q->conn = NULL;
    }
    if (q->deadline) {
        event_free(q->deadline);
        q->deadline = NULL;
    }
    q->status = status;
    if (status != DB_ERROR) q->sqlstate[0] = '\0';
    /* Partial results of a query that did not finish mean nothing to the caller. */
    if (status == DB_UNAVAILABLE) clear_results(q);
    if (message && (status == DB_UNAVAILABLE || !q->message)) {
        free(q->message);
        q->message = xstrdup(message);
    }
    q->state = Q_DONE;
    q->next = NULL;
    if (p->done_tail) p->done_tail->next = q; else p->done_head = q;
    p->done_tail = q;
    event_active(p->done_ev, EV_TIMEOUT, 0);
}

/* Runs the callbacks of the done list in order, each exactly once, then frees the query.
 * A callback may call db_run (its query joins the list) or db_pool_free. */
static void deliver(db_pool *p)
{
    db_query *q;
    while (!p->free_deferred && (q = p->done_head)) {
        p->done_head = q->next;
        if (!p->done_head) p->done_tail = NULL;
        db_reply reply = {
            .status = q->status,
            .sqlstate = q->sqlstate,
            .message = q->message ? q->message : "",
            .nresults = q->nresults,
            .results = q->results,
        };
        q->cb(q->arg, &reply);
        query_destroy(q);
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_pool *p = arg;
    p->delivering = 1;
    deliver(p);
    if (p->free_deferred) {
        free(p);
        return;
    }
    p->delivering = 0;
}

/* ---- connections ------------------------------------------------------------------ */

static void on_io(evutil_socket_t fd, short what, void *arg);

/* Makes the connection's one event watch its current socket for `what`. The socket can
 * change while connecting (libpq tries each address in turn). */
static void watch(db_conn *c, short what)
{
    int fd = PQsocket(c->pg);
    if (c->io && c->io_fd == fd && c->io_what == what) return;
    if (c->io) event_free(c->io);
    c->io = event_or_die(event_new(c->pool->base, fd, what | EV_PERSIST, on_io, c));
    c->io_fd = fd;
    c->io_what = what;
    event_add(c->io, NULL);
}

/* Closes c and frees its slot; a query running on it fails with DB_UNAVAILABLE. Never
 * reused afterwards: a connection in an unknown protocol state cannot be trusted. */
static void conn_discard(db_conn *c, const char *why)
{
    db_pool *p = c->pool;
    if (c->q) complete(c->q, DB_UNAVAILABLE, why);
    if (c->listening) p->listen.on_listening(p->listen.arg, -1);
    p->conns[c->slot] = NULL;
    for (int i = 0; i < DB_PREPARED_MAX; i++) free(c->stmts[i].sql);
    if (c->io) event_free(c->io);
    if (c->connect_timer) event_free(c->connect_timer);
    PQfinish(c->pg);
    free(c);
}

static int conns_in(const db_pool *p, conn_state state)
{
    int n = 0;
    for (int i = 0; i < p->max_conns; i++)
        if (p->conns[i] && p->conns[i]->state == state) n++;
    return n;
}

/* The LISTEN query's callback: what matters happens in query_synced. */
static void listen_answered(void *arg, const db_reply *reply)
{
    (void)arg;
    (void)reply;
}

static int is_listen(const db_query *q)
{
    return q && q->cb == listen_answered;
}

/* Connections on their way to taking queries: connecting, or running their LISTEN. */
static int conns_coming(const db_pool *p)
{
    int n = 0;
    for (int i = 0; i < p->max_conns; i++) {
        const db_conn *c = p->conns[i];
        if (c && (c->state == C_CONNECTING || (c->state == C_BUSY && is_listen(c->q)))) n++;
    }
    return n;
}

static int conns_any(const db_pool *p)
{
    for (int i = 0; i < p->max_conns; i++)
        if (p->conns[i]) return 1;
    return 0;
}

/* A connection was lost or refused: the server is presumed down until one reaches it. */
static void mark_unhealthy(db_pool *p, const char *msg, const char *why)
{
    /* Only the change is worth a warning; repeated refusals while down go to debug. */
    log_conn_problem(p->healthy ? LOG_WARN : LOG_DEBUG, msg, why);
    p->healthy = 0;
}

/* A connection attempt failed (`why`, or libpq's message when NULL). */
static void connect_failed(db_conn *c, const char *why)
{
    db_pool *p = c->pool;
    char buf[256];
    if (!why) why = conn_error(c->pg, buf, sizeof buf);
    mark_unhealthy(p, "db: cannot connect", why);
    p->next_connect_ms = now_ms() + DB_RECONNECT_MS;
    char msg[300];
    snprintf(msg, sizeof msg, "database unavailable: %s", why);
    conn_discard(c, msg);
    /* Waiting queries with no other connection to wait for would only sit until their
     * deadline: fail them now so that callers answer 503 promptly. */
    if (!conns_any(p)) {
        while (p->wait_head) {
            p->rejected_total++;
            complete(p->wait_head, DB_UNAVAILABLE, msg);
        }
    }
    pump(p);
}

/* A new connection's first query: LISTEN on the pool's channel, bounded like any query. */
static void start_listen(db_conn *c)
{
    db_pool *p = c->pool;
    char *ident = PQescapeIdentifier(c->pg, p->listen.channel, strlen(p->listen.channel));
    if (!ident) {
        connect_failed(c, NULL);
        return;
    }
    char sql[256];
    snprintf(sql, sizeof sql, "LISTEN %s", ident);
    PQfreemem(ident);
    db_query *q = db_query_new();
    db_query_add(q, sql, 0, NULL);
    q->pool = p;
    q->cb = listen_answered;
    q->deadline = event_or_die(evtimer_new(p->base, on_deadline, q));
    arm_timer(q->deadline, p->query_timeout_ms);
    start(c, q);
    pump(p);
}

static void connected(db_conn *c)
{
    db_pool *p = c->pool;
    event_free(c->connect_timer);
    c->connect_timer = NULL;
    /* Pipeline mode is only usable non-blocking: a blocking flush could stall the loop on
     * a full socket buffer while the server waits for us to read. */
    if (PQsetnonblocking(c->pg, 1) != 0 || PQenterPipelineMode(c->pg) != 1) {
        connect_failed(c, NULL);
        return;
    }
    if (!p->healthy) log_msg(LOG_INFO, "db: connected", NULL);
    p->healthy = 1;
    c->state = C_IDLE;
    if (p->listen.channel) {
        start_listen(c);
        return;
    }
    watch(c, EV_READ);
    pump(p);
}

static void connect_step(db_conn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        if (PQsocket(c->pg) < 0) connect_failed(c, NULL);
        else watch(c, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        if (PQsocket(c->pg) < 0) connect_failed(c, NULL);
        else watch(c, EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        connected(c);
        break;
    default:
        connect_failed(c, NULL);
        break;
    }
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_conn *c = arg;
    /* PQconnectPoll has no clock of its own; a handshake lost in a firewall ends here. */
    char why[64];
    snprintf(why, sizeof why, "connection attempt timed out after %d ms", c->pool->query_timeout_ms);
    connect_failed(c, why);
}

/* Starts a connection in the free `slot`. PQconnectStart resolves host names synchronously;
 * configure an address (or hostaddr) where that matters. */
static void conn_open(db_pool *p, int slot)
{
    db_conn *c = xcalloc(1, sizeof *c);
    c->pool = p;
    c->slot = slot;
    c->state = C_CONNECTING;
    c->io_fd = -1;
    p->conns[slot] = c;
    c->pg = PQconnectStart(p->conninfo);
    if (c->pg) PQsetNoticeReceiver(c->pg, on_notice, NULL);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD || PQsocket(c->pg) < 0) {
        connect_failed(c, NULL);
        return;
    }
    c->connect_timer = event_or_die(evtimer_new(p->base, on_connect_timeout, c));
    arm_timer(c->connect_timer, p->query_timeout_ms);
    /* libpq: after PQconnectStart, proceed as if PQconnectPoll had returned WRITING. */
    watch(c, EV_WRITE);
}

/* Hands over every notification libpq has parsed on c. */
static void take_notifies(db_conn *c)
{
    db_pool *p = c->pool;
    PGnotify *n;
    while ((n = PQnotifies(c->pg))) {
        if (p->listen.on_notify) p->listen.on_notify(p->listen.arg, n->extra);
        PQfreemem(n);
    }
}

/* An idle connection watches its socket to notice the server going away (shutdown,
 * restart, idle timeout), so that the next query does not pick a dead connection, and to
 * pass on notifications as they come. */
static void idle_input(db_conn *c)
{
    db_pool *p = c->pool;
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
        char why[256];
        mark_unhealthy(p, "db: connection lost", conn_error(c->pg, why, sizeof why));
        conn_discard(c, why);
        pump(p);
        return;
    }
    take_notifies(c);
}

/* Records one statement's result in q; the first failure fixes the reply's SQLSTATE. */
static void take_result(db_query *q, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY &&
        q->status != DB_ERROR) {
        /* PGRES_PIPELINE_ABORTED follows the failed statement, so it never comes first
         * unless the protocol went wrong; it then reports an empty SQLSTATE. */
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        q->status = DB_ERROR;
        snprintf(q->sqlstate, sizeof q->sqlstate, "%s", state ? state : "");
        free(q->message);
        q->message = xstrdup(msg ? msg : PQresStatus(st));
    }
    if (q->nresults < q->nstmts) q->results[q->nresults++] = r;
    else PQclear(r);
}

static unsigned sql_hash(const char *sql)
{
    unsigned h = 2166136261u;
    for (; *sql; sql++) h = (h ^ (unsigned char)*sql) * 16777619u;
    return h;
}

/* Whether sql tests membership in an array parameter (`= ANY ($5)`, `<> ALL ($5::bigint[])`).
 * Such a statement runs faster planned with its values: the planner then hashes a long
 * constant list and sees how long it is, where a generic plan, which a prepared statement
 * switches to after five runs, compares every element in turn and guesses. Measured on the
 * For You query: 30 to 40 % slower execution with a hundred ids already shown, more than the
 * planning saved (bench/REPORT.md, Feeds). Those texts are therefore never prepared. */
static int planned_with_values(const char *sql)
{
    static const char *const ops[] = { "any", "all" };
    for (int k = 0; k < 2; k++) {
        for (const char *p = sql; (p = strcasestr(p, ops[k])); p += 3) {
            const char *q = p + 3;
            while (*q == ' ' || *q == '\n') q++;
            if (*q++ != '(') continue;
            while (*q == ' ' || *q == '\n') q++;
            if (*q == '$') return 1;
        }
    }
    return 0;
}

/* The cache slot for sql: *known says whether it is already prepared there. -1 when the
 * cache is full and sql is not in it. A statement's slot number is its name ("s<slot>"). */
static int find_prepared(db_conn *c, const char *sql, int *known)
{
    unsigned h = sql_hash(sql);
    *known = 0;
    for (int i = 0; i < DB_PREPARED_MAX; i++) {
        int slot = (int)((h + (unsigned)i) % DB_PREPARED_MAX);
        prepared *e = &c->stmts[slot];
        if (!e->sql) {
            if (c->nprepared >= DB_PREPARED_MAX / 2) return -1;    /* keep probes short */
            e->hash = h;
            return slot;
        }
        if (e->hash == h && strcmp(e->sql, sql) == 0) {
            *known = 1;
            return slot;
        }
    }
    return -1;
}

/* A statement that must not be run by its name again (its Prepare failed, or its cached
 * plan no longer fits the tables); its slot stays taken (open addressing), marked by an
 * empty text that no statement matches, so the name is never reused. The text is prepared
 * afresh under another name next time, while the bound allows. */
static void forget_prepared(db_conn *c, const char *sql)
{
    int known = 0, slot = find_prepared(c, sql, &known);
    if (slot >= 0 && known) c->stmts[slot].sql[0] = '\0';
}

/* A text whose Prepare the server refused is not offered again on this connection (one
 * slot, however often it runs); it runs unnamed, where it succeeds or fails on its own. */
static void keep_unnamed(db_conn *c, const char *sql)
{
    int known = 0, slot = find_prepared(c, sql, &known);
    if (slot >= 0 && known) c->stmts[slot].unnamed = 1;
}

/* The first failure of q came from the prepared path rather than from the statement itself:
 * a Prepare refused, or a prepared statement that the server no longer has (26000) or whose
 * cached plan no longer returns what it did (0A000, "cached plan must not change result
 * type", after a table changed). The query runs again unprepared on this connection. */
static void prepared_failed(db_conn *c, db_query *q, const PGresult *r, int in_prepare)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!state) state = "";
    const char *sql = q->stmts[q->next_result - !in_prepare].sql;
    if (in_prepare) {
        /* 42P05: the name exists on the server although the cache does not know it. */
        if (strcmp(state, "42P05") == 0) {
            forget_prepared(c, sql);
            c->names_unknown = 1;
        } else {
            keep_unnamed(c, sql);
        }
    } else if (strcmp(state, "26000") == 0) {
        c->names_unknown = 1;
    } else if (strcmp(state, "0A000") == 0) {
        forget_prepared(c, sql);
    } else {
        return;     /* the statement's own failure: the caller's answer */
    }
    q->rerun = 1;
    char esc[256];
    log_msg(LOG_DEBUG, "db: prepared statement failed, running the query unprepared",
            "\"sqlstate\":\"%s\",\"sql\":\"%.80s\"", state, log_escape(sql, esc, sizeof esc));
}

typedef enum drain_outcome { DRAIN_MORE, DRAIN_SYNCED, DRAIN_BROKEN } drain_outcome;

/* Reads every result libpq can hand over without blocking. In pipeline mode each statement
 * ends with a NULL from PQgetResult and the whole query with a PGRES_PIPELINE_SYNC result;
 * two NULLs in a row mean nothing more is queued, which before the sync only happens when
 * the connection broke. */
static drain_outcome drain(db_conn *c)
{
    int nulls = 0;
    while (PQstatus(c->pg) == CONNECTION_OK && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (++nulls > 1) break;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return DRAIN_SYNCED;
        }
        db_query *q = c->q;
        ExecStatusType st = PQresultStatus(r);
        int first_failure = st == PGRES_FATAL_ERROR && q->status != DB_ERROR && !q->rerun;
        if (q->prepare_pending) {
            /* The Prepare's own result, never the caller's: the statement's result follows.
             * A Prepare that failed, or was skipped after an earlier failure, created
             * nothing on this connection. */
            q->prepare_pending = 0;
            if (st != PGRES_COMMAND_OK && first_failure) prepared_failed(c, q, r, 1);
            else if (st != PGRES_COMMAND_OK) forget_prepared(c, q->stmts[q->next_result].sql);
            PQclear(r);
            continue;
        }
        int i = q->next_result++;
        q->prepare_pending = q->next_result < q->nstmts && q->prepares[q->next_result] == STMT_PREPARING;
        if (first_failure && q->prepares[i] != STMT_UNNAMED) prepared_failed(c, q, r, 0);
        take_result(q, r);
    }
    return PQstatus(c->pg) == CONNECTION_OK && nulls < 2 ? DRAIN_MORE : DRAIN_BROKEN;
}

/* The query on c got its sync: hand the outcome over and make c available again. */
static void query_synced(db_conn *c)
{
    db_pool *p = c->pool;
    db_query *q = c->q;
    p->healthy = 1;
    if (q->status == DB_OK && q->nresults != q->nstmts) {
        /* One result per statement is libpq's promise; without it the results cannot be
         * matched to statements, and the connection's state is unknown. */
        log_msg(LOG_ERROR, "db: result count mismatch", "\"statements\":%d,\"results\":%d",
                q->nstmts, q->nresults);
        conn_discard(c, "protocol error");
        return;
    }
    if (q->rerun) {
        /* Nothing of the failed run took effect: the same statements, unnamed, on the
         * same connection, under the same deadline. */
        clear_results(q);
        free(q->results);
        free(q->prepares);
        q->results = NULL;
        q->prepares = NULL;
        q->status = DB_OK;
        q->sqlstate[0] = '\0';
        free(q->message);
        q->message = NULL;
        q->rerun = 0;
        q->unprepared = 1;
        c->q = NULL;
        q->conn = NULL;
        c->state = C_IDLE;
        start(c, q);
        return;
    }
    db_status status = q->status;
    int listen = is_listen(q);
    complete(q, status, NULL);
    if (c->names_unknown) {
        /* Its statement names cannot be trusted any more; a new connection starts clean. */
        conn_discard(c, "prepared statements out of step");
        return;
    }
    if (listen && status == DB_OK) {
        c->listening = 1;
        p->listen.on_listening(p->listen.arg, +1);
    } else if (listen) {
        log_msg(LOG_WARN, "db: LISTEN refused", "\"channel\":\"%s\"", p->listen.channel);
    }
    c->state = C_IDLE;
    watch(c, EV_READ);
}

static void busy_io(db_conn *c, short what)
{
    db_pool *p = c->pool;
    char why[256];

    if ((what & EV_READ) && !PQconsumeInput(c->pg)) goto broken;
    /* While the request is still going out, reading may be what unblocks the server, so
     * both directions are watched and every event retries the flush. */
    if (c->io_what & EV_WRITE) {
        int r = PQflush(c->pg);
        if (r < 0) goto broken;
        if (r == 0) watch(c, EV_READ);
    }
    /* Before any callback of this query can run: a notification that came first is acted
     * on first. */
    take_notifies(c);
    switch (drain(c)) {
    case DRAIN_MORE:
        return;
    case DRAIN_SYNCED:
        take_notifies(c);
        query_synced(c);
        pump(p);
        return;
    case DRAIN_BROKEN:
        break;
    }
broken:
    mark_unhealthy(p, "db: connection lost", conn_error(c->pg, why, sizeof why));
    conn_discard(c, why);
    pump(p);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    db_conn *c = arg;
    switch (c->state) {
    case C_CONNECTING: connect_step(c); break;
    case C_IDLE: idle_input(c); break;
    case C_BUSY: busy_io(c, what); break;
    }
}

/* Sends q on the idle connection c: every statement, one sync, then as much as the socket
 * takes. On failure c is discarded and q fails; the caller's pump carries on. */
static void start(db_conn *c, db_query *q)
{
    db_pool *p = c->pool;
    char why[256];

    q->state = Q_RUNNING;
    q->conn = c;
    c->q = q;
    c->state = C_BUSY;
    q->results = xcalloc((size_t)q->nstmts, sizeof *q->results);
    q->prepares = xcalloc((size_t)q->nstmts, 1);
    for (int i = 0; i < q->nstmts; i++) {
        const db_stmt *s = &q->stmts[i];
        char name[16];
        int known = 0, slot = q->unprepared ? -1 : find_prepared(c, s->sql, &known);
        if (slot >= 0 && !known && planned_with_values(s->sql)) {
            /* Remembered as unnamed, so the text is looked at once per connection. */
            c->stmts[slot].sql = xstrdup(s->sql);
            c->stmts[slot].unnamed = 1;
            c->nprepared++;
            known = 1;
        }
        if (slot < 0 || (known && c->stmts[slot].unnamed)) {
            if (!PQsendQueryParams(c->pg, s->sql, s->nparams, NULL, (const char *const *)s->params,
                                   NULL, NULL, 0))
                goto broken;
            continue;
        }
        snprintf(name, sizeof name, "s%d", slot);
        if (!known) {
            if (!PQsendPrepare(c->pg, name, s->sql, s->nparams, NULL)) goto broken;
            c->stmts[slot].sql = xstrdup(s->sql);
            c->nprepared++;
        }
        q->prepares[i] = known ? STMT_PREPARED : STMT_PREPARING;
        if (!PQsendQueryPrepared(c->pg, name, s->nparams, (const char *const *)s->params, NULL, NULL, 0))
            goto broken;
    }
    q->next_result = 0;
    q->prepare_pending = q->nstmts > 0 && q->prepares[0] == STMT_PREPARING;
    if (!PQpipelineSync(c->pg)) goto broken;
    int r = PQflush(c->pg);
    if (r < 0) goto broken;
    watch(c, r ? EV_READ | EV_WRITE : EV_READ);
    return;
broken:
    mark_unhealthy(p, "db: cannot send query", conn_error(c->pg, why, sizeof why));
    conn_discard(c, why);
}

/* An idle connection fit for a new query, discarding any that is not: a connection left
 * inside a transaction or in a failed state must never carry someone else's query. */
static db_conn *take_idle(db_pool *p)
{
    for (int i = 0; i < p->max_conns; i++) {
        db_conn *c = p->conns[i];
        if (!c || c->state != C_IDLE) continue;
        if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE)
            return c;
        log_msg(LOG_WARN, "db: discarding a connection not idle", "\"txn_status\":%d",
                (int)PQtransactionStatus(c->pg));
        conn_discard(c, "connection not idle");
    }
    return NULL;
}

static int free_slot(const db_pool *p)
{
    for (int i = 0; i < p->max_conns; i++)
        if (!p->conns[i]) return i;
    return -1;
}

/* Moves the pool forward: waiting queries go to idle connections, and connections are
 * opened while more queries wait than are being connected for. Every state change ends
 * here, so the invariant "a query waits only if no connection is idle" holds between
 * events. */
static void pump(db_pool *p)
{
    if (p->closing) return;
    db_conn *c;
    while (p->wait_head && (c = take_idle(p))) {
        db_query *q = p->wait_head;
        unlink_waiting(p, q);
        start(c, q);
    }
    int slot;
    while (p->nwaiting > conns_coming(p) && (slot = free_slot(p)) >= 0) {
        long long wait = p->next_connect_ms - now_ms();
        if (wait > 0) {
            arm_timer(p->retry_ev, (int)wait);
            break;
        }
        /* While the server is presumed down, one attempt at a time is enough to find out. */
        if (!p->healthy && conns_in(p, C_CONNECTING) > 0) break;
        conn_open(p, slot);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    db_query *q = arg;
    db_pool *p = q->pool;
    char why[64];
    snprintf(why, sizeof why, "query timed out after %d ms", p->query_timeout_ms);
    if (q->state == Q_RUNNING) {
        log_msg(LOG_WARN, "db: query timed out, closing its connection", "\"timeout_ms\":%d",
                p->query_timeout_ms);
        conn_discard(q->conn, why);
        pump(p);
    } else {
        complete(q, DB_UNAVAILABLE, why);
    }
}

/* ---- the pool --------------------------------------------------------------------- */

db_pool *db_pool_new(struct event_base *base, const db_pool_config *cfg)
{
    if (!base || !cfg || !cfg->conninfo || cfg->max_conns < 1 || cfg->max_waiting < 0 ||
        cfg->query_timeout_ms < 1) {
        log_msg(LOG_ERROR, "db: invalid pool configuration", NULL);
        abort();
    }
    db_pool *p = xcalloc(1, sizeof *p);
    p->base = base;
    p->conninfo = xstrdup(cfg->conninfo);
    p->listen = cfg->listen;
    if (p->listen.channel) {
        if (!p->listen.on_listening) {
            log_msg(LOG_ERROR, "db: a listening pool needs on_listening", NULL);
            abort();
        }
        p->listen.channel = xstrdup(p->listen.channel);
    }
    p->max_conns = cfg->max_conns;
    p->max_waiting = cfg->max_waiting;
    p->query_timeout_ms = cfg->query_timeout_ms;
    p->conns = xcalloc((size_t)p->max_conns, sizeof *p->conns);
    p->done_ev = event_or_die(event_new(base, -1, 0, on_done, p));
    p->retry_ev = event_or_die(evtimer_new(base, on_retry, p));
    return p;
}

void db_pool_free(db_pool *p)
{
    if (!p || p->closing) return;
    p->closing = 1;
    while (p->wait_head) complete(p->wait_head, DB_UNAVAILABLE, "database pool closed");
    for (int i = 0; i < p->max_conns; i++)
        if (p->conns[i]) conn_discard(p->conns[i], "database pool closed");
    /* The pool is going away, so the callbacks cannot wait for the loop. */
    deliver(p);
    event_free(p->done_ev);
    event_free(p->retry_ev);
    free(p->conns);
    free(p->conninfo);
    free((char *)p->listen.channel);
    if (p->delivering) p->free_deferred = 1;
    else free(p);
}

void db_run(db_pool *p, db_query *q, db_cb cb, void *arg)
{
    if (q->state != Q_NEW) {
        log_msg(LOG_ERROR, "db: db_run on a query already run", NULL);
        abort();
    }
    q->pool = p;
    q->cb = cb;
    q->arg = arg;
    if (p->closing) {
        complete(q, DB_UNAVAILABLE, "database pool closed");
        return;
    }
    /* The cap is on queries waiting for a busy connection: those that a connection being
     * opened (or a free slot) will take do not count against it. */
    int headroom = p->max_conns - conns_in(p, C_IDLE) - conns_in(p, C_BUSY);
    if (p->nwaiting >= p->max_waiting + headroom) {
        p->rejected_total++;
        complete(q, DB_UNAVAILABLE, "database wait queue full");
        return;
    }
    q->deadline = event_or_die(evtimer_new(p->base, on_deadline, q));
    arm_timer(q->deadline, p->query_timeout_ms);
    q->state = Q_WAITING;
    q->prev = p->wait_tail;
    q->next = NULL;
    if (p->wait_tail) p->wait_tail->next = q; else p->wait_head = q;
    p->wait_tail = q;
    p->nwaiting++;
    pump(p);
    /* q is at worst on the done list here, not freed: reading its state is safe. */
    if (q->state == Q_WAITING) p->waits_total++;
}

void db_exec(db_pool *p, const char *sql, int nparams, const char *const *params,
             db_cb cb, void *arg)
{
    db_query *q = db_query_new();
    db_query_add(q, sql, nparams, params);
    db_run(p, q, cb, arg);
}

void db_pool_get_stats(const db_pool *p, db_pool_stats *out)
{
    out->conns_busy = conns_in(p, C_BUSY);
    out->conns_open = conns_in(p, C_IDLE) + out->conns_busy;
    out->waiting = p->nwaiting;
    out->waits_total = p->waits_total;
    out->rejected_total = p->rejected_total;
    out->healthy = p->healthy;
}
