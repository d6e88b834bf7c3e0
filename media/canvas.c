/* media/canvas.c: anti-aliased drawing into packed RGB (see canvas.h).
 *
 * Every shape is drawn the same way: walk its bounding box, compute the pixel's coverage from
 * a signed distance (0.5 px of soft edge), blend. No library does this small job better
 * without dragging in a whole 2D stack (cairo) for a test-pattern engine. */
#include "media/canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define GRADIENT_STEPS 1024 /* colours in one full period of the mirrored gradient */

media_canvas *media_canvas_new(int width, int height)
{
    media_canvas *c = xcalloc(1, sizeof *c);
    c->width = width;
    c->height = height;
    c->stride = width * 3;
    c->rgb = xcalloc((size_t)c->stride * (size_t)height, 1);
    return c;
}

void media_canvas_free(media_canvas *c)
{
    if (!c) return;
    free(c->rgb);
    free(c);
}

static inline uint8_t mix(uint8_t d, uint8_t s, int a)
{
    return (uint8_t)((d * (255 - a) + s * a + 127) / 255);
}

static inline void blend_px(uint8_t *p, uint32_t color, int a)
{
    if (a <= 0) return;
    if (a > 255) a = 255;
    p[0] = mix(p[0], (uint8_t)(color >> 16), a);
    p[1] = mix(p[1], (uint8_t)(color >> 8), a);
    p[2] = mix(p[2], (uint8_t)color, a);
}

/* Coverage 0..1 from a signed distance to the edge (positive inside). */
static inline float coverage(float inside)
{
    float v = inside + 0.5f;
    return v <= 0.0f ? 0.0f : v >= 1.0f ? 1.0f : v;
}

/* Clips the box [x0,x1)x[y0,y1) (floats, grown by one pixel for the soft edge) to the
 * canvas. Returns 0 if nothing is left. */
static int clip_box(const media_canvas *c, float fx0, float fy0, float fx1, float fy1,
                    int *x0, int *y0, int *x1, int *y1)
{
    *x0 = (int)floorf(fx0) - 1;
    *y0 = (int)floorf(fy0) - 1;
    *x1 = (int)ceilf(fx1) + 1;
    *y1 = (int)ceilf(fy1) + 1;
    if (*x0 < 0) *x0 = 0;
    if (*y0 < 0) *y0 = 0;
    if (*x1 > c->width) *x1 = c->width;
    if (*y1 > c->height) *y1 = c->height;
    return *x0 < *x1 && *y0 < *y1;
}

void media_canvas_fill(media_canvas *c, uint32_t color)
{
    for (int x = 0; x < c->width; x++) {
        c->rgb[x * 3] = (uint8_t)(color >> 16);
        c->rgb[x * 3 + 1] = (uint8_t)(color >> 8);
        c->rgb[x * 3 + 2] = (uint8_t)color;
    }
    for (int y = 1; y < c->height; y++)
        memcpy(c->rgb + (size_t)y * c->stride, c->rgb, (size_t)c->width * 3);
}

void media_canvas_gradient(media_canvas *c, uint32_t c0, uint32_t c1, float angle, float phase)
{
    uint8_t lut[GRADIENT_STEPS][3];
    for (int i = 0; i < GRADIENT_STEPS; i++) {
        /* 0 → c0, half period → c1, back to c0: no seam when the phase wraps. */
        int t = i < GRADIENT_STEPS / 2 ? i : GRADIENT_STEPS - i;
        int a = t * 255 / (GRADIENT_STEPS / 2);
        lut[i][0] = mix((uint8_t)(c0 >> 16), (uint8_t)(c1 >> 16), a);
        lut[i][1] = mix((uint8_t)(c0 >> 8), (uint8_t)(c1 >> 8), a);
        lut[i][2] = mix((uint8_t)c0, (uint8_t)c1, a);
    }
    /* One period spans the picture's diagonal, so the whole frame shows about one sweep. */
    float diag = sqrtf((float)c->width * c->width + (float)c->height * c->height);
    float k = (float)GRADIENT_STEPS / diag;
    float dx = cosf(angle) * k, dy = sinf(angle) * k;
    float base = (phase - floorf(phase)) * GRADIENT_STEPS + 4.0f * GRADIENT_STEPS;
    for (int y = 0; y < c->height; y++) {
        uint8_t *row = c->rgb + (size_t)y * c->stride;
        float v = base + dy * (float)y;
        for (int x = 0; x < c->width; x++) {
            /* base keeps v positive across the frame, so the mask is a true modulo. */
            int i = (int)(v + dx * (float)x) & (GRADIENT_STEPS - 1);
            row[x * 3] = lut[i][0];
            row[x * 3 + 1] = lut[i][1];
            row[x * 3 + 2] = lut[i][2];
        }
    }
}

void media_canvas_disc(media_canvas *c, float cx, float cy, float r, uint32_t color, int alpha)
{
    int x0, y0, x1, y1;
    if (!clip_box(c, cx - r, cy - r, cx + r, cy + r, &x0, &y0, &x1, &y1)) return;
    for (int y = y0; y < y1; y++) {
        uint8_t *row = c->rgb + (size_t)y * c->stride;
        float py = (float)y + 0.5f - cy;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f - cx;
            float cov = coverage(r - sqrtf(px * px + py * py));
            if (cov > 0.0f) blend_px(row + x * 3, color, (int)(cov * (float)alpha + 0.5f));
        }
    }
}

void media_canvas_ring(media_canvas *c, float cx, float cy, float r, float width,
                       uint32_t color, int alpha)
{
    int x0, y0, x1, y1;
    if (!clip_box(c, cx - r, cy - r, cx + r, cy + r, &x0, &y0, &x1, &y1)) return;
    float mid = r - width * 0.5f;
    for (int y = y0; y < y1; y++) {
        uint8_t *row = c->rgb + (size_t)y * c->stride;
        float py = (float)y + 0.5f - cy;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f - cx;
            float d = fabsf(sqrtf(px * px + py * py) - mid);
            float cov = coverage(width * 0.5f - d);
            if (cov > 0.0f) blend_px(row + x * 3, color, (int)(cov * (float)alpha + 0.5f));
        }
    }
}

void media_canvas_square(media_canvas *c, float cx, float cy, float half, float angle,
                         uint32_t color, int alpha)
{
    float reach = half * 1.4143f; /* the corner of a square of any rotation */
    int x0, y0, x1, y1;
    if (!clip_box(c, cx - reach, cy - reach, cx + reach, cy + reach, &x0, &y0, &x1, &y1))
        return;
    float ca = cosf(angle), sa = sinf(angle);
    for (int y = y0; y < y1; y++) {
        uint8_t *row = c->rgb + (size_t)y * c->stride;
        float py = (float)y + 0.5f - cy;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f - cx;
            float lx = fabsf(px * ca + py * sa), ly = fabsf(py * ca - px * sa);
            float cov = coverage(half - (lx > ly ? lx : ly));
            if (cov > 0.0f) blend_px(row + x * 3, color, (int)(cov * (float)alpha + 0.5f));
        }
    }
}

void media_canvas_box(media_canvas *c, float x, float y, float w, float h, float radius,
                      uint32_t color, int alpha)
{
    int x0, y0, x1, y1;
    if (!clip_box(c, x, y, x + w, y + h, &x0, &y0, &x1, &y1)) return;
    float hx = w * 0.5f, hy = h * 0.5f, cx = x + hx, cy = y + hy;
    if (radius > hx) radius = hx;
    if (radius > hy) radius = hy;
    for (int py = y0; py < y1; py++) {
        uint8_t *row = c->rgb + (size_t)py * c->stride;
        float qy = fabsf((float)py + 0.5f - cy) - (hy - radius);
        for (int px = x0; px < x1; px++) {
            float qx = fabsf((float)px + 0.5f - cx) - (hx - radius);
            /* Distance to a rounded box: outside the inner rectangle it is the corner arc. */
            float ox = qx > 0.0f ? qx : 0.0f, oy = qy > 0.0f ? qy : 0.0f;
            float inner = qx > qy ? qx : qy;
            float dist = sqrtf(ox * ox + oy * oy) + (inner < 0.0f ? inner : 0.0f) - radius;
            float cov = coverage(-dist);
            if (cov > 0.0f) blend_px(row + px * 3, color, (int)(cov * (float)alpha + 0.5f));
        }
    }
}

void media_canvas_mask(media_canvas *c, int x, int y, const uint8_t *mask, int mw, int mh,
                       int mstride, uint32_t color, int alpha)
{
    int sx0 = x < 0 ? -x : 0, sy0 = y < 0 ? -y : 0;
    int sx1 = x + mw > c->width ? c->width - x : mw;
    int sy1 = y + mh > c->height ? c->height - y : mh;
    for (int sy = sy0; sy < sy1; sy++) {
        const uint8_t *m = mask + (size_t)sy * mstride;
        uint8_t *row = c->rgb + (size_t)(y + sy) * c->stride;
        for (int sx = sx0; sx < sx1; sx++)
            if (m[sx]) blend_px(row + (x + sx) * 3, color, (m[sx] * alpha + 127) / 255);
    }
}
