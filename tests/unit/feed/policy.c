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

Test(policy, spacing_widths_and_invisible_characters_hide_nothing)
{
    static const char *const phrase[] = { "make a bomb", "gore" };
    cr_assert_str_eq(feed_policy_match("how to make  a bomb", phrase, 2), "make a bomb");
    cr_assert_str_eq(feed_policy_match("make\na\tbomb", phrase, 2), "make a bomb");
    cr_assert_str_eq(feed_policy_match("make\xc2\xa0" "a\xe2\x80\x83" "bomb", phrase, 2), "make a bomb"); /* no-break, em space */
    cr_assert_str_eq(feed_policy_match("\xef\xbd\x87\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x85", phrase, 2), "gore"); /* fullwidth */
    cr_assert_str_eq(feed_policy_match("g\xe2\x80\x8bo\xc2\xadre", phrase, 2), "gore"); /* zero-width space, soft hyphen */
    cr_assert_null(feed_policy_match("make abomb", phrase, 2));
    cr_assert_null(feed_policy_match("make a bombastic entrance", phrase, 2));
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
    cr_assert_eq(feed_policy_normalise("  Make \t A\n\nBomb ", out, sizeof out), 0);
    cr_assert_str_eq(out, "make a bomb");
    cr_assert_eq(feed_policy_normalise("\xef\xbc\xa7ore", out, sizeof out), 0);
    cr_assert_str_eq(out, "gore");
    cr_assert_eq(feed_policy_normalise("   ", out, sizeof out), -1);
    cr_assert_eq(feed_policy_normalise("\xe2\x80\x8b", out, sizeof out), -1);
    cr_assert_eq(feed_policy_normalise("\xff", out, sizeof out), -1);
}
