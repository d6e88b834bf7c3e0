/* media/canvas.h: an RGB picture and the few anti-aliased drawing verbs the builtin engine
 * needs (gradient, disc, ring, rotated square, rounded box, coverage mask).
 *
 * Internal to media/. Plain integer/float loops over bounding boxes: fast enough for 720p at
 * 24 fps on one core, and bit-for-bit deterministic so the same prompt gives the same clip. */
#ifndef FLICK_MEDIA_CANVAS_H
#define FLICK_MEDIA_CANVAS_H

#include <stddef.h>
#include <stdint.h>

/* Packed RGB24, rows `stride` bytes apart; owns `rgb`. Colours are 0xRRGGBB, alpha 0..255. */
typedef struct media_canvas {
    uint8_t *rgb;
    int width, height;
    int stride;
} media_canvas;

/* A new black canvas (aborts on OOM); free with media_canvas_free. */
media_canvas *media_canvas_new(int width, int height);
/* Frees the canvas and its pixels. NULL: no-op. */
void media_canvas_free(media_canvas *c);

/* Fills with a solid colour. */
void media_canvas_fill(media_canvas *c, uint32_t color);
/* Fills with a mirrored linear gradient c0→c1→c0 across the picture along `angle` (radians);
 * `phase` (any real, period 1) slides it, which is how the background moves. */
void media_canvas_gradient(media_canvas *c, uint32_t c0, uint32_t c1, float angle, float phase);
/* Blends a filled disc of radius r centred at (cx, cy). */
void media_canvas_disc(media_canvas *c, float cx, float cy, float r, uint32_t color, int alpha);
/* Blends a ring: outer radius r, line width `width`. */
void media_canvas_ring(media_canvas *c, float cx, float cy, float r, float width,
                       uint32_t color, int alpha);
/* Blends a square of half-side `half` rotated by `angle` radians around its centre. */
void media_canvas_square(media_canvas *c, float cx, float cy, float half, float angle,
                         uint32_t color, int alpha);
/* Blends an axis-aligned box with rounded corners of radius `radius`. */
void media_canvas_box(media_canvas *c, float x, float y, float w, float h, float radius,
                      uint32_t color, int alpha);
/* Blends `color` through an 8-bit coverage mask (borrowed; mw x mh, rows mstride apart)
 * whose top-left lands at (x, y); parts outside the canvas are clipped. */
void media_canvas_mask(media_canvas *c, int x, int y, const uint8_t *mask, int mw, int mh,
                       int mstride, uint32_t color, int alpha);

#endif
