/* media/text.h: UTF-8 strings rasterised with FreeType into coverage masks, for the
 * builtin engine's watermark and cameo badges.
 *
 * Internal to media/. A media_font is one FreeType library plus one face: use it from one
 * thread at a time (each render opens its own). No shaping beyond kerning: enough for
 * usernames, not for arbitrary scripts. */
#ifndef FLICK_MEDIA_TEXT_H
#define FLICK_MEDIA_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct media_font media_font;

/* An 8-bit coverage mask, `width` x `height`, rows `width` bytes apart; owns `alpha`. The
 * height is the font's full line height, so masks of one size line up. */
typedef struct media_text_mask {
    int width, height;
    uint8_t *alpha;
} media_text_mask;

/* Loads the font file at `path`. Returns 0 and *out (free with media_font_free), or -1
 * with err. */
int media_font_open(const char *path, media_font **out, char *err, size_t errlen);
/* Frees the face and its library. NULL: no-op. */
void media_font_free(media_font *font);

/* Renders `utf8` (invalid bytes become U+FFFD; at most 64 characters are drawn) at a pixel
 * height of `px` into *out, whose `alpha` the caller releases with media_text_mask_release.
 * Returns 0, or -1 with err. */
int media_font_render(media_font *font, const char *utf8, int px, media_text_mask *out,
                      char *err, size_t errlen);
/* Frees out->alpha and zeroes the mask. */
void media_text_mask_release(media_text_mask *m);

/* The first character of `utf8`, upper-cased if it is ASCII, as UTF-8 into buf (>= 5 bytes);
 * "?" for an empty string. Returns buf. */
char *media_text_initial(const char *utf8, char *buf);

#endif
