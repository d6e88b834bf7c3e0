/* media/thumb.h: the pictures that stand for a clip in a feed: a poster frame chosen to be
 * neither black nor flat, WebP stills of it at 180/360/720 pixels wide, a looping animated
 * WebP preview, and the poster's perceptual hash for provenance.
 *
 * Blocking CPU work for a worker thread. Results are memory buffers, so the caller decides
 * where they are stored (filesystem or object store). Reads the MP4 through media/input.h's
 * limits, so it is safe on what an engine sent. */
#ifndef FLICK_MEDIA_THUMB_H
#define FLICK_MEDIA_THUMB_H

#include <stddef.h>
#include <stdint.h>

#include "media/image.h"

#define MEDIA_THUMB_MAX_STILLS 3
#define MEDIA_THUMB_PREVIEW_WIDTH 240

typedef struct media_thumbs media_thumbs;

/* A WebP file in memory: borrowed from its media_thumbs, valid until media_thumbs_free. */
typedef struct media_webp {
    int width, height;
    const uint8_t *data;
    size_t len;
} media_webp;

/* Decodes up to the first 3 s of the MP4 at `path` to pick the poster (the first frame that
 * is neither dark nor flat; if none is, the most detailed one seen), then encodes the stills
 * (quality 80) and a preview of up to 2 s from the poster on, at 10 fps and 240 wide.
 * Widths are never upscaled: a still wider than the clip is made at the clip's width instead,
 * and a width already made is not made twice (a 480-wide clip gives 180, 360, 480), so the
 * largest still is always the sharpest the clip allows. Returns 0 and *out (free with
 * media_thumbs_free), or -1 with err. */
int media_thumbs_make(const char *mp4_path, media_thumbs **out, char *err, size_t errlen);
/* Frees everything, invalidating borrowed views. NULL: no-op. */
void media_thumbs_free(media_thumbs *t);

/* Number of stills, 1..MEDIA_THUMB_MAX_STILLS. */
int media_thumbs_still_count(const media_thumbs *t);
/* Still i (0 = narrowest; widths strictly increase). */
media_webp media_thumbs_still(const media_thumbs *t, int i);
/* The animated preview (loops forever). */
media_webp media_thumbs_preview(const media_thumbs *t);
/* Frames in the preview. */
int media_thumbs_preview_frames(const media_thumbs *t);

/* The poster at the clip's full size, borrowed until media_thumbs_free. */
const media_image *media_thumbs_poster(const media_thumbs *t);
/* Presentation time of the poster, in milliseconds from the start. */
int64_t media_thumbs_poster_ms(const media_thumbs *t);
/* media_phash64 of the poster. */
uint64_t media_thumbs_phash(const media_thumbs *t);

#endif
