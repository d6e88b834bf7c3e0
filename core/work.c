/* core/work.c: worker threads and the hand-back of results to event loops (see work.h).
 * Results travel through a mutex-guarded list per loop and an event made active from the
 * worker thread, which libevent allows once evthread_use_pthreads() has run. */
#include "core/work.h"

#include "core/mem.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct job {
    struct job *next;
    void (*run)(void *);
    void (*done)(void *, int);
    void *arg;
    int status;         /* passed to done: 0 ran, -1 refused */
    work_loop *wl;
} job;

struct work_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;   /* FIFO of queued jobs */
    int queued;         /* length of the FIFO; <= max_queued */
    int max_queued;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

struct work_loop {
    pthread_mutex_t mu;
    job *done_head, *done_tail;    /* finished jobs waiting for the loop */
    struct event *wake;            /* made active whenever done_head goes non-empty */
};

static void loop_push(work_loop *wl, job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&wl->mu);
    bool was_empty = wl->done_head == NULL;
    if (wl->done_tail) wl->done_tail->next = j; else wl->done_head = j;
    wl->done_tail = j;
    pthread_mutex_unlock(&wl->mu);
    if (was_empty) event_active(wl->wake, EV_READ, 0);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    work_loop *wl = arg;
    pthread_mutex_lock(&wl->mu);
    job *j = wl->done_head;
    wl->done_head = wl->done_tail = NULL;
    pthread_mutex_unlock(&wl->mu);
    while (j) {
        job *next = j->next;
        j->done(j->arg, j->status);
        free(j);
        j = next;
    }
}

static void *thread_main(void *arg)
{
    work_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping) { pthread_mutex_unlock(&p->mu); return NULL; }
        job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        j->run(j->arg);
        j->status = 0;
        loop_push(j->wl, j);
    }
}

work_pool *work_pool_new(int threads, int max_queued)
{
    work_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queued = max_queued;
    p->nthreads = threads;
    p->threads = xcalloc((size_t)threads, sizeof *p->threads);
    for (int i = 0; i < threads; i++) pthread_create(&p->threads[i], NULL, thread_main, p);
    return p;
}

void work_pool_free(work_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    for (job *j = p->head, *next; j; j = next) { next = j->next; free(j); }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

work_loop *work_loop_new(struct event_base *base)
{
    work_loop *wl = xcalloc(1, sizeof *wl);
    pthread_mutex_init(&wl->mu, NULL);
    wl->wake = event_new(base, -1, 0, on_wake, wl);
    return wl;
}

void work_loop_free(work_loop *wl)
{
    if (!wl) return;
    for (job *j = wl->done_head, *next; j; j = next) { next = j->next; free(j); }
    event_free(wl->wake);
    pthread_mutex_destroy(&wl->mu);
    free(wl);
}

void work_submit(work_pool *p, work_loop *wl, void (*run)(void *), void (*done)(void *, int),
                 void *arg)
{
    job *j = xmalloc(sizeof *j);
    *j = (job){ .run = run, .done = done, .arg = arg, .status = -1, .wl = wl };
    pthread_mutex_lock(&p->mu);
    if (p->queued >= p->max_queued || p->stopping) {
        pthread_mutex_unlock(&p->mu);
        loop_push(wl, j);
        return;
    }
    if (p->tail) p->tail->next = j; else p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
