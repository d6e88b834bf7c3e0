/* media/engine.h: a video generation engine as the job worker drives it: submit a prompt
 * (or a remix of an earlier clip of the same engine), poll until done, fetch the MP4 into a
 * file. Adapters: `builtin` (renders locally with media/render.h) and `http` (the
 * OpenAI-style Videos API at FLICK_ENGINE_URL).
 *
 * Blocking calls for worker threads, never for an event loop. An engine object is used by
 * one thread at a time. Failures are classified so that the worker knows whether to retry;
 * the sentence describing the last one stays on the engine object. */
#ifndef FLICK_MEDIA_ENGINE_H
#define FLICK_MEDIA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "media/render.h"

typedef struct media_engine media_engine;

/* How a call ended. */
typedef enum media_engine_rc {
    MEDIA_ENGINE_OK = 0,
    MEDIA_ENGINE_RETRY,     /* transient: 429, 5xx, a redirect, a refused connection, a garbage
                               or truncated answer */
    MEDIA_ENGINE_TIMEOUT,   /* no complete answer in time (transient too) */
    MEDIA_ENGINE_REJECTED,  /* the engine refused this request (a 4xx other than 429): retrying
                               the same request cannot help */
    MEDIA_ENGINE_TOO_LARGE, /* the clip is over the size limit (the download was cut off) */
    MEDIA_ENGINE_STOPPED    /* the caller's tick asked to stop */
} media_engine_rc;

/* Where an engine job is. */
typedef enum media_engine_state {
    MEDIA_ENGINE_QUEUED,
    MEDIA_ENGINE_IN_PROGRESS,
    MEDIA_ENGINE_COMPLETED,
    MEDIA_ENGINE_FAILED
} media_engine_state;

/* What to make. Every pointer is borrowed for the call. */
typedef struct media_engine_request {
    long long generation_id;   /* the clip's comment tag reads flick-provenance:<this> */
    const char *prompt;
    media_quality quality;     /* `standard` or `pro` generation */
    int seconds;               /* 4, 8 or 12 */
    const char *aspect;        /* "9:16", "16:9" or "1:1" */
    const char *creator;       /* the creator's username (builtin: the watermark) */
    const char *cameos[MEDIA_RENDER_MAX_CAMEOS]; /* cameo usernames (builtin: badges); NULL unused */
} media_engine_request;

/* What a poll saw. */
typedef struct media_engine_status {
    media_engine_state state;
    int progress;              /* 0..100 */
    char error_code[64];       /* state FAILED: the engine's reason, "" if it gave none */
    char error_message[256];
} media_engine_status;

/* Engine job ids are 1..MEDIA_ENGINE_ID_MAX characters of [A-Za-z0-9_.-] (they go into URL
 * paths); buffers for them hold MEDIA_ENGINE_ID_MAX + 1 bytes. */
#define MEDIA_ENGINE_ID_MAX 128

/* Called during long calls (rendering, downloading) with the percentage of the whole
 * generation done, or -1 when the call cannot tell; a non-zero return stops the call with
 * MEDIA_ENGINE_STOPPED. Runs on the calling thread. */
typedef int (*media_engine_tick)(void *arg, int percent);

/* The builtin engine: submit and poll are instant; fetch renders the clip (a pure function
 * of the request, so a retry after a crash writes the same bytes), reporting progress
 * through the tick. */
media_engine *media_engine_builtin_new(void);

typedef struct media_engine_http_config {
    const char *base_url;       /* e.g. "https://api.example.com" (no trailing /v1) */
    const char *api_key;        /* sent as Authorization: Bearer */
    const char *model_standard; /* the engine's model name for `standard` generations */
    const char *model_pro;      /* ... and for `pro` */
    int timeout_ms;             /* one JSON call; a download may not stall for longer */
} media_engine_http_config;

/* The http engine; strings are copied. Returns NULL if base_url is not an http(s) URL. */
media_engine *media_engine_http_new(const media_engine_http_config *cfg);

/* Frees the engine. NULL: no-op. */
void media_engine_free(media_engine *e);

/* "builtin" or "http": the value of generations.engine this engine runs. */
const char *media_engine_name(const media_engine *e);

/* Starts a job for r; its id goes to job_id. */
media_engine_rc media_engine_submit(media_engine *e, const media_engine_request *r,
                                    char job_id[MEDIA_ENGINE_ID_MAX + 1]);
/* Starts a job that remixes the clip of this engine's job `source_id` with r->prompt. */
media_engine_rc media_engine_remix(media_engine *e, const media_engine_request *r,
                                   const char *source_id, char job_id[MEDIA_ENGINE_ID_MAX + 1]);
/* Where job `job_id` (made for r) is. */
media_engine_rc media_engine_poll(media_engine *e, const media_engine_request *r,
                                  const char *job_id, media_engine_status *out);
/* Writes the finished clip of `job_id` to dest_path (created or truncated), at most
 * max_bytes of it: a larger clip is MEDIA_ENGINE_TOO_LARGE, found out while it arrives. On
 * any failure dest_path is removed.
 * tick may be NULL. */
media_engine_rc media_engine_fetch(media_engine *e, const media_engine_request *r,
                                   const char *job_id, const char *dest_path, int64_t max_bytes,
                                   media_engine_tick tick, void *tick_arg);

/* The last failure as one sentence ("" after a success); borrowed until the next call. */
const char *media_engine_error(const media_engine *e);
/* Seconds the engine asked us to wait (a 429's Retry-After) on the last failure; 0: none. */
int media_engine_retry_after_s(const media_engine *e);

/* 1 if s is a well-formed engine job id (see MEDIA_ENGINE_ID_MAX). */
int media_engine_id_valid(const char *s);

#endif
