/* tests/unit/feed/policy.c: blocked terms match whole words, in any case, in any script. */
#include <criterion/criterion.h>

#include "feed/policy.h"

static const char *const terms[] = { "gore", "straße", "Ünsafe words", "café" };
#define N 4

Test(policy, matches_whole_words_case_insensitively)
{
    cr_assert_str_eq(feed_policy_match("a scene full of GORE.", terms, N), "gore");
    cr_assert_str_eq(feed_policy_match("Gore", terms, N), "gore");
    cr_assert_str_eq(feed_policy_match("walk down the STRASSE at night", terms, N), "straße");
    cr_assert_str_eq(feed_policy_match("some ünsafe WORDS here", terms, N), "Ünsafe words");
    cr_assert_str_eq(feed_policy_match("«CAFÉ»", terms, N), "café");
}

Test(policy, ignores_parts_of_words)
{
    cr_assert_null(feed_policy_match("gorey gorgeous ingore", terms, N));
    cr_assert_null(feed_policy_match("cafés", terms, N));
    cr_assert_null(feed_policy_match("café\xcc\x81", terms, N));  /* followed by a combining mark */
    cr_assert_null(feed_policy_match("gore_fest", terms, N));
    cr_assert_null(feed_policy_match("a sunny meadow", terms, N));
}

Test(policy, invalid_utf8_never_matches_and_never_crashes)
{
    cr_assert_null(feed_policy_match("gore \xff\xfe", terms, N));
    const char *bad[] = { "\xc3" };
    cr_assert_null(feed_policy_match("anything", bad, 1));
}

Test(policy, normalises_terms)
{
    char out[256];
    cr_assert_eq(feed_policy_normalise("  GoRe \n", out, sizeof out), 0);
    cr_assert_str_eq(out, "gore");
    cr_assert_eq(feed_policy_normalise("   ", out, sizeof out), -1);
    cr_assert_eq(feed_policy_normalise("\xff", out, sizeof out), -1);
}
