/* media/scene.c: a prompt-seeded moving picture (see scene.h).
 *
 * The prompt's hash seeds a splitmix64 stream; every choice (hue, gradient angle, number and
 * kind of shapes, their Lissajous paths) is read from that stream in a fixed order, so adding
 * a choice at the end never changes the clips of existing prompts. */
#include "media/scene.h"

#include <math.h>
#include <stdlib.h>

#include "core/mem.h"

#define MAX_SHAPES 8
#define TWO_PI 6.28318530717958647692

enum shape_kind { SHAPE_DISC, SHAPE_RING, SHAPE_SQUARE, SHAPE_KINDS };

typedef struct shape {
    enum shape_kind kind;
    uint32_t color;
    int alpha;          /* 0..255 */
    float size;         /* radius (or half side) as a fraction of the short side */
    float ax, ay;       /* path amplitude as a fraction of width / height, < 0.5 */
    float fx, fy;       /* path frequency, cycles per second */
    float px, py;       /* path phase, radians */
    float spin;         /* radians per second (squares) */
    float pulse;        /* relative size change over the path, 0..0.3 */
} shape;

struct media_scene {
    int width, height;
    uint32_t bg0, bg1;  /* gradient end colours: one dark, one light, related hues */
    float bg_angle;     /* radians */
    float bg_speed;     /* gradient periods per second */
    int nshapes;
    shape shapes[MAX_SHAPES];
};

uint64_t media_scene_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static float next_float(uint64_t *state, float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(next_u64(state) >> 11) / 9007199254740992.0);
}

static uint32_t hsv(float h, float s, float v)
{
    h = fmodf(h, 360.0f);
    if (h < 0) h += 360.0f;
    float c = v * s, x = c * (1.0f - fabsf(fmodf(h / 60.0f, 2.0f) - 1.0f)), m = v - c;
    float r, g, b;
    if (h < 60) { r = c; g = x; b = 0; }
    else if (h < 120) { r = x; g = c; b = 0; }
    else if (h < 180) { r = 0; g = c; b = x; }
    else if (h < 240) { r = 0; g = x; b = c; }
    else if (h < 300) { r = x; g = 0; b = c; }
    else { r = c; g = 0; b = x; }
    uint32_t R = (uint32_t)lroundf((r + m) * 255.0f), G = (uint32_t)lroundf((g + m) * 255.0f),
             B = (uint32_t)lroundf((b + m) * 255.0f);
    return R << 16 | G << 8 | B;
}

uint32_t media_scene_color(uint64_t h)
{
    uint64_t st = h;
    return hsv(next_float(&st, 0, 360), next_float(&st, 0.55f, 0.85f),
               next_float(&st, 0.7f, 0.9f));
}

media_scene *media_scene_new(const char *prompt, int width, int height)
{
    media_scene *s = xcalloc(1, sizeof *s);
    uint64_t st = media_scene_hash(prompt);
    s->width = width;
    s->height = height;

    float hue = next_float(&st, 0, 360);
    float hue2 = hue + next_float(&st, 30, 150) * (next_u64(&st) & 1 ? 1.0f : -1.0f);
    s->bg0 = hsv(hue, next_float(&st, 0.5f, 0.9f), next_float(&st, 0.12f, 0.35f));
    s->bg1 = hsv(hue2, next_float(&st, 0.4f, 0.8f), next_float(&st, 0.65f, 0.95f));
    s->bg_angle = next_float(&st, 0, (float)TWO_PI);
    s->bg_speed = next_float(&st, 0.04f, 0.15f) * (next_u64(&st) & 1 ? 1.0f : -1.0f);

    s->nshapes = 4 + (int)(next_u64(&st) % (MAX_SHAPES - 3));
    /* Shape hues stay near a complementary accent so every clip has a coherent palette. */
    float accent = hue + 180.0f + next_float(&st, -40, 40);
    for (int i = 0; i < s->nshapes; i++) {
        shape *sh = &s->shapes[i];
        sh->kind = (enum shape_kind)(next_u64(&st) % SHAPE_KINDS);
        sh->color = hsv(accent + next_float(&st, -70, 70), next_float(&st, 0.5f, 1.0f),
                        next_float(&st, 0.75f, 1.0f));
        sh->alpha = 150 + (int)(next_u64(&st) % 106);
        sh->size = next_float(&st, 0.05f, 0.2f);
        sh->ax = next_float(&st, 0.1f, 0.38f);
        sh->ay = next_float(&st, 0.1f, 0.38f);
        sh->fx = next_float(&st, 0.05f, 0.35f);
        sh->fy = next_float(&st, 0.05f, 0.35f);
        sh->px = next_float(&st, 0, (float)TWO_PI);
        sh->py = next_float(&st, 0, (float)TWO_PI);
        sh->spin = next_float(&st, -2.0f, 2.0f);
        sh->pulse = next_float(&st, 0, 0.3f);
    }
    return s;
}

void media_scene_free(media_scene *s)
{
    free(s);
}

void media_scene_draw(const media_scene *s, media_canvas *c, double seconds)
{
    float t = (float)seconds;
    float shortside = (float)(s->width < s->height ? s->width : s->height);
    media_canvas_gradient(c, s->bg0, s->bg1, s->bg_angle, s->bg_speed * t);
    for (int i = 0; i < s->nshapes; i++) {
        const shape *sh = &s->shapes[i];
        float ux = sinf((float)TWO_PI * sh->fx * t + sh->px);
        float uy = sinf((float)TWO_PI * sh->fy * t + sh->py);
        float cx = (float)s->width * (0.5f + sh->ax * ux);
        float cy = (float)s->height * (0.5f + sh->ay * uy);
        float r = shortside * sh->size * (1.0f + sh->pulse * ux * uy);
        switch (sh->kind) {
        case SHAPE_DISC:
            media_canvas_disc(c, cx, cy, r, sh->color, sh->alpha);
            break;
        case SHAPE_RING:
            media_canvas_ring(c, cx, cy, r, r * 0.3f, sh->color, sh->alpha);
            break;
        case SHAPE_SQUARE:
        case SHAPE_KINDS:
            media_canvas_square(c, cx, cy, r * 0.85f, sh->spin * t, sh->color, sh->alpha);
            break;
        }
    }
}
