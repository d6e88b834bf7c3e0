/* api/ratelimit.h: fixed-window rate limits kept in Redis, shared by every flickd process.
 * When Redis is unreachable the limit fails open to a per-process window of the same size,
 * so a Redis outage neither locks users out nor removes the limit. */
#ifndef FLICK_API_RATELIMIT_H
#define FLICK_API_RATELIMIT_H

#include "api/http.h"

/* Counts one attempt for `key` (copied) and calls done(r, allowed, retry_after_s) later
 * from the loop: allowed is 1 while at most `limit` attempts fell in the current window of
 * `window_s` seconds. */
void api_ratelimit_hit(api_req *r, const char *key, int limit, int window_s,
                       void (*done)(api_req *r, int allowed, int retry_after_s));

#endif
