/* core/sign.h: expiring signed URLs for media, so that players and <video> tags fetch
 * media without a bearer token. The signature is an HMAC over the media id and the expiry,
 * keyed by the server secret; a previous secret (FLICK_SECRET_PREVIOUS) is still accepted so
 * that rotating the secret breaks no live URL. */
#ifndef FLICK_CORE_SIGN_H
#define FLICK_CORE_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGN_URL_TTL_S (6 * 3600)   /* URLs live at least 1 h: API.md */

/* "/v1/media/<id>?exp=<unix>&sig=<base64url>" into out, valid until `expires`. */
void core_sign_media_url(const unsigned char key[32], const char *media_id, time_t expires,
                         char *out, size_t outlen);
/* 1 when sig (base64url) is valid for media_id and exp under key (or previous, if non-NULL)
 * and exp is not past `now`; else 0. Constant time in the signature. */
int core_sign_check(const unsigned char key[32], const unsigned char *previous,
                    const char *media_id, const char *exp, const char *sig, time_t now);

#endif
