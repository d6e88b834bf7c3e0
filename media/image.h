/* media/image.h: a still picture as packed RGB24, and its ways in and out: decoding an
 * uploaded still (WebP, JPEG, PNG), converting a decoded video frame, scaling, and encoding
 * a WebP still.
 *
 * Blocking CPU work for worker threads. Decoding takes untrusted bytes: formats are told by
 * content, not by name, and pictures above MEDIA_IMAGE_MAX_PIXELS are refused before the
 * big allocation happens. */
#ifndef FLICK_MEDIA_IMAGE_H
#define FLICK_MEDIA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

struct AVFrame;

/* 16 megapixels: far above any frame we make (720x1280) and any phone screenshot. */
#define MEDIA_IMAGE_MAX_PIXELS (16 * 1024 * 1024)

typedef struct media_image media_image;

/* A new black width x height image (each 1..16384); aborts on OOM. Free with
 * media_image_free. */
media_image *media_image_new(int width, int height);
/* Frees the image. NULL: no-op. */
void media_image_free(media_image *img);

int media_image_width(const media_image *img);
int media_image_height(const media_image *img);
/* Bytes between rows (>= 3 * width). */
int media_image_stride(const media_image *img);
/* The pixels, row-major RGB, borrowed for the life of the image. */
const uint8_t *media_image_pixels(const media_image *img);
uint8_t *media_image_pixels_mut(media_image *img);

/* Decodes a WebP (still, or the first frame of an animation), JPEG or PNG held in
 * bytes[0..len) (borrowed). Alpha is dropped. Returns 0 and *out (caller frees), or -1 with
 * err (unknown format, corrupt, too large). */
int media_image_decode(const void *bytes, size_t len, media_image **out,
                       char *err, size_t errlen);

/* Converts a decoded video frame (borrowed; any pixel format swscale reads, honouring its
 * colour matrix and range) to RGB at width x height, scaling if that differs from the
 * frame's size. Returns 0 and *out (caller frees), or -1 with err. */
int media_image_from_frame(const struct AVFrame *frame, int width, int height,
                           media_image **out, char *err, size_t errlen);

/* A copy of img resampled to width x height (area averaging when shrinking). Returns 0 and
 * *out (caller frees), or -1 with err. */
int media_image_scale(const media_image *img, int width, int height, media_image **out,
                      char *err, size_t errlen);

/* Encodes img as a lossy WebP at quality 0..100. Returns 0 with *out (caller frees with
 * free()) and *len, or -1 with err. */
int media_image_encode_webp(const media_image *img, int quality, uint8_t **out, size_t *len,
                            char *err, size_t errlen);

#endif
