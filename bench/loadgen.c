/* bench/loadgen.c: a closed-loop HTTP load generator with one thread, for a second opinion
 * on latency next to wrk's.
 *
 *   loadgen PORT PATH TOKEN CONNECTIONS SECONDS
 *
 * Opens CONNECTIONS keep-alive connections to 127.0.0.1:PORT, and on each sends GET PATH
 * with the bearer TOKEN, waits for the whole answer (Content-Length framed), and sends the
 * next; every latency is timed with CLOCK_MONOTONIC from the send to the last byte and kept.
 * After SECONDS it prints one line:
 *   requests N rps R p50_ms A p99_ms B p999_ms C max_ms D errors E
 * (errors: answers other than 200, and connections lost). Loopback only; it stops by itself. */
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
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define BUF_BYTES 16384

typedef struct conn {
    int fd;
    long long sent_ns;
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

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: loadgen PORT PATH TOKEN CONNECTIONS SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]), nconns = atoi(argv[4]), seconds = atoi(argv[5]);
    if (port <= 0 || nconns <= 0 || nconns > MAX_CONNS || seconds <= 0) {
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
        c->sent_ns = now_ns();
        if (send_all(c->fd, req, (size_t)req_len) != 0) return 1;
    }

    long long start = now_ns(), end = start + (long long)seconds * 1000000000LL;
    int open = nconns;
    while (open > 0 && now_ns() < end) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            ssize_t got = read(c->fd, c->buf + c->have, BUF_BYTES - c->have);
            if (got <= 0) {
                if (got < 0 && errno == EINTR) continue;
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
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
                c->sent_ns = t;
                if (send_all(c->fd, req, (size_t)req_len) != 0) errors++;
            }
            if (c->have == BUF_BYTES) {     /* an answer larger than the buffer: not ours to time */
                fprintf(stderr, "loadgen: answer larger than %d bytes\n", BUF_BYTES);
                return 1;
            }
        }
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    if (count == 0) {
        printf("requests 0 rps 0 p50_ms 0 p99_ms 0 p999_ms 0 max_ms 0 errors %lu\n", errors);
        return 1;
    }
    qsort(lat, count, sizeof *lat, by_value);
    printf("requests %zu rps %.0f p50_ms %.3f p99_ms %.3f p999_ms %.3f max_ms %.3f errors %lu\n",
           count, (double)count / elapsed, (double)lat[count / 2] / 1e6, (double)lat[count * 99 / 100] / 1e6,
           (double)lat[count * 999 / 1000] / 1e6, (double)lat[count - 1] / 1e6, errors);
    free(lat);
    free(conns);
    return 0;
}
