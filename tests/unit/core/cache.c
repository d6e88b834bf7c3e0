/* tests/unit/core/cache.c: the expiring map of core/cache.h: what is put comes back, a
 * disabled cache holds nothing, a fill that started before a forget is refused, forgets
 * remove what they name and only that, the oldest entry makes room, entries expire (one
 * reader renews an entry past half its life), and the stats count what happened. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cache.h"

#define LONG_TTL_MS 600000

static cache *enabled_cache(size_t max_entries, int64_t ttl_ms)
{
    cache *c = cache_new(max_entries, ttl_ms);
    cache_set_enabled(c, true);
    return c;
}

static bool put_str(cache *c, const char *key, int64_t tag, const char *val)
{
    return cache_put(c, cache_begin(c), key, tag, val, strlen(val), 0);
}

/* Whether key is there (a hit or a miss in the stats). */
static bool has(cache *c, const char *key)
{
    size_t len;
    char *v = cache_get(c, key, &len);
    free(v);
    return v != NULL;
}

static void assert_value(cache *c, const char *key, const char *want)
{
    size_t len = 12345;
    char *v = cache_get(c, key, &len);
    cr_assert_not_null(v, "%s is missing", key);
    cr_assert_eq(len, strlen(want));
    cr_assert_str_eq(v, want);
    free(v);
}

/* Puts each of `letters` as a key whose value is the letter in upper case, under `tag`,
 * or when tag is 0 under a tag of its own (a: 1, b: 2, ...). */
static void put_letters(cache *c, const char *letters, int64_t tag)
{
    for (const char *l = letters; *l; l++) {
        char key[2] = { *l, '\0' }, val[2] = { (char)(*l - 'a' + 'A'), '\0' };
        cr_assert(put_str(c, key, tag ? tag : *l - 'a' + 1, val));
    }
}

/* What c holds under the keys a, b, ... (as many as want has characters): the first byte
 * of each value, '-' for each key it does not hold. */
static void assert_holds(cache *c, const char *want)
{
    char got[27] = "";
    size_t n = strlen(want);
    cr_assert_lt(n, sizeof got);
    for (size_t i = 0; i < n; i++) {
        char key[2] = { (char)('a' + i), '\0' };
        size_t len;
        char *v = cache_get(c, key, &len);
        got[i] = v ? v[0] : '-';
        free(v);
    }
    cr_assert_str_eq(got, want);
}

static size_t entries(cache *c)
{
    cache_stats st;
    cache_get_stats(c, &st);
    return st.entries;
}

static int64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}
}

Test(cache, round_trip)
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    cr_assert(put_str(c, "alpha", 1, "first value"));
    cr_assert(put_str(c, "beta", 2, ""));
    assert_value(c, "alpha", "first value");
    assert_value(c, "beta", "");
    cr_assert_not(has(c, "gamma"));
    cr_assert_not(has(c, "alph"));
    /* The same key again replaces the value, under its new tag. */
    cr_assert(put_str(c, "alpha", 3, "second"));
    assert_value(c, "alpha", "second");
    cr_assert_eq(entries(c), 2);
    cache_forget_tag(c, 1);
    assert_value(c, "alpha", "second");
    cache_forget_tag(c, 3);
    cr_assert_not(has(c, "alpha"));
    cache_free(c);
}

Test(cache, binary_values_are_copied_in_and_out)
{
    cache *c = enabled_cache(4, LONG_TTL_MS);
    unsigned char val[64];
    for (size_t i = 0; i < sizeof val; i++) val[i] = (unsigned char)(i * 7);   /* NULs included */
    cr_assert(cache_put(c, cache_begin(c), "bin", 9, val, sizeof val, 0));
    memset(val, 0xff, sizeof val);          /* the cache kept its own copy */
    size_t len;
    unsigned char *got = (unsigned char *)cache_get(c, "bin", &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, sizeof val);
    for (size_t i = 0; i < len; i++) cr_assert_eq(got[i], (unsigned char)(i * 7));
    cr_assert_eq(got[len], 0, "one NUL byte follows the value");
    got[0] = 42;                            /* and handed out a copy */
    free(got);
    got = (unsigned char *)cache_get(c, "bin", &len);
    cr_assert_eq(got[0], 0);
    free(got);
    cache_free(c);
}

Test(cache, starts_disabled_until_enabled)
{
    cache *c = cache_new(16, LONG_TTL_MS);
    cache_stats st;
    cache_get_stats(c, &st);
    cr_assert_not(st.enabled);
    uint64_t e = cache_begin(c);
    cr_assert_eq(e, 0);
    cr_assert_not(cache_put(c, e, "k", 1, "v", 1, 0));
    cr_assert_not(has(c, "k"));
    cr_assert_eq(entries(c), 0);
    cache_set_enabled(c, true);
    cache_get_stats(c, &st);
    cr_assert(st.enabled);
    e = cache_begin(c);
    cr_assert_neq(e, 0);
    cr_assert(cache_put(c, e, "k", 1, "v", 1, 0));
    assert_value(c, "k", "v");
    cache_free(c);
}

Test(cache, disabling_forgets_and_refuses)
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    cr_assert(put_str(c, "k", 1, "v"));
    uint64_t before = cache_begin(c);
    cache_set_enabled(c, false);
    cr_assert_not(has(c, "k"));
    cr_assert_eq(entries(c), 0);
    cr_assert_eq(cache_begin(c), 0);
    cr_assert_not(cache_put(c, before, "k", 1, "v", 1, 0), "a fill from before the disable");
    cr_assert_not(cache_put(c, cache_begin(c), "k", 1, "v", 1, 0));
    /* Enabling again starts empty. */
    cache_set_enabled(c, true);
    cr_assert_eq(entries(c), 0);
    cr_assert(put_str(c, "k", 1, "v"));
    /* Disabling a disabled cache keeps it disabled. */
    cache_set_enabled(c, false);
    cache_set_enabled(c, false);
    cr_assert_eq(cache_begin(c), 0);
    cr_assert_eq(entries(c), 0);
    cache_free(c);
}

/* A fill whose epoch was taken before `forget` ran is refused; one taken after is stored. */
static void check_refused_after(void (*forget)(cache *))
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    cr_assert(put_str(c, "other", 7, "x"));
    uint64_t before = cache_begin(c);
    forget(c);
    cr_assert_not(cache_put(c, before, "k", 1, "stale", 5, 0));
    cr_assert_not(has(c, "k"));
    uint64_t after = cache_begin(c);
    cr_assert_neq(after, 0);
    cr_assert(cache_put(c, after, "k", 1, "fresh", 5, 0));
    assert_value(c, "k", "fresh");
    /* The old epoch stays refused after later successful fills. */
    cr_assert_not(cache_put(c, before, "k", 1, "stale", 5, 0));
    assert_value(c, "k", "fresh");
    cache_free(c);
}

static void forget_same_key(cache *c) { cache_forget_key(c, "k"); }
static void forget_unrelated_key(cache *c) { cache_forget_key(c, "no such key"); }
static void forget_same_tag(cache *c) { cache_forget_tag(c, 1); }
static void forget_unrelated_tag(cache *c) { cache_forget_tag(c, 99); }
static void forget_everything(cache *c) { cache_forget_all(c); }
static void disable_enable(cache *c)
{
    cache_set_enabled(c, false);
    cache_set_enabled(c, true);
}
static void enable_again(cache *c) { cache_set_enabled(c, true); }

Test(cache, fill_refused_after_forget_key) { check_refused_after(forget_same_key); }
Test(cache, fill_refused_after_forget_of_another_key) { check_refused_after(forget_unrelated_key); }
Test(cache, fill_refused_after_forget_tag) { check_refused_after(forget_same_tag); }
Test(cache, fill_refused_after_forget_of_another_tag) { check_refused_after(forget_unrelated_tag); }
Test(cache, fill_refused_after_forget_all) { check_refused_after(forget_everything); }
Test(cache, fill_refused_after_disable_and_enable) { check_refused_after(disable_enable); }
Test(cache, fill_refused_after_enabling_again) { check_refused_after(enable_again); }

Test(cache, two_fills_from_one_epoch_both_count)
{
    /* Puts do not move the epoch: only forgets do. */
    cache *c = enabled_cache(16, LONG_TTL_MS);
    uint64_t e = cache_begin(c);
    cr_assert(cache_put(c, e, "a", 1, "1", 1, 0));
    cr_assert(cache_put(c, e, "b", 2, "2", 1, 0));
    cr_assert(cache_put(c, e, "a", 1, "3", 1, 0));
    assert_value(c, "a", "3");
    assert_value(c, "b", "2");
    cache_free(c);
}

Test(cache, forget_tag_removes_that_tag_only)
{
    /* 200 entries over 20 tags (negative and large ones too), so that tags share buckets. */
    static const int64_t tags[20] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 32, 64, 128, 1024, -1, -16,
                                      INT64_MAX, INT64_MIN, 4294967296LL };
    cache *c = enabled_cache(256, LONG_TTL_MS);
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(put_str(c, key, tags[i % 20], key));
    }
    cr_assert_eq(entries(c), 200);
    cache_forget_tag(c, 3);
    cache_forget_tag(c, -16);
    cache_forget_tag(c, INT64_MIN);
    cache_forget_tag(c, 12345);             /* no entry has it */
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        int64_t t = tags[i % 20];
        if (t == 3 || t == -16 || t == INT64_MIN) cr_assert_not(has(c, key), "%s (tag %lld) stayed", key, (long long)t);
        else assert_value(c, key, key);
    }
    cr_assert_eq(entries(c), 170);
    /* A forgotten tag can be filled again, and forgetting it again removes the new ones. */
    cr_assert(put_str(c, "again", 3, "x"));
    assert_value(c, "again", "x");
    cache_forget_tag(c, 3);
    cr_assert_not(has(c, "again"));
    cr_assert_eq(entries(c), 170);
    cache_free(c);
}

Test(cache, forget_key_removes_one)
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    put_letters(c, "ab", 1);
    put_letters(c, "c", 2);
    cache_forget_key(c, "b");
    assert_holds(c, "A-C");
    cache_forget_key(c, "b");               /* absent: nothing happens */
    cache_forget_key(c, "");
    assert_holds(c, "A-C");
    cr_assert_eq(entries(c), 2);
    /* The tag chain still holds the others of b's tag. */
    cache_forget_tag(c, 1);
    assert_holds(c, "--C");
    cache_free(c);
}

Test(cache, forget_all_empties)
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        cr_assert(put_str(c, key, i, key));
    }
    cache_forget_all(c);
    cr_assert_eq(entries(c), 0);
    cr_assert_not(has(c, "0"));
    cr_assert_not(has(c, "9"));
    cr_assert(put_str(c, "0", 0, "again"));
    assert_value(c, "0", "again");
    cache_free(c);
}

Test(cache, oldest_goes_when_full)
{
    cache *c = enabled_cache(3, LONG_TTL_MS);
    put_letters(c, "abcd", 0);
    cr_assert_eq(entries(c), 3);
    assert_holds(c, "-BCD");
    /* Replacing a key makes no room for itself at anyone's expense. */
    cr_assert(put_str(c, "c", 3, "c2"));
    cr_assert_eq(entries(c), 3);
    assert_holds(c, "-BcD");
    /* The evicted entry's tag went with it: forgetting that tag touches no one else. */
    cache_forget_tag(c, 1);
    assert_holds(c, "-BcD");
    cache_free(c);
    /* A cache made for no entries holds one. */
    c = enabled_cache(0, LONG_TTL_MS);
    put_letters(c, "ab", 1);
    assert_holds(c, "-B");
    cache_free(c);
}

Test(cache, entries_expire_after_the_ttl)
{
    const int64_t ttl = 30;
    cache *c = enabled_cache(16, ttl);
    int64_t t0 = monotonic_ms();
    cr_assert(put_str(c, "k", 1, "v"));
    bool there = has(c, "k");
    if (monotonic_ms() - t0 < ttl / 2) cr_assert(there, "gone before its ttl");
    sleep_ms(3 * ttl);
    cr_assert_not(has(c, "k"), "still there after 3x the ttl");
    cr_assert_eq(entries(c), 0, "an expired entry found by a lookup is dropped");
    /* A put after expiry is stored again. */
    cr_assert(put_str(c, "k", 1, "v2"));
    cache_free(c);
}

/* Past half its life an entry sends exactly one reader back to the source; the others
 * keep hitting until it expires or a fresh value replaces it. */
Test(cache, one_reader_refreshes_an_entry_past_half_its_life)
{
    const int64_t ttl = 400;
    cache *c = enabled_cache(16, ttl);
    int64_t t0 = monotonic_ms();
    cr_assert(put_str(c, "k", 1, "v"));
    sleep_ms(ttl / 2 + 50);
    if (monotonic_ms() - t0 >= ttl - 50) cr_skip_test("the machine stalled past the ttl");
    cr_assert_not(has(c, "k"), "the first reader past half the ttl is sent to the source");
    for (int i = 0; i < 5; i++) cr_assert(has(c, "k"), "reader %d lost the entry", i);
    cr_assert(put_str(c, "k", 1, "v2"));
    assert_value(c, "k", "v2");
    cache_free(c);
}

Test(cache, expires_ms_bounds_the_ttl)
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    /* A bound in the past: refused. */
    cr_assert_not(cache_put(c, cache_begin(c), "past", 1, "v", 1, realtime_ms() - 1000));
    cr_assert_not(cache_put(c, cache_begin(c), "past", 1, "v", 1, 1));
    cr_assert_not(has(c, "past"));
    cr_assert_eq(entries(c), 0);
    /* A bound far ahead: the ttl rules. */
    cr_assert(cache_put(c, cache_begin(c), "far", 1, "v", 1, realtime_ms() + 3600000));
    assert_value(c, "far", "v");
    /* A near bound: gone after it even though the ttl is long. */
    cr_assert(cache_put(c, cache_begin(c), "near", 1, "v", 1, realtime_ms() + 30));
    sleep_ms(90);
    cr_assert_not(has(c, "near"));
    assert_value(c, "far", "v");
    cache_free(c);
}

Test(cache, stats_count_hits_misses_and_entries)
{
    cache *c = enabled_cache(16, LONG_TTL_MS);
    cache_stats st;
    cache_get_stats(c, &st);
    cr_assert_eq(st.hits, 0);
    cr_assert_eq(st.misses, 0);
    cr_assert_eq(st.entries, 0);
    cr_assert(st.enabled);
    cr_assert_not(has(c, "a"));             /* miss 1 */
    cr_assert(put_str(c, "a", 1, "A"));
    cr_assert(put_str(c, "b", 2, "B"));
    for (int i = 0; i < 5; i++) cr_assert(has(c, "a"));     /* hits 1..5 */
    cr_assert(has(c, "b"));                 /* hit 6 */
    cr_assert_not(has(c, "zzz"));           /* miss 2 */
    cache_get_stats(c, &st);
    cr_assert_eq(st.hits, 6);
    cr_assert_eq(st.misses, 2);
    cr_assert_eq(st.entries, 2);
    cache_forget_key(c, "a");
    cr_assert_not(has(c, "a"));             /* miss 3 */
    cache_set_enabled(c, false);
    cr_assert_not(has(c, "b"));             /* miss 4: a disabled cache counts lookups too */
    cache_get_stats(c, &st);
    cr_assert_eq(st.hits, 6);
    cr_assert_eq(st.misses, 4);
    cr_assert_eq(st.entries, 0);
    cr_assert_not(st.enabled);
    cache_free(c);
}

Test(cache, free_of_null_and_of_a_full_cache)
{
    cache_free(NULL);
    cache *c = enabled_cache(8, LONG_TTL_MS);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        cr_assert(put_str(c, key, i % 3, key));
    }
    cache_free(c);                          /* the sanitizer build checks nothing leaks */
}

/* Threads filling, reading and forgetting at once: no crash, no torn value, and the cache
 * never holds more than its bound. */
#define RACE_THREADS 4
#define RACE_ROUNDS 20000

static void *race(void *arg)
{
    cache *c = arg;
    unsigned seed = (unsigned)(uintptr_t)&c;
    char key[16], val[32];
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int n = (int)(rand_r(&seed) % 64);
        snprintf(key, sizeof key, "k%d", n);
        snprintf(val, sizeof val, "value of k%d", n);
        switch (rand_r(&seed) % 8) {
        case 0: cache_forget_tag(c, n % 8); break;
        case 1: cache_forget_key(c, key); break;
        case 2: if (i % 512 == 0) cache_forget_all(c); break;
        case 3: case 4: {
            uint64_t e = cache_begin(c);
            cache_put(c, e, key, n % 8, val, strlen(val), 0);
            break;
        }
        default: {
            size_t len;
            char *v = cache_get(c, key, &len);
            if (v) {
                if (len != strlen(val) || strcmp(v, val) != 0) {
                    free(v);
                    return (void *)1;
                }
                free(v);
            }
        }
        }
    }
    return NULL;
}

Test(cache, threads)
{
    cache *c = enabled_cache(32, LONG_TTL_MS);
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) cr_assert_eq(pthread_create(&t[i], NULL, race, c), 0);
    for (int i = 0; i < RACE_THREADS; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        cr_assert_null(bad, "a thread read a value that is not the one put under its key");
    }
    cr_assert_leq(entries(c), 32);
    cache_free(c);
}
