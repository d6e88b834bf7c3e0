/* api/caches.c: the caches of caches.h and what the notifications make them forget. */
#include "api/caches.h"

#include "api/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A viewer is one row of users and lives for a minute at most; the body of /v1/me also
 * counts rows of other tables and follows the clock (the quota day, the active users of
 * automatic quotas), so it lives for seconds. */
#define VIEWERS_MAX 20000
#define VIEWERS_TTL_MS 60000
#define PROFILES_MAX 10000
#define PROFILES_TTL_MS 5000

void api_caches_forget(cache *viewers, cache *profiles, const char *payload)
{
    if (strncmp(payload, "s:", 2) == 0) {
        char key[80];
        snprintf(key, sizeof key, "\\x%s", payload + 2);   /* as feed_token_hash writes it */
        cache_forget_key(viewers, key);
        return;
    }
    if (strncmp(payload, "u:", 2) == 0 || strncmp(payload, "p:", 2) == 0) {
        char *end;
        long long id = strtoll(payload + 2, &end, 10);
        if (end != payload + 2 && *end == '\0') {
            if (payload[0] == 'u') cache_forget_tag(viewers, id);
            cache_forget_tag(profiles, id);
            return;
        }
    }
    cache_forget_all(viewers);
    cache_forget_all(profiles);
}

static void on_notify(void *arg, const char *payload)
{
    api_server *s = arg;
    api_caches_forget(s->viewers, s->profiles, payload);
}

static void on_listening(void *arg, int delta)
{
    api_server *s = arg;
    /* Under the lock so that a connection closing on one loop and another starting to
     * listen on the next cannot leave the caches in the state of the older change. */
    pthread_mutex_lock(&s->listen_lock);
    int before = s->listening;
    s->listening += delta;
    if ((before == 0) != (s->listening == 0)) {
        cache_set_enabled(s->viewers, s->listening > 0);
        cache_set_enabled(s->profiles, s->listening > 0);
    }
    pthread_mutex_unlock(&s->listen_lock);
}

void api_caches_init(api_server *s)
{
    s->viewers = cache_new(VIEWERS_MAX, VIEWERS_TTL_MS);
    s->profiles = cache_new(PROFILES_MAX, PROFILES_TTL_MS);
    pthread_mutex_init(&s->listen_lock, NULL);
}

db_listen api_caches_listen(api_server *s)
{
    return (db_listen){ .channel = API_CACHE_CHANNEL, .on_notify = on_notify,
                        .on_listening = on_listening, .arg = s };
}
