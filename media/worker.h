/* media/worker.h: the `work` role: threads that claim generation jobs from PostgreSQL and
 * carry each one to its end: a draft post with stored media and provenance, or `failed`, or
 * left `canceled`. A job is a durable row held under a lease that a keeper thread renews, so
 * a process killed at any instant loses nothing: the next claim after the lease runs out
 * resumes the job, and the final transaction makes exactly one draft per generation.
 * Blocking libpq and libcurl on its own threads; nothing here runs on an event loop. */
#ifndef FLICK_MEDIA_WORKER_H
#define FLICK_MEDIA_WORKER_H

#include <stddef.h>

#include "core/config.h"

/* Idle workers LISTEN on this channel: pg_notify('flick_generations', id) after inserting a
 * queued job gets it picked up at once instead of at the next poll (FLICK_JOB_POLL_MS). */
#define MEDIA_WORK_CHANNEL "flick_generations"

typedef struct media_workers media_workers;

/* Starts cfg->workers job threads (none when 0) and the lease keeper; cfg is copied. The
 * threads block SIGINT and SIGTERM, so those reach the caller's thread. Returns NULL with
 * err when the configuration cannot work (an http engine URL that is not http(s)). */
media_workers *media_workers_start(const core_config *cfg, char *err, size_t errlen);

/* Asks every thread to stop, waits for them and frees everything. A job in progress is
 * released at its next checkpoint (its lease cleared, so another worker takes it over at
 * once); a render or thumbnail step in flight finishes first. NULL: no-op. */
void media_workers_stop(media_workers *w);

/* The `work` role: starts the workers, waits for SIGINT or SIGTERM, stops them. Returns a
 * process exit code. */
int media_work_run(const core_config *cfg);

#endif
