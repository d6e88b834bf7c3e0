/* media/scene.h: the builtin engine's picture: a moving gradient and a handful of shapes
 * whose palette, kinds, sizes and paths all come from a hash of the prompt.
 *
 * Internal to media/. A pure function of (prompt, size, time): the same prompt always draws
 * the same frames, two prompts almost always look plainly different. Overlays (watermark,
 * badges) are render.c's business. */
#ifndef FLICK_MEDIA_SCENE_H
#define FLICK_MEDIA_SCENE_H

#include <stdint.h>

#include "media/canvas.h"

typedef struct media_scene media_scene;

/* Derives a scene for a width x height picture from `prompt` (borrowed, not kept).
 * Free with media_scene_free. */
media_scene *media_scene_new(const char *prompt, int width, int height);
/* Frees the scene. NULL: no-op. */
void media_scene_free(media_scene *s);

/* Draws the scene at `seconds` into c (same size as the scene), covering every pixel. */
void media_scene_draw(const media_scene *s, media_canvas *c, double seconds);

/* 64-bit FNV-1a of a NUL-terminated string: the seed of everything derived from a prompt
 * or a username. */
uint64_t media_scene_hash(const char *s);

/* A saturated, bright colour (0xRRGGBB) picked by `h`: for badge fills. */
uint32_t media_scene_color(uint64_t h);

#endif
