/* feed/posts.h: the `post` object. PostgreSQL builds it (post_json() in migrations/0004);
 * this turns its stored media rows into the `media` object with signed, expiring URLs and
 * adds what depends on the viewer. */
#ifndef FLICK_FEED_POSTS_H
#define FLICK_FEED_POSTS_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

/* A new `post` object from the text of post_json() or post_json_for() (which adds the
 * viewer's `viewer` object; without it the post shows {liked: false}). `base_url`
 * ("http://host:port", or "" for relative URLs) prefixes the signed media URLs, signed with
 * `key`, valid until `expires`. Returns NULL if the text is not such an object. Caller owns
 * the result. */
json_t *feed_post_from_json_text(const char *text, const unsigned char key[32], time_t expires,
                                 const char *base_url);

/* When URLs handed out now expire: at least SIGN_URL_TTL_S from now, rounded up to the
 * hour so that pages fetched within the hour repeat the same URLs (cache-friendly). */
time_t feed_media_url_expiry(time_t now);

#endif
