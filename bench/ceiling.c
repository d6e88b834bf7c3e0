/* bench/ceiling.c: the throughput ceiling flickd is compared to in bench/run.sh. A bare
 * libevent evhttp server that answers every request with the same 1 KiB JSON body: no
 * routing, no connection guard, no database. It is threaded the way flickd is: THREADS
 * event loops, each with its own evhttp, all accepting from one listening socket.
 *   ceiling PORT [THREADS]     listens on 127.0.0.1:PORT; SIGINT or SIGTERM stops it. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_BYTES 1024
#define MAX_THREADS 64

static char body[BODY_BYTES];
static struct event_base *bases[MAX_THREADS];
static struct evhttp *https[MAX_THREADS];
static int nthreads = 1;

/* {"data":"xxx...x"}: exactly BODY_BYTES bytes of valid JSON. */
static void make_body(void)
{
    static const char head[] = "{\"data\":\"", tail[] = "\"}";
    memset(body, 'x', sizeof body);
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof body - (sizeof tail - 1), tail, sizeof tail - 1);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), body, sizeof body, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig; (void)what; (void)arg;
    for (int i = 0; i < nthreads; i++) event_base_loopbreak(bases[i]);
}

static void *loop_main(void *arg)
{
    event_base_dispatch(arg);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    if (argc == 3) nthreads = atoi(argv[2]);
    if (port <= 0 || port > 65535 || nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "ceiling: PORT must be 1-65535 and THREADS 1-%d\n", MAX_THREADS);
        return 2;
    }
    make_body();
    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        evutil_make_socket_nonblocking(fd) != 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "ceiling: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }

    for (int i = 0; i < nthreads; i++) {
        bases[i] = event_base_new();
        https[i] = bases[i] ? evhttp_new(bases[i]) : NULL;
        struct evconnlistener *l =
            https[i] ? evconnlistener_new(bases[i], NULL, NULL, LEV_OPT_REUSEABLE, -1, fd) : NULL;
        if (!l || !evhttp_bind_listener(https[i], l)) {
            fprintf(stderr, "ceiling: cannot set up event loop %d\n", i);
            return 1;
        }
        evhttp_set_gencb(https[i], on_request, NULL);
    }
    struct event *sigint = evsignal_new(bases[0], SIGINT, on_signal, NULL);
    struct event *sigterm = evsignal_new(bases[0], SIGTERM, on_signal, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);

    pthread_t tids[MAX_THREADS];
    for (int i = 1; i < nthreads; i++) pthread_create(&tids[i], NULL, loop_main, bases[i]);
    event_base_dispatch(bases[0]);
    for (int i = 1; i < nthreads; i++) pthread_join(tids[i], NULL);
    event_free(sigint);
    event_free(sigterm);
    for (int i = 0; i < nthreads; i++) {
        evhttp_free(https[i]);      /* also frees its bound listener */
        event_base_free(bases[i]);
    }
    close(fd);
    return 0;
}
