/* core/kv.c: the asynchronous Redis client of kv.h: one hiredis connection per client on
 * the caller's event loop, a deadline on every command, reconnection with backoff.
 *
 * It promises every caller exactly one callback, later, from the loop; what it does not
 * promise is a reply: Redis is a cache here, so a slow or absent server means NULL, fast.
 * Not for pub/sub, MONITOR or blocking commands that outlive the timeout. */
#include "core/kv.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "core/log.h"
#include "core/mem.h"

#define KV_DEFAULT_PORT 6379
#define KV_DEFAULT_TIMEOUT_MS 1000
/* Commands handed to hiredis and not yet called back (answered or timed out): beyond
 * this, Redis is not keeping up and queueing more only adds memory and latency. */
#define KV_MAX_SENT 10000
/* Consecutive timeouts with no reply in between after which the server is taken to be
 * hung (accepting, not answering): the connection is dropped and made again. */
#define KV_HUNG_AFTER 3
#define KV_BACKOFF_FIRST_MS 100
#define KV_BACKOFF_MAX_MS 1000

typedef enum kv_state {
    KV_DOWN,        /* no usable connection; link_ev is armed to reconnect (or, while
                       hiredis tears a connection down, on_disconnect is about to arm it) */
    KV_CONNECTING,  /* ac is connecting; link_ev bounds how long */
    KV_SELECTING,   /* connected, SELECT in flight; callers still get NULL */
    KV_READY,       /* commands go to Redis */
    KV_CLOSING,     /* we decided to drop ac from inside a hiredis callback; link_ev fires
                       at once and drops it from outside */
    KV_FREEING,     /* kv_free has run; a holder finishes the teardown */
} kv_state;

typedef struct kv_cmd kv_cmd;
struct kv_cmd {
    /* The client while it is alive; NULL once kv_free detached the record, after which
     * the only thing left to do is to free it when hiredis calls back. */
    kv_client *kv;
    kv_cb cb;                   /* NULL once the caller was answered */
    void *arg;
    uint64_t deadline_ms;       /* CLOCK_MONOTONIC */
    unsigned orphan : 1;        /* timed out: the caller had NULL; a late reply is dropped */
    unsigned internal : 1;      /* our own SELECT: not counted in failed_total */
    kv_cmd *next;               /* in kv->sent or kv->failq */
};

struct kv_client {
    struct event_base *base;    /* borrowed; must outlive the client */
    kv_config cfg;
    kv_state state;
    /* Owned; NULL in KV_DOWN (except while hiredis itself tears it down) and after
     * kv_free. Its data points back here until we let go of it. */
    redisAsyncContext *ac;

    /* Every record hiredis holds for ac, in the order it will call them back (Redis
     * answers in order). Deadlines grow along the list, so the timed-out records (orphans)
     * always form its prefix and oldest_live is the first record still waiting. */
    kv_cmd *sent_head, *sent_tail, *oldest_live;
    int nsent, norphans;
    /* Records to answer with NULL on the next loop iteration (never from inside a call). */
    kv_cmd *fail_head, *fail_tail;
    int nfail;

    struct event *deadline_ev;  /* pending whenever oldest_live is set, due no later than
                                   its deadline (it may fire early; it then re-arms) */
    struct event *fail_ev;      /* zero timer, armed whenever failq is non-empty */
    struct event *link_ev;      /* drives the connection: reconnect, connect timeout, drop */

    int backoff_ms;             /* wait before the next connect attempt */
    int timeouts_in_row;        /* timeouts since the last reply; see KV_HUNG_AFTER */
    int down_logged;            /* the outage was logged once; recovery will be too */
    char drop_reason[160];      /* why KV_CLOSING, for the log */
    unsigned long long failed_total;
    /* Our event handlers call back into user code that may call kv_free; while they hold
     * the client, kv_free answers everyone and lets go of ac but leaves the memory to the
     * last holder, which frees it on the way out. */
    int holds;
};

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void on_selected(void *arg, const redisReply *reply);

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void arm_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    evtimer_add(ev, &tv);
}

static void hold(kv_client *kv) { kv->holds++; }

/* Frees the client when kv_free ran meanwhile and this was the last hold: the caller must
 * not touch kv afterwards. */
static void release(kv_client *kv)
{
    if (--kv->holds > 0 || kv->state != KV_FREEING) return;
    event_free(kv->deadline_ev);
    event_free(kv->fail_ev);
    event_free(kv->link_ev);
    free(kv);
}

static void log_link(log_level level, const kv_client *kv, const char *msg, const char *why)
{
    char host[128], err[256];
    log_escape(kv->cfg.host, host, sizeof host);
    if (why)
        log_msg(level, msg, "\"host\":\"%s\",\"port\":%d,\"error\":\"%s\"", host,
                kv->cfg.port, log_escape(why, err, sizeof err));
    else
        log_msg(level, msg, "\"host\":\"%s\",\"port\":%d", host, kv->cfg.port);
}

/* ---- the connection ---------------------------------------------------------------- */

static void schedule_reconnect(kv_client *kv, const char *why)
{
    /* One line per outage, not one per attempt: a dead Redis must not flood the log. */
    log_link(kv->down_logged ? LOG_DEBUG : LOG_WARN, kv, "redis unavailable", why);
    kv->down_logged = 1;
    kv->state = KV_DOWN;
    arm_ms(kv->link_ev, (uint64_t)kv->backoff_ms);
    kv->backoff_ms = kv->backoff_ms * 2 > KV_BACKOFF_MAX_MS ? KV_BACKOFF_MAX_MS : kv->backoff_ms * 2;
}

/* Only from outside hiredis (our own timers, kv_free), never from a hiredis callback:
 * redisAsyncFree there would free the context under hiredis's feet. Records still in
 * flight come back through on_reply with NULL, so a caller's callback may run (and call
 * kv_free) inside; callers must hold kv. */
static void drop_connection(kv_client *kv, const char *why)
{
    redisAsyncContext *ac = kv->ac;
    kv->ac = NULL;
    schedule_reconnect(kv, why);
    if (ac) {
        ac->data = NULL;            /* on_connect/on_disconnect: no longer ours */
        redisAsyncFree(ac);
    }
}

/* From inside a hiredis callback: stop taking commands now, drop from the loop. */
static void request_drop(kv_client *kv, const char *why)
{
    snprintf(kv->drop_reason, sizeof kv->drop_reason, "%s", why);
    kv->state = KV_CLOSING;
    arm_ms(kv->link_ev, 0);
}

static void became_ready(kv_client *kv)
{
    kv->state = KV_READY;
    kv->timeouts_in_row = 0;
}

/* A reply to a caller or a good SELECT, not a connect, shows the server is back: a hung
 * server accepts connections too, and a server that refuses our SELECT must not be
 * retried at the shortest backoff. */
static void server_answered(kv_client *kv)
{
    kv->backoff_ms = KV_BACKOFF_FIRST_MS;
    if (kv->down_logged)
        log_link(LOG_INFO, kv, "redis available", NULL);
    kv->down_logged = 0;
}

static void track_sent(kv_client *kv, kv_cmd *c)
{
    c->deadline_ms = now_ms() + (uint64_t)kv->cfg.timeout_ms;
    if (kv->sent_tail) kv->sent_tail->next = c;
    else kv->sent_head = c;
    kv->sent_tail = c;
    kv->nsent++;
    if (!kv->oldest_live) kv->oldest_live = c;
    if (!evtimer_pending(kv->deadline_ev, NULL))
        arm_ms(kv->deadline_ev, (uint64_t)kv->cfg.timeout_ms);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    kv_client *kv = ac->data;
    if (!kv || kv->ac != ac) return;
    evtimer_del(kv->link_ev);
    if (status != REDIS_OK) {
        /* hiredis frees ac as soon as we return (and copies the error to ac->errstr only
         * after this call, hence c.errstr). */
        kv->ac = NULL;
        schedule_reconnect(kv, ac->c.errstr[0] ? ac->c.errstr : "connect failed");
        return;
    }
    if (kv->cfg.db == 0) {
        became_ready(kv);
        return;
    }
    /* Callers wait for the SELECT answer: a command sent behind a failed SELECT would
     * read or write database 0. */
    kv->state = KV_SELECTING;
    kv_cmd *c = xcalloc(1, sizeof *c);
    c->kv = kv;
    c->cb = on_selected;
    c->arg = kv;
    c->internal = 1;
    if (redisAsyncCommand(kv->ac, on_reply, c, "SELECT %d", kv->cfg.db) != REDIS_OK) {
        free(c);
        request_drop(kv, "cannot send SELECT");
        return;
    }
    track_sent(kv, c);
}

static void on_selected(void *arg, const redisReply *reply)
{
    kv_client *kv = arg;
    if (kv->state != KV_SELECTING) return;     /* the connection is already going */
    if (reply && reply->type == REDIS_REPLY_STATUS) {
        server_answered(kv);
        became_ready(kv);
        return;
    }
    /* A database Redis does not have is a configuration error, yet it is retried like an
     * outage: the log says why once, and a fixed server is picked up without a restart. */
    char why[160];
    snprintf(why, sizeof why, "SELECT %d: %s", kv->cfg.db,
             reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply");
    request_drop(kv, why);
}

/* Called by hiredis only when a connected context goes away on its own (EOF, read or
 * write error); the records in flight have already been called back with NULL. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    kv_client *kv = ac->data;
    if (!kv || kv->ac != ac) return;
    kv->ac = NULL;                              /* hiredis frees it when we return */
    schedule_reconnect(kv, ac->c.errstr[0] ? ac->c.errstr : "connection closed");
}

static void start_connect(kv_client *kv)
{
    /* The address is resolved synchronously: configure an IP address, or a name the
     * resolver answers from /etc/hosts, on a loop that serves requests. */
    redisAsyncContext *ac = redisAsyncConnect(kv->cfg.host, kv->cfg.port);
    if (!ac) {
        schedule_reconnect(kv, "cannot allocate a connection");
        return;
    }
    if (ac->err) {
        char why[256];
        snprintf(why, sizeof why, "%s", ac->c.errstr);
        redisAsyncFree(ac);                     /* not attached yet: no callbacks */
        schedule_reconnect(kv, why);
        return;
    }
    ac->data = kv;
    redisLibeventAttach(ac, kv->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    kv->ac = ac;
    kv->state = KV_CONNECTING;
    arm_ms(kv->link_ev, (uint64_t)kv->cfg.timeout_ms);
}

static void on_link_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    kv_client *kv = arg;
    hold(kv);
    switch (kv->state) {
    case KV_DOWN: start_connect(kv); break;
    case KV_CONNECTING: drop_connection(kv, "connect timed out"); break;
    case KV_CLOSING: drop_connection(kv, kv->drop_reason); break;
    default: break;
    }
    release(kv);
}

/* ---- commands ---------------------------------------------------------------------- */

static void fail_later(kv_client *kv, kv_cmd *c)
{
    if (kv->fail_tail) kv->fail_tail->next = c;
    else kv->fail_head = c;
    kv->fail_tail = c;
    kv->nfail++;
    /* A zero timer rather than event_active: it runs after the next poll, so a caller
     * that retries from its callback while Redis is down cannot starve the loop. While
     * kv_free runs, it drains the queue itself. */
    if (kv->state != KV_FREEING)
        arm_ms(kv->fail_ev, 0);
}

static kv_cmd *fail_pop(kv_client *kv)
{
    kv_cmd *c = kv->fail_head;
    kv->fail_head = c->next;
    if (!kv->fail_head) kv->fail_tail = NULL;
    kv->nfail--;
    return c;
}

/* Answers a record from the failure queue (already unlinked) with NULL and frees it. */
static void answer_failed(kv_client *kv, kv_cmd *c)
{
    kv_cb cb = c->cb;
    void *arg = c->arg;
    if (!c->internal) kv->failed_total++;
    free(c);
    if (cb) cb(arg, NULL);
}

/* Marks the oldest live record an orphan and answers its caller with NULL; the record
 * stays in `sent` until hiredis calls it back. */
static void orphan_oldest(kv_client *kv)
{
    kv_cmd *c = kv->oldest_live;
    kv->oldest_live = c->next;
    kv->norphans++;
    c->orphan = 1;
    kv_cb cb = c->cb;
    void *arg = c->arg;
    c->cb = NULL;
    if (!c->internal) kv->failed_total++;
    if (cb) cb(arg, NULL);
}

static void on_fail_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    kv_client *kv = arg;
    hold(kv);
    /* Only those queued before this run: later ones wait for the next iteration. */
    for (int n = kv->nfail; n > 0 && kv->fail_head && kv->state != KV_FREEING; n--)
        answer_failed(kv, fail_pop(kv));
    release(kv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    kv_client *kv = arg;
    hold(kv);
    uint64_t now = now_ms();
    while (kv->oldest_live && kv->oldest_live->deadline_ms <= now && kv->state != KV_FREEING) {
        kv->timeouts_in_row++;
        orphan_oldest(kv);
    }
    if (kv->state != KV_FREEING && kv->timeouts_in_row >= KV_HUNG_AFTER && kv->ac &&
        (kv->state == KV_READY || kv->state == KV_SELECTING)) {
        /* Replies come in order: with this many answers overdue and none arriving, the
         * server is stuck, and everything sent behind would only wait out its deadline. */
        kv->timeouts_in_row = 0;
        drop_connection(kv, "no reply within the timeout");
    }
    if (kv->state != KV_FREEING && kv->oldest_live) {
        uint64_t due = kv->oldest_live->deadline_ms;
        arm_ms(kv->deadline_ev, due > now ? due - now : 0);
    }
    release(kv);
}

/* hiredis calls every record back exactly once: with the reply, or with NULL when the
 * context goes away. After the caller's callback nothing here touches kv, since the
 * caller may have freed it. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    kv_cmd *c = privdata;
    kv_client *kv = c->kv;
    if (kv) {
        if (kv->sent_head != c) {
            log_msg(LOG_ERROR, "redis reply out of order", NULL);
            abort();
        }
        kv->sent_head = c->next;
        if (!kv->sent_head) kv->sent_tail = NULL;
        kv->nsent--;
        if (c->orphan) kv->norphans--;
        else kv->oldest_live = c->next;         /* no orphans before a live head */
        if (reply) kv->timeouts_in_row = 0;
        if (reply && !c->internal) server_answered(kv);
        if (!reply && !c->orphan) {
            /* The context is going away (on_disconnect or our own drop follows): refuse
             * commands from the callback instead of queueing them on a dying context. */
            if (kv->state == KV_READY || kv->state == KV_SELECTING) kv->state = KV_DOWN;
            if (!c->internal) kv->failed_total++;
        }
    }
    kv_cb cb = c->cb;
    void *arg = c->arg;
    free(c);
    if (kv && cb) cb(arg, reply);
}

/* Malformed commands, and those that turn the connection into a stream of pushed
 * messages: the one-reply-per-command bookkeeping above would break, so they are refused. */
static int refused_command(const char *cmd, int len)
{
    static const char *const names[] = {
        "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "monitor",
    };
    /* A formatted command starts "*<argc>\r\n$<len>\r\n<name>\r\n" and hiredis
     * NUL-terminates it, so strtol cannot run off the end. */
    size_t total = (size_t)len;
    const char *nl = memchr(cmd, '\n', total);
    size_t at = nl ? (size_t)(nl - cmd) + 1 : total;
    if (total < 4 || cmd[0] != '*' || cmd[1] == '0' || at >= total || cmd[at] != '$') return 1;
    char *end;
    long n = strtol(cmd + at + 1, &end, 10);
    size_t name_at = (size_t)(end - cmd) + 2;
    if (n < 0 || *end != '\r' || name_at + (size_t)n > total) return 1;
    const char *name = cmd + name_at;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((size_t)n == strlen(names[i]) && strncasecmp(name, names[i], (size_t)n) == 0)
            return 1;
    return 0;
}

/* Takes a RESP-formatted command (borrowed) or len < 0 when formatting failed. */
static void submit(kv_client *kv, kv_cb cb, void *arg, const char *cmd, int len)
{
    kv_cmd *c = xcalloc(1, sizeof *c);
    c->kv = kv;
    c->cb = cb;
    c->arg = arg;
    if (len < 0 || refused_command(cmd, len)) {
        log_msg(LOG_WARN, "redis command refused", NULL);
        fail_later(kv, c);
    } else if (kv->state != KV_READY || kv->nsent >= KV_MAX_SENT) {
        fail_later(kv, c);
    } else if (redisAsyncFormattedCommand(kv->ac, on_reply, c, cmd, (size_t)len) != REDIS_OK) {
        fail_later(kv, c);
    } else {
        track_sent(kv, c);
    }
}

void kv_command(kv_client *kv, kv_cb cb, void *arg, int argc, const char *const *argv,
                const size_t *argvlen)
{
    char *cmd = NULL;
    int len = -1;
    if (argc > 0 && argv)
        len = redisFormatCommandArgv(&cmd, argc, (const char **)argv, argvlen);
    submit(kv, cb, arg, cmd, len);
    if (len >= 0) redisFreeCommand(cmd);
}

void kv_commandf(kv_client *kv, kv_cb cb, void *arg, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    submit(kv, cb, arg, cmd, len);
    if (len >= 0) redisFreeCommand(cmd);
}

/* ---- the client -------------------------------------------------------------------- */

/* Accepts "redis://host[:port][/db]", host possibly as "[v6addr]". Credentials and query
 * options are rejected rather than ignored: this client cannot AUTH. A port left out
 * keeps cfg->port, or 6379 when that is unset. */
int kv_parse_url(const char *url, kv_config *cfg)
{
    static const char scheme[] = "redis://";
    int rc = -1;
    char host[sizeof cfg->host];
    long port = cfg->port > 0 ? cfg->port : KV_DEFAULT_PORT;
    long db = cfg->db;
    if (!url || strncasecmp(url, scheme, sizeof scheme - 1) != 0) goto out;
    const char *p = url + sizeof scheme - 1;
    if (strpbrk(p, "@?#")) goto out;

    const char *h = p, *hend;
    if (*p == '[') {
        h = p + 1;
        hend = strchr(h, ']');
        if (!hend) goto out;
        p = hend + 1;
    } else {
        hend = p + strcspn(p, ":/");
        p = hend;
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0 || hlen >= sizeof host) goto out;
    memcpy(host, h, hlen);
    host[hlen] = '\0';

    char *end;
    if (*p == ':') {
        if (p[1] < '0' || p[1] > '9') goto out;
        port = strtol(p + 1, &end, 10);
        if (port < 1 || port > 65535) goto out;
        p = end;
    }
    if (*p == '/') {
        p++;
        if (*p) {
            if (*p < '0' || *p > '9') goto out;
            db = strtol(p, &end, 10);
            if (db < 0 || db > INT_MAX) goto out;
            p = end;
        }
    }
    if (*p) goto out;

    memcpy(cfg->host, host, hlen + 1);
    cfg->port = (int)port;
    cfg->db = (int)db;
    rc = 0;
out:
    return rc;
}

kv_client *kv_new(struct event_base *base, const kv_config *cfg)
{
    kv_client *kv = xcalloc(1, sizeof *kv);
    kv->base = base;
    kv->cfg = *cfg;
    kv->cfg.host[sizeof kv->cfg.host - 1] = '\0';
    if (!kv->cfg.host[0]) snprintf(kv->cfg.host, sizeof kv->cfg.host, "127.0.0.1");
    if (kv->cfg.port <= 0) kv->cfg.port = KV_DEFAULT_PORT;
    if (kv->cfg.timeout_ms <= 0) kv->cfg.timeout_ms = KV_DEFAULT_TIMEOUT_MS;
    kv->deadline_ev = evtimer_new(base, on_deadline, kv);
    kv->fail_ev = evtimer_new(base, on_fail_due, kv);
    kv->link_ev = evtimer_new(base, on_link_timer, kv);
    if (!kv->deadline_ev || !kv->fail_ev || !kv->link_ev) {
        log_msg(LOG_ERROR, "cannot create libevent timers", NULL);
        abort();
    }
    kv->backoff_ms = KV_BACKOFF_FIRST_MS;
    start_connect(kv);
    return kv;
}

void kv_free(kv_client *kv)
{
    if (!kv || kv->state == KV_FREEING) return;
    kv->state = KV_FREEING;
    hold(kv);
    /* Every caller hears back before anything is torn down; a callback that sends another
     * command lands in the failure queue and is answered by this same loop. */
    for (;;) {
        if (kv->oldest_live) orphan_oldest(kv);
        else if (kv->fail_head) answer_failed(kv, fail_pop(kv));
        else break;
    }
    /* What hiredis still holds are orphans: detached, they are only freed when it calls
     * them back during redisAsyncFree (now, or when the callback we are in returns). */
    for (kv_cmd *c = kv->sent_head; c; c = c->next) c->kv = NULL;
    kv->sent_head = kv->sent_tail = NULL;
    redisAsyncContext *ac = kv->ac;
    kv->ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    release(kv);
}

int kv_connected(const kv_client *kv)
{
    return kv && kv->state == KV_READY;
}

void kv_get_stats(const kv_client *kv, kv_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!kv) return;
    out->connected = kv->state == KV_READY;
    out->pending = kv->nsent - kv->norphans;
    out->failed_total = kv->failed_total;
}
