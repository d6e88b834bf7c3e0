/* core/work.h: a fixed pool of threads for CPU-heavy work (password hashing, image
 * encoding) whose results come back to the event loop that asked.
 *
 * An event loop must never run such work itself. Jobs run in FIFO order; the queue is
 * bounded so an overload is refused rather than queued for ever. */
#ifndef FLICK_CORE_WORK_H
#define FLICK_CORE_WORK_H

struct event_base;

typedef struct work_pool work_pool;
typedef struct work_loop work_loop;

/* Starts `threads` threads; at most `max_queued` jobs wait. */
work_pool *work_pool_new(int threads, int max_queued);
/* Finishes running jobs, drops queued ones (their done callbacks do not run), joins. */
void work_pool_free(work_pool *pool);

/* The per-loop half: where finished jobs are handed back. One per event loop. */
work_loop *work_loop_new(struct event_base *base);
void work_loop_free(work_loop *wl);

/* Runs run(arg) on a pool thread, then done(arg, 0) on `wl`'s loop. If the queue is
 * full, done(arg, -1) runs later on the loop instead (never inside this call). */
void work_submit(work_pool *pool, work_loop *wl, void (*run)(void *arg),
                 void (*done)(void *arg, int status), void *arg);

#endif
