/* media/engine.c: the verbs of media/engine.h, dispatched to an adapter's table. The
 * adapters themselves are engine_builtin.c and engine_http.c. */
#include "media/engine_adapter.h"

#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

media_engine *media_engine_wrap(const media_engine_ops *ops, void *impl)
{
    media_engine *e = xcalloc(1, sizeof *e);
    e->ops = ops;
    e->impl = impl;
    return e;
}

void media_engine_free(media_engine *e)
{
    if (!e) return;
    e->ops->free_impl(e->impl);
    free(e);
}

media_engine_rc media_engine_fail(media_engine *e, media_engine_rc rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->error, sizeof e->error, fmt, ap);
    va_end(ap);
    return rc;
}

/* Every verb starts from a clean slate, so the error and Retry-After read afterwards
 * describe this call only. */
static void begin(media_engine *e)
{
    e->error[0] = '\0';
    e->retry_after_s = 0;
}

const char *media_engine_name(const media_engine *e) { return e->ops->name; }
const char *media_engine_error(const media_engine *e) { return e->error; }
int media_engine_retry_after_s(const media_engine *e) { return e->retry_after_s; }

int media_engine_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= MEDIA_ENGINE_ID_MAX) return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    /* "." and ".." would change the meaning of the URL path they are put into. */
    return n > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

media_engine_rc media_engine_submit(media_engine *e, const media_engine_request *r,
                                    char job_id[MEDIA_ENGINE_ID_MAX + 1])
{
    begin(e);
    return e->ops->submit(e, r, job_id);
}

media_engine_rc media_engine_remix(media_engine *e, const media_engine_request *r,
                                   const char *source_id, char job_id[MEDIA_ENGINE_ID_MAX + 1])
{
    begin(e);
    if (!media_engine_id_valid(source_id))
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "the remix source id is malformed");
    return e->ops->remix(e, r, source_id, job_id);
}

media_engine_rc media_engine_poll(media_engine *e, const media_engine_request *r,
                                  const char *job_id, media_engine_status *out)
{
    begin(e);
    memset(out, 0, sizeof *out);
    if (!media_engine_id_valid(job_id))
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "the engine job id is malformed");
    return e->ops->poll(e, r, job_id, out);
}

media_engine_rc media_engine_fetch(media_engine *e, const media_engine_request *r,
                                   const char *job_id, const char *dest_path, int64_t max_bytes,
                                   media_engine_tick tick, void *tick_arg)
{
    begin(e);
    if (!media_engine_id_valid(job_id))
        return media_engine_fail(e, MEDIA_ENGINE_REJECTED, "the engine job id is malformed");
    return e->ops->fetch(e, r, job_id, dest_path, max_bytes, tick, tick_arg);
}
