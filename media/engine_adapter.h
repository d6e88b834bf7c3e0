/* media/engine_adapter.h: the adapters' side of media/engine.h: the table of verbs each
 * adapter fills in, and how an adapter records a failure. Included by engine*.c only;
 * callers use media/engine.h. */
#ifndef FLICK_MEDIA_ENGINE_ADAPTER_H
#define FLICK_MEDIA_ENGINE_ADAPTER_H

#include "media/engine.h"

typedef struct media_engine_ops {
    const char *name;
    media_engine_rc (*submit)(media_engine *e, const media_engine_request *r, char *job_id);
    media_engine_rc (*remix)(media_engine *e, const media_engine_request *r,
                             const char *source_id, char *job_id);
    media_engine_rc (*poll)(media_engine *e, const media_engine_request *r,
                            const char *job_id, media_engine_status *out);
    media_engine_rc (*fetch)(media_engine *e, const media_engine_request *r, const char *job_id,
                             const char *dest_path, int64_t max_bytes,
                             media_engine_tick tick, void *tick_arg);
    void (*free_impl)(void *impl);
} media_engine_ops;

struct media_engine {
    const media_engine_ops *ops;    /* static; never freed */
    void *impl;                     /* owned; released by ops->free_impl */
    char error[512];                /* the last failure; "" after a success */
    int retry_after_s;              /* the last failure's Retry-After, 0 if none */
};

/* A new engine object owning impl. */
media_engine *media_engine_wrap(const media_engine_ops *ops, void *impl);

/* Records a failure on e and returns rc: `return media_engine_fail(e, RETRY, "...", ...);` */
media_engine_rc media_engine_fail(media_engine *e, media_engine_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
