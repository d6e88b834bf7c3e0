/* media/phash.h: a 64-bit perceptual hash of a picture, so a moderator can find the clip a
 * screenshot came from even after it was scaled or re-encoded.
 *
 * DCT pHash: 32x32 grey, 2-D DCT, the 8x8 lowest frequencies after the DC row and column,
 * each bit = coefficient above their median. Similar pictures are a few bits apart; unrelated
 * ones about 32. */
#ifndef FLICK_MEDIA_PHASH_H
#define FLICK_MEDIA_PHASH_H

#include <stdint.h>

#include "media/image.h"

/* The hash of img (borrowed). Deterministic for the same pixels. */
uint64_t media_phash64(const media_image *img);

/* Number of differing bits, 0..64. */
int media_phash_distance(uint64_t a, uint64_t b);

/* The hash as 16 lowercase hex digits into buf (>= 17 bytes); returns buf. */
char *media_phash_hex(uint64_t hash, char *buf);

#endif
