/* tests/unit/api/caches.c: what one flick_cache notification makes the two caches forget
 * (api_caches_forget): "s:<hex>" one session, "u:<id>" that user's viewers and profile,
 * "p:<id>" the profile only, anything else everything. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/caches.h"

#define HASH_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define HASH_B "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define HASH_C "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"

/* Viewers are keyed as feed_token_hash writes a hash: backslash, x, then the hex. */
#define KEY_A "\\x" HASH_A
#define KEY_B "\\x" HASH_B
#define KEY_C "\\x" HASH_C

static cache *viewers, *profiles;

/* Users 42 (two sessions, A and B) and 43 (session C), and both their profiles. */
static void fill(void)
{
    viewers = cache_new(100, 60000);
    profiles = cache_new(100, 60000);
    cache_set_enabled(viewers, true);
    cache_set_enabled(profiles, true);
    cr_assert(cache_put(viewers, cache_begin(viewers), KEY_A, 42, "viewer 42", 9, 0));
    cr_assert(cache_put(viewers, cache_begin(viewers), KEY_B, 42, "viewer 42", 9, 0));
    cr_assert(cache_put(viewers, cache_begin(viewers), KEY_C, 43, "viewer 43", 9, 0));
    cr_assert(cache_put(profiles, cache_begin(profiles), "42", 42, "{\"id\":\"42\"}", 11, 0));
    cr_assert(cache_put(profiles, cache_begin(profiles), "43", 43, "{\"id\":\"43\"}", 11, 0));
}

static void drop(void)
{
    cache_free(viewers);
    cache_free(profiles);
}

static bool has(cache *c, const char *key)
{
    size_t len;
    char *v = cache_get(c, key, &len);
    free(v);
    return v != NULL;
}

/* Which of the five entries are still there, as a string: "ABC" viewers, then "23" for
 * the profiles of 42 and 43, with "-" for each one gone. */
static void assert_left(const char *want)
{
    char got[6] = {
        has(viewers, KEY_A) ? 'A' : '-', has(viewers, KEY_B) ? 'B' : '-', has(viewers, KEY_C) ? 'C' : '-',
        has(profiles, "42") ? '2' : '-', has(profiles, "43") ? '3' : '-', '\0',
    };
    cr_assert_str_eq(got, want);
}

/* A viewer fill (of token A) and a profile fill (of user 42) begin, `payload` arrives, and
 * then they are offered: whether each is stored, and what is left afterwards. */
static void check_fills_in_flight(const char *payload, bool viewer_stored, bool profile_stored,
                                  const char *left)
{
    uint64_t v = cache_begin(viewers), p = cache_begin(profiles);
    api_caches_forget(viewers, profiles, payload);
    cr_assert_eq(cache_put(viewers, v, KEY_A, 42, "viewer 42", 9, 0), viewer_stored, "%s", payload);
    cr_assert_eq(cache_put(profiles, p, "42", 42, "{\"id\":\"42\"}", 11, 0), profile_stored, "%s", payload);
    assert_left(left);
}

TestSuite(caches, .init = fill, .fini = drop);

Test(caches, fills_in_flight)
{
    check_fills_in_flight("s:" HASH_A, false, true, "-BC23");
    check_fills_in_flight("s:" HASH_C, false, true, "-B-23");
    check_fills_in_flight("u:43", false, false, "-B-2-");
    check_fills_in_flight("p:43", true, false, "AB-2-");
    check_fills_in_flight("p:42", true, false, "AB---");
    check_fills_in_flight("*", false, false, "-----");
}

/* Payloads handled one after another, each followed by what is left. */
typedef struct step {
    const char *payload, *left;
} step;

static void run_steps(const step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        api_caches_forget(viewers, profiles, steps[i].payload);
        assert_left(steps[i].left);
    }
}

#define RUN(...) do { static const step s_[] = { __VA_ARGS__ }; run_steps(s_, sizeof s_ / sizeof *s_); } while (0)

Test(caches, session_forgets_that_token_only)
{
    RUN({ "s:" HASH_A, "-BC23" }, { "s:" HASH_C, "-B-23" });
}

Test(caches, unknown_session_forgets_nothing_cached)
{
    /* The key is the hex as written: the upper-case spelling is another key. */
    RUN({ "s:00ff", "ABC23" },
        { "s:9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", "ABC23" });
}

Test(caches, user_forgets_its_viewers_and_profile)
{
    RUN({ "u:42", "--C-3" }, { "u:43", "-----" });
}

Test(caches, unknown_user_forgets_nothing_cached)
{
    RUN({ "u:4", "ABC23" }, { "u:420", "ABC23" }, { "p:4242", "ABC23" });
}

Test(caches, profile_forgets_the_profile_only)
{
    RUN({ "p:42", "ABC-3" }, { "p:43", "ABC--" });
}

Test(caches, star_forgets_everything)
{
    RUN({ "*", "-----" });
}

Test(caches, anything_else_forgets_everything)
{
    static const char *const payloads[] = {
        "u:12abc", "u:", "p:", "u:42 ", "p:42x", "u: 42x", "x:42", "", "42", "U:42", "s", "everything",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        drop();
        fill();
        api_caches_forget(viewers, profiles, payloads[i]);
        size_t len;
        char *a = cache_get(viewers, KEY_A, &len), *p = cache_get(profiles, "43", &len);
        cr_assert(a == NULL && p == NULL, "\"%s\" left entries behind", payloads[i]);
        free(a);
        free(p);
        assert_left("-----");
    }
}
