/* tests/unit/ranking/diversity.c: a page never repeats an author in adjacent slots, never
 * holds more than two items of one author or one remix root, whenever the candidates allow;
 * and when they do not, it still fills the page and breaks the rules as little as possible. */
#include <criterion/criterion.h>
#include <string.h>

#include "ranking/diversity.h"

#define MAXN 200

static rank_item items[MAXN];
static int page[MAXN];

static void add(int *n, int64_t author, int64_t root, double score)
{
    items[*n] = (rank_item){ .id = *n + 1, .author = author, .root = root ? root : *n + 1000,
                             .score = score, .ref = *n };
    (*n)++;
}

static int adjacent_repeats(int m, int64_t prev)
{
    int bad = 0;
    for (int i = 0; i < m; i++) {
        int64_t a = items[page[i]].author;
        if (a == prev) bad++;
        prev = a;
    }
    return bad;
}

/* The most page slots that share one author (or one remix root). */
static int max_sharing(int m, bool by_root)
{
    int best = 0;
    for (int i = 0; i < m; i++) {
        int c = 0;
        for (int j = 0; j < m; j++)
            c += by_root ? items[page[j]].root == items[page[i]].root
                         : items[page[j]].author == items[page[i]].author;
        if (c > best) best = c;
    }
    return best;
}

#define max_per_author(m) max_sharing(m, false)
#define max_per_root(m) max_sharing(m, true)

static void assert_distinct(int m)
{
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) cr_assert_neq(page[i], page[j], "slot %d and %d repeat an item", i, j);
}

Test(diversity, best_first_when_nothing_conflicts)
{
    int n = 0;
    for (int i = 0; i < 10; i++) add(&n, i + 1, 0, 10 - i);
    rank_order(items, n);
    int m = rank_diversify(items, n, 5, 0, page);
    cr_assert_eq(m, 5);
    for (int i = 0; i < 5; i++) cr_assert_eq(items[page[i]].id, i + 1);
}

Test(diversity, one_author_dominating_with_enough_others)
{
    int n = 0;
    for (int i = 0; i < 30; i++) add(&n, 7, 0, 100 - i);         /* the best 30 by one author */
    for (int i = 0; i < 20; i++) add(&n, 100 + i % 10, 0, 10 - i * 0.1);
    rank_order(items, n);
    int m = rank_diversify(items, n, 10, 0, page);
    cr_assert_eq(m, 10);
    assert_distinct(m);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
    cr_assert_leq(max_per_author(m), RANK_PAGE_MAX_PER_AUTHOR);
    cr_assert_eq(items[page[0]].author, 7, "the best item still leads the page");
}

Test(diversity, one_author_dominating_with_too_few_others)
{
    /* 5 others for 10 slots: the dominant author must fill 5, and can still alternate. */
    int n = 0;
    for (int i = 0; i < 30; i++) add(&n, 7, 0, 100 - i);
    for (int i = 0; i < 5; i++) add(&n, 200 + i, 0, 1);
    rank_order(items, n);
    int m = rank_diversify(items, n, 10, 0, page);
    cr_assert_eq(m, 10);
    assert_distinct(m);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
    cr_assert_eq(max_per_author(m), 5);
}

Test(diversity, only_one_author_fills_the_page_anyway)
{
    int n = 0;
    for (int i = 0; i < 8; i++) add(&n, 7, 0, 8 - i);
    rank_order(items, n);
    int m = rank_diversify(items, n, 5, 0, page);
    cr_assert_eq(m, 5);
    assert_distinct(m);
    for (int i = 0; i < 5; i++) cr_assert_eq(items[page[i]].id, i + 1, "then in score order");
}

Test(diversity, everything_sharing_one_remix_root)
{
    int n = 0;
    for (int i = 0; i < 20; i++) add(&n, i + 1, 99, 20 - i);
    rank_order(items, n);
    int m = rank_diversify(items, n, 6, 0, page);
    cr_assert_eq(m, 6, "the page is filled though the root cap cannot hold");
    assert_distinct(m);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
}

Test(diversity, remix_root_cap_holds_when_others_exist)
{
    int n = 0;
    for (int i = 0; i < 10; i++) add(&n, i + 1, 99, 100 - i);  /* best ones share a root */
    for (int i = 0; i < 10; i++) add(&n, 50 + i, 0, 1);
    rank_order(items, n);
    int m = rank_diversify(items, n, 8, 0, page);
    cr_assert_eq(m, 8);
    cr_assert_leq(max_per_root(m), RANK_PAGE_MAX_PER_ROOT);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
}

Test(diversity, fewer_candidates_than_slots)
{
    int n = 0;
    add(&n, 1, 0, 3);
    add(&n, 1, 0, 2);
    add(&n, 2, 0, 1);
    rank_order(items, n);
    int m = rank_diversify(items, n, 20, 0, page);
    cr_assert_eq(m, 3);
    assert_distinct(m);
    cr_assert_eq(adjacent_repeats(m, 0), 0, "1, 2, 1 keeps authors apart");
    cr_assert_eq(rank_diversify(items, 0, 20, 0, page), 0);
    cr_assert_eq(rank_diversify(items, n, 0, 0, page), 0);
}

Test(diversity, two_authors_alternate_even_when_scores_cluster)
{
    int n = 0;
    for (int i = 0; i < 6; i++) add(&n, 1, 0, 100 - i);
    for (int i = 0; i < 6; i++) add(&n, 2, 0, 10 - i);
    rank_order(items, n);
    int m = rank_diversify(items, n, 6, 0, page);
    cr_assert_eq(m, 6);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
    cr_assert_eq(max_per_author(m), 3, "two authors for six slots: three each");
}

Test(diversity, the_page_does_not_start_with_the_last_author_shown)
{
    int n = 0;
    add(&n, 5, 0, 100);
    add(&n, 6, 0, 50);
    add(&n, 7, 0, 10);
    rank_order(items, n);
    int m = rank_diversify(items, n, 3, 5, page);
    cr_assert_eq(m, 3);
    cr_assert_neq(items[page[0]].author, 5);
    cr_assert_eq(adjacent_repeats(m, 5), 0);
}

Test(diversity, a_page_of_one_skips_the_last_author_shown)
{
    int n = 0;
    add(&n, 5, 0, 100);
    add(&n, 5, 0, 90);
    add(&n, 6, 0, 10);
    rank_order(items, n);
    int m = rank_diversify(items, n, 1, 5, page);
    cr_assert_eq(m, 1);
    cr_assert_eq(items[page[0]].author, 6);
    /* With nobody else left, the page is still filled. */
    m = rank_diversify(items, 2, 1, 5, page);
    cr_assert_eq(m, 1);
    cr_assert_eq(items[page[0]].author, 5);
}

Test(diversity, a_page_of_two_holds_two_authors_when_others_exist)
{
    int n = 0;
    add(&n, 5, 0, 100);
    add(&n, 5, 0, 90);
    add(&n, 6, 0, 10);
    add(&n, 7, 0, 5);
    rank_order(items, n);
    int m = rank_diversify(items, n, 2, 0, page);
    cr_assert_eq(m, 2);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
    cr_assert_eq(items[page[0]].author, 5, "the best item still leads");
    /* The author shown last may come back only in the second slot. */
    m = rank_diversify(items, n, 2, 5, page);
    cr_assert_eq(m, 2);
    cr_assert_eq(adjacent_repeats(m, 5), 0);
    /* Pages of any size, each following the last: no author twice in a row across them. */
    for (int k = 1; k <= 3; k++) {
        int64_t prev = 0;
        int left = n;
        rank_item pool[MAXN];
        memcpy(pool, items, sizeof pool[0] * (size_t)n);
        while (left > 0) {
            memcpy(items, pool, sizeof pool[0] * (size_t)left);
            int got = rank_diversify(items, left, k, prev, page);
            cr_assert_gt(got, 0);
            int distinct_left = 0;
            for (int i = 0; i < left; i++) {
                bool seen = false;
                for (int j = 0; j < i; j++) seen |= pool[j].author == pool[i].author;
                distinct_left += !seen;
            }
            if (distinct_left > 1 && left > got) cr_assert_eq(adjacent_repeats(got, prev), 0, "k %d", k);
            prev = items[page[got - 1]].author;
            /* Take the page's items out of the pool, keeping rank order. */
            int w = 0;
            for (int i = 0; i < left; i++) {
                bool shown = false;
                for (int j = 0; j < got; j++) shown |= page[j] == i;
                if (!shown) pool[w++] = pool[i];
            }
            left = w;
        }
    }
}

Test(diversity, sunk_items_come_last)
{
    int n = 0;
    add(&n, 1, 0, 1000);
    items[0].sunk = true;
    add(&n, 2, 0, 1);
    add(&n, 3, 0, 2);
    rank_order(items, n);
    cr_assert_eq(items[0].author, 3);
    cr_assert_eq(items[1].author, 2);
    cr_assert_eq(items[2].author, 1);
    cr_assert(items[2].sunk);
}

Test(diversity, large_pages_stay_valid)
{
    int n = 0;
    /* 67 authors, every seventh item a remix of post 77: a valid page of 100 exists. */
    for (int i = 0; i < MAXN; i++) add(&n, 1 + i % 67, i % 7 ? 0 : 77, (double)(MAXN - i));
    rank_order(items, n);
    int m = rank_diversify(items, n, 100, 0, page);
    cr_assert_eq(m, 100);
    assert_distinct(m);
    cr_assert_eq(adjacent_repeats(m, 0), 0);
    cr_assert_leq(max_per_root(m), RANK_PAGE_MAX_PER_ROOT);
    cr_assert_leq(max_per_author(m), RANK_PAGE_MAX_PER_AUTHOR);
}
