/* bench/loadgen.c: an HTTP load generator with one thread, for a second opinion on latency
 * next to wrk's, and for load at a fixed rate.
 *
 *   loadgen PORT PATH TOKEN CONNECTIONS SECONDS [RATE]
 *
 * Opens CONNECTIONS keep-alive connections to 127.0.0.1:PORT and sends GET PATH with the
 * bearer TOKEN on them, one request in flight per connection, each answer read whole
 * (Content-Length framed). Every latency is timed with CLOCK_MONOTONIC and kept.
 *
 * Without RATE the loop is closed: each connection sends its next request as soon as the last
 * answer is in, and a latency runs from the send to the last byte.
 *
 * With RATE (requests per second, all connections together) the loop is open: request k is
 * due at start + k / RATE whatever became of the ones before it. It goes out on a connection
 * with nothing in flight, or waits for the first one that frees up, and its latency runs from
 * when it was due, not from when it went out: a stall of the server counts in full for every
 * request it held back (no coordinated omission).
 *
 * After SECONDS it prints one line:
 *   requests N rps R p50_ms A p99_ms B p999_ms C max_ms D errors E [target_rps T behind_max K]
 * (errors: answers other than 200, and connections lost; behind_max: the most requests that
 * were due and not yet sent at once). Loopback only; it stops by itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_BYTES 16384

typedef struct conn {
    int fd;
    int busy;                   /* a request in flight */
    long long sent_ns;          /* when it was sent (closed loop) or due (open loop) */
    size_t have;
    char buf[BUF_BYTES + 1];
} conn;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The length of the first whole answer in c->buf, or 0 while it is incomplete. */
static size_t answer_len(const conn *c)
{
    const char *end = strstr(c->buf, "\r\n\r\n");
    if (!end) return 0;
    size_t head = (size_t)(end + 4 - c->buf), body = 0;
    for (const char *line = strstr(c->buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0) body = strtoul(line + 17, NULL, 10);
    return c->have >= head + body ? head + body : 0;
}

/* The open loop's schedule: request k is due at start + k * interval_ns. */
typedef struct schedule {
    double interval_ns;         /* 0: closed loop */
    long long start;
    unsigned long long next;    /* the first request not yet sent */
    unsigned long long behind_max;
    int timer;                  /* timerfd, armed for the next due request */
} schedule;

static long long due_ns(const schedule *s, unsigned long long k)
{
    return s->start + (long long)((double)k * s->interval_ns);
}

static int send_request(conn *c, const char *req, size_t len, long long stamp)
{
    c->busy = 1;
    c->sent_ns = stamp;
    return send_all(c->fd, req, len);
}

/* Sends every request already due on idle connections, then arms the timer for the next one
 * (or leaves it: an answer frees the connection the next due request is waiting for). */
static unsigned long dispatch(schedule *s, conn *conns, int nconns, const char *req, size_t len)
{
    unsigned long errors = 0;
    long long now = now_ns();
    for (int i = 0; i < nconns && due_ns(s, s->next) <= now; i++) {
        conn *c = &conns[i];
        if (c->fd < 0 || c->busy) continue;
        if (send_request(c, req, len, due_ns(s, s->next)) != 0) errors++;
        s->next++;
    }
    unsigned long long due = (unsigned long long)((double)(now - s->start) / s->interval_ns) + 1;
    unsigned long long behind = due > s->next ? due - s->next : 0;
    if (behind > s->behind_max) s->behind_max = behind;
    if (behind == 0) {
        long long at = due_ns(s, s->next);
        struct itimerspec it = { .it_value = { .tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL } };
        timerfd_settime(s->timer, TFD_TIMER_ABSTIME, &it, NULL);
    }
    return errors;
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: loadgen PORT PATH TOKEN CONNECTIONS SECONDS [RATE]\n");
        return 2;
    }
    int port = atoi(argv[1]), nconns = atoi(argv[4]), seconds = atoi(argv[5]);
    double rate = argc == 7 ? atof(argv[6]) : 0;
    if (port <= 0 || nconns <= 0 || nconns > MAX_CONNS || seconds <= 0 || (argc == 7 && !(rate >= 1 && rate <= 1e7))) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }
    char req[2048];
    int req_len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                           argv[2], argv[3]);
    if (req_len <= 0 || (size_t)req_len >= sizeof req) return 2;

    size_t cap = 1 << 20, count = 0;
    long long *lat = malloc(cap * sizeof *lat);
    conn *conns = calloc((size_t)nconns, sizeof *conns);
    int ep = epoll_create1(0);
    if (!lat || !conns || ep < 0) return 1;
    unsigned long errors = 0;
    for (int i = 0; i < nconns; i++) {
        conn *c = &conns[i];
        c->fd = open_conn(port);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (c->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
            fprintf(stderr, "loadgen: cannot connect to 127.0.0.1:%d\n", port);
            return 1;
        }
    }
    schedule sched = { .interval_ns = rate > 0 ? 1e9 / rate : 0, .timer = -1 };
    if (rate > 0) {
        sched.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
        if (sched.timer < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sched.timer, &ev) != 0) return 1;
    }

    long long start = now_ns(), end = start + (long long)seconds * 1000000000LL;
    sched.start = start;
    if (rate > 0) {
        errors += dispatch(&sched, conns, nconns, req, (size_t)req_len);
    } else {
        for (int i = 0; i < nconns; i++)
            if (send_request(&conns[i], req, (size_t)req_len, now_ns()) != 0) return 1;
    }
    int open = nconns;
    while (open > 0 && now_ns() < end) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        int freed = 0;
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {                       /* the timer: requests are due */
                unsigned long long ticks;
                if (read(sched.timer, &ticks, sizeof ticks) < 0 && errno != EAGAIN) return 1;
                freed = 1;
                continue;
            }
            ssize_t got = read(c->fd, c->buf + c->have, BUF_BYTES - c->have);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) continue;
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                open--;
                continue;
            }
            c->have += (size_t)got;
            c->buf[c->have] = '\0';
            size_t len;
            while ((len = answer_len(c)) > 0) {
                long long t = now_ns();
                if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0) errors++;
                if (count == cap) {
                    cap *= 2;
                    lat = realloc(lat, cap * sizeof *lat);
                    if (!lat) return 1;
                }
                lat[count++] = t - c->sent_ns;
                memmove(c->buf, c->buf + len, c->have - len + 1);
                c->have -= len;
                c->busy = 0;
                if (rate > 0) freed = 1;
                else if (send_request(c, req, (size_t)req_len, t) != 0) errors++;
            }
            if (c->have == BUF_BYTES) {     /* an answer larger than the buffer: not ours to time */
                fprintf(stderr, "loadgen: answer larger than %d bytes\n", BUF_BYTES);
                return 1;
            }
        }
        if (freed) errors += dispatch(&sched, conns, nconns, req, (size_t)req_len);
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    if (count == 0) {
        printf("requests 0 rps 0 p50_ms 0 p99_ms 0 p999_ms 0 max_ms 0 errors %lu\n", errors);
        return 1;
    }
    qsort(lat, count, sizeof *lat, by_value);
    printf("requests %zu rps %.0f p50_ms %.3f p99_ms %.3f p999_ms %.3f max_ms %.3f errors %lu",
           count, (double)count / elapsed, (double)lat[count / 2] / 1e6, (double)lat[count * 99 / 100] / 1e6,
           (double)lat[count * 999 / 1000] / 1e6, (double)lat[count - 1] / 1e6, errors);
    if (rate > 0) printf(" target_rps %.0f behind_max %llu", rate, sched.behind_max);
    printf("\n");
    free(lat);
    free(conns);
    return 0;
}
