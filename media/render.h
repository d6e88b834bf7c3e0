/* media/render.h: the builtin engine's renderer: a prompt-seeded clip with the creator's
 * moving watermark and cameo badges, encoded as H.264 in a faststart MP4.
 *
 * Pure, blocking CPU work for a worker thread (never an event loop). The output is a pure
 * function of the parameters: rendering the same job twice (a retry after a crash) writes
 * the same bytes, so the clip's SHA-256 and provenance record stay valid. */
#ifndef FLICK_MEDIA_RENDER_H
#define FLICK_MEDIA_RENDER_H

#include <stddef.h>

#define MEDIA_RENDER_FPS 24
#define MEDIA_RENDER_MAX_CAMEOS 2

typedef enum media_quality {
    MEDIA_QUALITY_STANDARD, /* short side 480: 480x854, 854x480, 480x480 */
    MEDIA_QUALITY_PRO       /* short side 720: 720x1280, 1280x720, 720x720 */
} media_quality;

/* Everything a render depends on. All pointers are borrowed for the call only. */
typedef struct media_render_params {
    const char *prompt;    /* required; seeds palette, shapes and motion */
    int seconds;           /* 4, 8 or 12; the clip has exactly seconds * 24 frames */
    const char *aspect;    /* "9:16", "16:9" or "1:1" */
    media_quality quality;
    const char *creator;   /* required: the creator's username, drawn as "@creator" */
    const char *cameos[MEDIA_RENDER_MAX_CAMEOS]; /* badge usernames; NULL entries unused */
    const char *comment;   /* MP4 "comment" tag, e.g. "flick-provenance:123"; NULL: none */
    const char *font_path; /* NULL: DejaVu Sans Bold from fonts-dejavu-core */
    int black_intro_frames;/* leading frames drawn on black (a fade-in intro); the watermark
                            * and badges still show on them. 0 for none. */
    /* Optional: called from the rendering thread with 0..100 as frames are encoded; a
     * non-zero return stops the render (a canceled job) and media_render_clip fails. */
    int (*progress)(void *arg, int percent);
    void *progress_arg;
} media_render_params;

/* The picture size for an aspect and quality. Returns 0, or -1 for an unknown aspect. */
int media_render_size(const char *aspect, media_quality quality, int *width, int *height);

/* Renders the clip and writes it to `out_path` atomically (a temporary file in the same
 * directory, synced, then renamed; nothing is left behind on failure). Returns 0, or -1 with
 * err (bad parameters, missing font or encoder, I/O, canceled). */
int media_render_clip(const media_render_params *p, const char *out_path,
                      char *err, size_t errlen);

#endif
