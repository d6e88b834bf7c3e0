/* core/cache.c: the shared expiring map of cache.h.
 *
 * One mutex guards everything: lookups copy a few hundred bytes and hold it for well under
 * a microsecond. Entries sit in three intrusive lists: a bucket chain by key, a bucket
 * chain by tag (so forgetting a tag touches only that tag's entries), and the insertion
 * order, oldest first, which is what goes when the cache is full. An entry past half its
 * life sends one reader back to the source, so a popular entry is renewed before it
 * expires instead of being missed by all its readers at once. */
#include "core/cache.h"

#include "core/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct entry entry;
struct entry {
    entry *key_next;            /* same key bucket */
    entry *tag_prev, *tag_next; /* same tag bucket */
    entry *older, *newer;       /* insertion order */
    uint64_t hash;
    int64_t tag;
    int64_t deadline_ms;        /* CLOCK_MONOTONIC: gone from then on */
    int64_t refresh_ms;         /* CLOCK_MONOTONIC: from then on, one reader refreshes it */
    size_t len;
    char *key;                  /* points into data, after the value and its NUL */
    char data[];
};

struct cache {
    pthread_mutex_t lock;
    entry **keys, **tags;       /* nbuckets heads each */
    size_t nbuckets;            /* a power of two */
    entry *oldest, *newest;
    size_t count, max_entries;
    int64_t ttl_ms;
    uint64_t epoch;             /* odd while enabled; moves on every forget */
    unsigned long long hits, misses;
};

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ull;
    for (; *key; key++) h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return h;
}

static size_t tag_bucket(const cache *c, int64_t tag)
{
    uint64_t h = (uint64_t)tag * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (c->nbuckets - 1);
}

cache *cache_new(size_t max_entries, int64_t ttl_ms)
{
    cache *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->max_entries = max_entries ? max_entries : 1;
    c->nbuckets = 16;
    while (c->nbuckets < c->max_entries) c->nbuckets *= 2;
    c->keys = xcalloc(c->nbuckets, sizeof *c->keys);
    c->tags = xcalloc(c->nbuckets, sizeof *c->tags);
    c->ttl_ms = ttl_ms;
    c->epoch = 2;               /* even: disabled */
    return c;
}

/* Unlinks e from all three lists and frees it. */
static void drop(cache *c, entry *e)
{
    entry **p = &c->keys[e->hash & (c->nbuckets - 1)];
    while (*p != e) p = &(*p)->key_next;
    *p = e->key_next;

    if (e->tag_prev) e->tag_prev->tag_next = e->tag_next;
    else c->tags[tag_bucket(c, e->tag)] = e->tag_next;
    if (e->tag_next) e->tag_next->tag_prev = e->tag_prev;

    if (e->older) e->older->newer = e->newer; else c->oldest = e->newer;
    if (e->newer) e->newer->older = e->older; else c->newest = e->older;

    c->count--;
    free(e);
}

static entry *find(cache *c, const char *key, uint64_t hash)
{
    for (entry *e = c->keys[hash & (c->nbuckets - 1)]; e; e = e->key_next)
        if (e->hash == hash && strcmp(e->key, key) == 0) return e;
    return NULL;
}

static void drop_all(cache *c)
{
    while (c->oldest) drop(c, c->oldest);
}

void cache_free(cache *c)
{
    if (!c) return;
    drop_all(c);
    free(c->keys);
    free(c->tags);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

uint64_t cache_begin(cache *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t epoch = c->epoch & 1 ? c->epoch : 0;
    pthread_mutex_unlock(&c->lock);
    return epoch;
}

bool cache_put(cache *c, uint64_t began, const char *key, int64_t tag,
               const void *val, size_t len, int64_t expires_ms)
{
    int64_t ttl = c->ttl_ms;
    if (expires_ms > 0) {
        int64_t left = expires_ms - clock_ms(CLOCK_REALTIME);
        if (left < ttl) ttl = left;
    }
    if (ttl <= 0 || began == 0) return false;

    size_t klen = strlen(key);
    entry *e = xmalloc(sizeof *e + len + 1 + klen + 1);
    memcpy(e->data, val, len);
    e->data[len] = '\0';
    e->key = e->data + len + 1;
    memcpy(e->key, key, klen + 1);
    e->len = len;
    e->tag = tag;
    e->hash = hash_key(key);
    int64_t now = clock_ms(CLOCK_MONOTONIC);
    e->deadline_ms = now + ttl;
    e->refresh_ms = now + ttl / 2;

    pthread_mutex_lock(&c->lock);
    if (began != c->epoch) {
        pthread_mutex_unlock(&c->lock);
        free(e);
        return false;
    }
    entry *old = find(c, key, e->hash);
    if (old) drop(c, old);
    else if (c->count >= c->max_entries) drop(c, c->oldest);

    entry **kb = &c->keys[e->hash & (c->nbuckets - 1)];
    e->key_next = *kb;
    *kb = e;
    entry **tb = &c->tags[tag_bucket(c, tag)];
    e->tag_prev = NULL;
    e->tag_next = *tb;
    if (*tb) (*tb)->tag_prev = e;
    *tb = e;
    e->newer = NULL;
    e->older = c->newest;
    if (c->newest) c->newest->newer = e; else c->oldest = e;
    c->newest = e;
    c->count++;
    pthread_mutex_unlock(&c->lock);
    return true;
}

char *cache_get(cache *c, const char *key, size_t *len)
{
    uint64_t hash = hash_key(key);
    char *copy = NULL;
    int64_t now = clock_ms(CLOCK_MONOTONIC);
    pthread_mutex_lock(&c->lock);
    entry *e = find(c, key, hash);
    if (e && e->deadline_ms <= now) {
        drop(c, e);
        e = NULL;
    } else if (e && e->refresh_ms <= now) {
        /* Past half its life: this reader alone misses and reads the source again, while
         * the others keep the entry until the new value replaces it. Without this, every
         * reader of a popular entry would miss at once when it expires. */
        e->refresh_ms = e->deadline_ms;
        e = NULL;
    }
    if (e) {
        copy = xmalloc(e->len + 1);
        memcpy(copy, e->data, e->len + 1);
        *len = e->len;
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    return copy;
}

/* Every forget moves the epoch by two, keeping its parity (enabled or not). */
void cache_forget_key(cache *c, const char *key)
{
    uint64_t hash = hash_key(key);
    pthread_mutex_lock(&c->lock);
    c->epoch += 2;
    entry *e = find(c, key, hash);
    if (e) drop(c, e);
    pthread_mutex_unlock(&c->lock);
}

void cache_forget_tag(cache *c, int64_t tag)
{
    pthread_mutex_lock(&c->lock);
    c->epoch += 2;
    entry *e = c->tags[tag_bucket(c, tag)];
    while (e) {
        entry *next = e->tag_next;
        if (e->tag == tag) drop(c, e);
        e = next;
    }
    pthread_mutex_unlock(&c->lock);
}

void cache_forget_all(cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->epoch += 2;
    drop_all(c);
    pthread_mutex_unlock(&c->lock);
}

void cache_set_enabled(cache *c, bool enabled)
{
    pthread_mutex_lock(&c->lock);
    drop_all(c);
    /* Enabled epochs are odd; either change moves it, refusing every read in flight. */
    c->epoch += enabled == (bool)(c->epoch & 1) ? 2 : 1;
    pthread_mutex_unlock(&c->lock);
}

void cache_get_stats(cache *c, cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    out->hits = c->hits;
    out->misses = c->misses;
    out->entries = c->count;
    out->enabled = c->epoch & 1;
    pthread_mutex_unlock(&c->lock);
}
