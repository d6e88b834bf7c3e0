/* tests/unit/ranking/score.c: the score moves the way a viewer expects: engagement lifts a
 * post, but only with evidence; time, reports and steering away lower it; nothing makes it
 * NaN or negative. */
#include <criterion/criterion.h>
#include <math.h>

#include "ranking/score.h"

static rank_signals base(void)
{
    return (rank_signals){ .age_s = 3600, .views = 100, .likes = 5, .completes = 30, .skips = 30 };
}

Test(score, more_likes_rank_higher)
{
    rank_signals a = base(), b = base();
    b.likes = 40;
    cr_assert_gt(rank_score(&b), rank_score(&a));
}

Test(score, rates_need_evidence)
{
    /* One like out of one view is a lucky start, not a better post than 500 of 1000. */
    rank_signals lucky = { .age_s = 3600, .views = 1, .likes = 1, .completes = 1 };
    rank_signals proven = { .age_s = 3600, .views = 1000, .likes = 500, .completes = 700 };
    cr_assert_gt(rank_score(&proven), rank_score(&lucky));
    /* And with no evidence at all a post scores like the average one: a finite, positive score. */
    rank_signals none = { .age_s = 3600 };
    cr_assert(rank_score(&none) > 0);
}

Test(score, completion_and_remixes_count_skips_and_not_interested_cost)
{
    rank_signals a = base(), b = base();
    b.completes = 90;
    cr_assert_gt(rank_score(&b), rank_score(&a));
    b = base();
    b.remixes = 20;
    cr_assert_gt(rank_score(&b), rank_score(&a));
    b = base();
    b.skips = 90;
    cr_assert_lt(rank_score(&b), rank_score(&a));
    b = base();
    b.not_interested = 40;
    cr_assert_lt(rank_score(&b), rank_score(&a));
}

Test(score, velocity_lifts_and_decays)
{
    rank_signals a = base(), b = base();
    b.velocity = 50;
    cr_assert_gt(rank_score(&b), rank_score(&a));
    /* Recent likes move a post as events do: a like weighs more than a view. */
    rank_signals liked = base(), viewed = base();
    liked.recent_likes = 5;
    viewed.velocity = 5 * RANK_WEIGHT_VIEW;
    cr_assert_gt(rank_score(&liked), rank_score(&viewed));
    cr_assert_gt(rank_score(&viewed), rank_score(&a));
    double now = 1e9;
    cr_assert_float_eq(rank_velocity_now(8, now, now), 8, 1e-9);
    cr_assert_float_eq(rank_velocity_now(8, now - RANK_VELOCITY_HALFLIFE_S, now), 4, 1e-9);
    cr_assert_float_eq(rank_velocity_now(8, now - 3 * RANK_VELOCITY_HALFLIFE_S, now), 1, 1e-9);
    /* A clock that went backwards does not grow it. */
    cr_assert_float_eq(rank_velocity_now(8, now + 100, now), 8, 1e-9);
}

Test(score, older_posts_rank_lower_but_not_to_zero)
{
    rank_signals a = base(), b = base();
    b.age_s = 3 * 24 * 3600.0;
    cr_assert_lt(rank_score(&b), rank_score(&a));
    b.age_s = 365 * 24 * 3600.0;
    cr_assert_gt(rank_score(&b), 0);
}

Test(score, open_reports_are_a_penalty)
{
    rank_signals a = base(), b = base(), c = base();
    b.open_reports = 1;
    c.open_reports = 2;
    cr_assert_lt(rank_score(&b), rank_score(&a));
    cr_assert_lt(rank_score(&c), rank_score(&b));
}

Test(score, affinity_and_steering)
{
    rank_signals a = base(), b = base();
    b.followed = true;
    cr_assert_gt(rank_score(&b), rank_score(&a));
    b = base();
    b.interactions = 10;
    cr_assert_gt(rank_score(&b), rank_score(&a));
    b = base();
    b.pref_more = true;
    cr_assert_gt(rank_score(&b), rank_score(&a));
    b = base();
    b.pref_less = true;
    cr_assert_lt(rank_score(&b), rank_score(&a));
    b = base();
    b.similar_not_interested = true;
    cr_assert_lt(rank_score(&b), rank_score(&a));
    /* A `more` term outweighs a day of age between two otherwise equal posts. */
    rank_signals fresh = base(), liked_term = base();
    liked_term.age_s += 24 * 3600;
    liked_term.pref_more = true;
    cr_assert_gt(rank_score(&liked_term), rank_score(&fresh));
}

Test(score, garbage_in_gives_a_finite_non_negative_score)
{
    rank_signals s = { .age_s = -5, .views = -1, .likes = NAN, .remixes = INFINITY,
                       .completes = -INFINITY, .skips = 1e300, .velocity = NAN, .open_reports = -3 };
    double v = rank_score(&s);
    cr_assert(isfinite(v));
    cr_assert(v >= 0);
    cr_assert(isfinite(rank_velocity_now(NAN, 0, 1)));
    cr_assert(rank_velocity_now(-4, 0, 1) == 0);
    /* More hits than trials (counters read at different moments) do not explode. */
    rank_signals odd = { .age_s = 10, .views = 1, .likes = 1000, .completes = 500 };
    cr_assert(isfinite(rank_score(&odd)));
}
