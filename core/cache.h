/* core/cache.h: a bounded, expiring map of byte strings by key, shared by the threads of
 * one process.
 *
 * Each entry carries a tag (the id of whatever owns it) so that everything of one owner can
 * be forgotten at once. Every forget moves the cache's epoch: a value read from its source
 * before a forget is refused when it is offered after it, so a reader that raced a writer
 * never stores what the writer just replaced. A disabled cache holds nothing and refuses
 * every offer; its owner disables it while it cannot hear about changes. Not a general
 * purpose map: values are copied in and out, and the oldest entry goes when it is full. */
#ifndef FLICK_CORE_CACHE_H
#define FLICK_CORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cache cache;

/* A cache of at most max_entries (>= 1) entries, each kept at most ttl_ms; disabled. */
cache *cache_new(size_t max_entries, int64_t ttl_ms);
void cache_free(cache *c);

/* The epoch to pass to cache_put for a value about to be read from its source; 0 when the
 * cache is disabled (cache_put then refuses it). */
uint64_t cache_begin(cache *c);

/* Stores a copy of val under key, replacing any entry of that key, unless the cache was
 * disabled or something was forgotten since cache_begin returned `began`. The entry lives
 * until the TTL or until `expires_ms` (CLOCK_REALTIME milliseconds; 0: no such bound),
 * whichever comes first. Returns whether it was stored. */
bool cache_put(cache *c, uint64_t began, const char *key, int64_t tag,
               const void *val, size_t len, int64_t expires_ms);

/* A malloc'd copy of key's value (its length in *len; one NUL byte follows it), or NULL
 * when there is none or it has expired. The caller frees it. Once an entry is past half its
 * lifetime, one caller gets NULL, so that it reads the source and puts a fresh value while
 * the others still get the entry. */
char *cache_get(cache *c, const char *key, size_t *len);

void cache_forget_key(cache *c, const char *key);
void cache_forget_tag(cache *c, int64_t tag);
void cache_forget_all(cache *c);

/* Disabling forgets everything; enabling starts empty. */
void cache_set_enabled(cache *c, bool enabled);

typedef struct cache_stats {
    unsigned long long hits, misses;
    size_t entries;
    bool enabled;
} cache_stats;
void cache_get_stats(cache *c, cache_stats *out);

#endif
