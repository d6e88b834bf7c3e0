/* api/caches.h: what nearly every request asks PostgreSQL about its caller, kept in the
 * process: bearer token → viewer, and user → the body of GET /v1/me.
 *
 * Nothing here decides when an entry is stale. The triggers of migrations/0007 notify on
 * channel flick_cache at the commit of every change these entries come from, every pool
 * connection listens, and the notifications forget entries before any reply that follows
 * the change on that connection is sent. While no connection of the process listens a
 * change could go unheard, so the caches hold nothing. Not for data of other users. */
#ifndef FLICK_API_CACHES_H
#define FLICK_API_CACHES_H

#include "core/cache.h"
#include "core/db.h"

struct api_server;

#define API_CACHE_CHANNEL "flick_cache"

/* Creates the server's caches (disabled until a connection listens). */
void api_caches_init(struct api_server *s);
/* The listening part of every pool's configuration. */
db_listen api_caches_listen(struct api_server *s);

/* What to forget for one notification payload: "s:<hex token hash>" (a session),
 * "u:<user id>" (the user's viewer and profile), "p:<user id>" (the profile only), or
 * anything else, such as "*": everything. Exposed for tests. */
void api_caches_forget(cache *viewers, cache *profiles, const char *payload);

#endif
