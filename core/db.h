/* core/db.h: an asynchronous PostgreSQL pool bound to one libevent loop.
 *
 * Each event loop owns one pool; nothing here blocks the loop. A query is one or more
 * statements sent together in libpq pipeline mode and closed by a single sync, so they
 * run as one implicit transaction: either all take effect or none does. Each connection
 * prepares a statement text the first time it runs it and reuses the prepared statement
 * afterwards (at most 64 texts per connection; others run unprepared), invisibly to callers:
 * a text must therefore be one SQL command, and one that PostgreSQL cannot keep prepared
 * (its cached plan no longer fits after a table changed, say) is simply run again
 * unprepared. Not for the one-shot commands (migrate, admin), which use a plain blocking
 * connection. */
#ifndef FLICK_CORE_DB_H
#define FLICK_CORE_DB_H

#include <stddef.h>
#include <libpq-fe.h>

struct event_base;

typedef struct db_pool db_pool;
typedef struct db_query db_query;

typedef enum db_status {
    DB_OK = 0,          /* every statement succeeded */
    DB_ERROR,           /* the server refused a statement: see sqlstate (e.g. "23505") */
    DB_UNAVAILABLE      /* no connection, wait queue full, or timed out: answer 503 */
} db_status;

/* What a query's callback sees. Everything in it is borrowed and valid only until the
 * callback returns (copy what you keep). */
typedef struct db_reply {
    db_status status;
    const char *sqlstate;       /* DB_ERROR: five-character SQLSTATE; otherwise "" */
    const char *message;        /* for the log only, never for a client */
    int nresults;               /* == number of statements when status == DB_OK */
    PGresult *const *results;   /* one per statement, in order */
} db_reply;

typedef void (*db_cb)(void *arg, const db_reply *reply);

/* Notifications. With a channel set, every connection of the pool runs LISTEN on it before
 * it takes any query, and hands each notification that arrives to on_notify: from the
 * pool's loop, and before the callback of any query whose results came after it on that
 * connection (a connection that commits a NOTIFY itself receives it before its results).
 * on_listening(arg, +1) once a connection listens, (arg, -1) when a listening one closes:
 * while the count across pools is above zero, no notification on the channel is missed. */
typedef struct db_listen {
    const char *channel;        /* NULL: no LISTEN */
    void (*on_notify)(void *arg, const char *payload);
    void (*on_listening)(void *arg, int delta);
    void *arg;
} db_listen;

typedef struct db_pool_config {
    const char *conninfo;       /* libpq connection string or URI */
    int max_conns;              /* connections this pool may open (>= 1) */
    int max_waiting;            /* queries queued while all connections are busy; beyond: DB_UNAVAILABLE */
    int query_timeout_ms;       /* a query not answered by then fails with DB_UNAVAILABLE */
    db_listen listen;           /* optional: LISTEN on every connection */
} db_pool_config;

/* Creates a pool on `base`; connections are opened lazily and reopened after failures.
 * The config strings are copied. */
db_pool *db_pool_new(struct event_base *base, const db_pool_config *cfg);
/* Closes every connection; queued and running queries get DB_UNAVAILABLE first. NULL: no-op. */
void db_pool_free(db_pool *pool);

/* A new, empty query. Owned by the caller until passed to db_run. */
db_query *db_query_new(void);
/* Appends one statement with text parameters ($1..$n); params[i] may be NULL for SQL NULL.
 * `sql` and the parameter strings are copied. Returns the statement's index. */
int db_query_add(db_query *q, const char *sql, int nparams, const char *const *params);
/* Frees a query that was never run. NULL: no-op. */
void db_query_free(db_query *q);

/* Runs `q` (takes ownership) and calls cb(arg, reply) exactly once, always later from the
 * event loop, never from inside db_run itself, even on immediate failure. */
void db_run(db_pool *pool, db_query *q, db_cb cb, void *arg);

/* Convenience: one statement. */
void db_exec(db_pool *pool, const char *sql, int nparams, const char *const *params,
             db_cb cb, void *arg);

/* Pool state for /metrics and /readyz. */
typedef struct db_pool_stats {
    int conns_open;         /* connected and usable or busy */
    int conns_busy;         /* running a query */
    int waiting;            /* queries queued for a connection */
    unsigned long long waits_total;     /* queries that had to queue */
    unsigned long long rejected_total;  /* queries refused: queue full or no server */
    int healthy;            /* 1 if the last connection attempt or query reached the server */
} db_pool_stats;
void db_pool_get_stats(const db_pool *pool, db_pool_stats *out);

#endif
