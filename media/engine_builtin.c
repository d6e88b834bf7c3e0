/* media/engine_builtin.c: the `builtin` engine: no service, no queue. A job id names the
 * generation (and, for a remix, a digest of the source job), submit and poll are instant,
 * and fetch renders the clip with media_render_clip. A render is a pure function of the
 * request, so fetching again after a crash writes the same bytes. */
#include "media/engine_adapter.h"

#include "media/render.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMIX_MARK "-remix-"

static media_engine_rc builtin_submit(media_engine *e, const media_engine_request *r, char *job_id)
{
    (void)e;
    snprintf(job_id, MEDIA_ENGINE_ID_MAX + 1, "builtin-%lld", r->generation_id);
    return MEDIA_ENGINE_OK;
}

/* A remix's id carries a digest of its source rather than the source id itself, so that
 * ids stay short however deep a remix chain goes. */
static media_engine_rc builtin_remix(media_engine *e, const media_engine_request *r,
                                     const char *source_id, char *job_id)
{
    (void)e;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[17];
    crypto_hash_sha256(digest, (const unsigned char *)source_id, strlen(source_id));
    sodium_bin2hex(hex, sizeof hex, digest, 8);
    snprintf(job_id, MEDIA_ENGINE_ID_MAX + 1, "builtin-%lld" REMIX_MARK "%s", r->generation_id, hex);
    return MEDIA_ENGINE_OK;
}

/* Nothing happens between submit and fetch: the clip is made by fetch, whose tick reports
 * the progress, so poll reports 0 rather than pretending the work is done. */
static media_engine_rc builtin_poll(media_engine *e, const media_engine_request *r,
                                    const char *job_id, media_engine_status *out)
{
    (void)e; (void)r; (void)job_id;
    out->state = MEDIA_ENGINE_COMPLETED;
    out->progress = 0;
    return MEDIA_ENGINE_OK;
}

typedef struct tick_bridge {
    media_engine_tick tick;
    void *arg;
    int stopped;        /* the tick asked to stop */
} tick_bridge;

static int on_render_progress(void *arg, int percent)
{
    tick_bridge *b = arg;
    if (!b->tick || b->tick(b->arg, percent) == 0) return 0;
    b->stopped = 1;
    return 1;
}

static media_engine_rc builtin_fetch(media_engine *e, const media_engine_request *r,
                                     const char *job_id, const char *dest_path, int64_t max_bytes,
                                     media_engine_tick tick, void *tick_arg)
{
    char comment[64], seed[4096 + 64], err[256];
    snprintf(comment, sizeof comment, "flick-provenance:%lld", r->generation_id);
    /* A remix differs from its source only through the seed: same prompt, new picture. */
    const char *mark = strstr(job_id, REMIX_MARK);
    if (mark) snprintf(seed, sizeof seed, "%s\n%s", r->prompt, mark + strlen(REMIX_MARK));
    else snprintf(seed, sizeof seed, "%s", r->prompt);

    media_render_params p;
    memset(&p, 0, sizeof p);
    p.prompt = seed;
    p.seconds = r->seconds;
    p.aspect = r->aspect;
    p.quality = r->quality;
    p.creator = r->creator;
    for (int i = 0; i < MEDIA_RENDER_MAX_CAMEOS; i++) p.cameos[i] = r->cameos[i];
    p.comment = comment;
    tick_bridge bridge = { tick, tick_arg, 0 };
    p.progress = on_render_progress;
    p.progress_arg = &bridge;
    if (media_render_clip(&p, dest_path, err, sizeof err) != 0) {
        unlink(dest_path);
        if (bridge.stopped) return media_engine_fail(e, MEDIA_ENGINE_STOPPED, "render stopped");
        return media_engine_fail(e, MEDIA_ENGINE_RETRY, "render failed: %s", err);
    }
    struct stat st;
    if (stat(dest_path, &st) != 0 || st.st_size > max_bytes) {
        unlink(dest_path);
        return media_engine_fail(e, MEDIA_ENGINE_TOO_LARGE, "the rendered clip is larger than %lld bytes",
                                 (long long)max_bytes);
    }
    return MEDIA_ENGINE_OK;
}

static void builtin_free(void *impl) { (void)impl; }

static const media_engine_ops builtin_ops = {
    .name = "builtin",
    .submit = builtin_submit,
    .remix = builtin_remix,
    .poll = builtin_poll,
    .fetch = builtin_fetch,
    .free_impl = builtin_free,
};

media_engine *media_engine_builtin_new(void)
{
    return media_engine_wrap(&builtin_ops, NULL);
}
