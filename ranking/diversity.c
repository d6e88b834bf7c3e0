/* ranking/diversity.c: the page re-rank of diversity.h, in two steps. Choosing: take items
 * in rank order while their author and remix root are under the caps (an author's cap also
 * no more than the page can hold without two neighbours alike); if that leaves slots
 * empty, fill them one at a time with the item that breaks the caps least. Arranging: place
 * the chosen items best first, but only where what remains can still be laid out with no two
 * neighbours sharing an author (the multiset rule: no author may hold more than half of the
 * slots left), so adjacency gives way only when the chosen set makes it unavoidable. */
#include "ranking/diversity.h"

#include "core/mem.h"

#include <stdlib.h>

static int by_rank(const void *pa, const void *pb)
{
    const rank_item *a = pa, *b = pb;
    if (a->sunk != b->sunk) return a->sunk ? 1 : -1;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->id == b->id ? 0 : a->id > b->id ? -1 : 1;
}

void rank_order(rank_item *items, int n)
{
    if (n > 1) qsort(items, (size_t)n, sizeof *items, by_rank);
}

/* How many of the first `n` chosen items have this key (author or root). */
static int count_of(const int64_t *keys, int n, int64_t key)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += keys[i] == key;
    return c;
}

static int over(int count, int cap)
{
    return count + 1 > cap ? count + 1 - cap : 0;
}

/* How many of k slots one author may hold: the page cap, and no more than a layout with no
 * two neighbours alike can take (half the slots, rounded up; rounded down for the author
 * shown just before the page, who may not take its first slot). */
static int author_cap(int64_t author, int64_t prev_author, int k)
{
    int fits = author == prev_author ? k / 2 : (k + 1) / 2;
    return fits < RANK_PAGE_MAX_PER_AUTHOR ? fits : RANK_PAGE_MAX_PER_AUTHOR;
}

/* Step 1: the indexes of the chosen items, in rank order; returns how many. */
static int choose(const rank_item *items, int n, int k, int64_t prev_author, int *chosen)
{
    bool *taken = xcalloc((size_t)n, sizeof *taken);
    int64_t *authors = xcalloc((size_t)k, sizeof *authors), *roots = xcalloc((size_t)k, sizeof *roots);
    int m = 0;
    for (int i = 0; i < n && m < k; i++) {
        if (count_of(authors, m, items[i].author) >= author_cap(items[i].author, prev_author, k) ||
            count_of(roots, m, items[i].root) >= RANK_PAGE_MAX_PER_ROOT)
            continue;
        taken[i] = true;
        authors[m] = items[i].author;
        roots[m] = items[i].root;
        chosen[m++] = i;
    }
    while (m < k) {
        int best = -1, best_excess = 0;
        for (int i = 0; i < n; i++) {
            if (taken[i]) continue;
            int excess = over(count_of(authors, m, items[i].author), author_cap(items[i].author, prev_author, k)) +
                         over(count_of(roots, m, items[i].root), RANK_PAGE_MAX_PER_ROOT);
            if (best < 0 || excess < best_excess) {
                best = i;
                best_excess = excess;
            }
        }
        if (best < 0) break;
        taken[best] = true;
        authors[m] = items[best].author;
        roots[m] = items[best].root;
        chosen[m++] = best;
    }
    /* Back into rank order: the fill may have taken items from anywhere. */
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && chosen[j - 1] > chosen[j]; j--) {
            int t = chosen[j];
            chosen[j] = chosen[j - 1];
            chosen[j - 1] = t;
        }
    free(taken);
    free(authors);
    free(roots);
    return m;
}

/* Whether `left` items whose authors have counts[0..na) can follow an item by author
 * `first` with no two neighbours alike: nobody holds more than half the slots, rounded up,
 * and `first`'s author, who may not take the next slot, not more than half rounded down. */
static bool arrangeable(const int *counts, int na, int left, int first)
{
    for (int a = 0; a < na; a++) {
        int cap = a == first ? left / 2 : (left + 1) / 2;
        if (counts[a] > cap) return false;
    }
    return true;
}

int rank_diversify(const rank_item *items, int n, int k, int64_t prev_author, int *out)
{
    if (n <= 0 || k <= 0) return 0;
    if (k > n) k = n;
    int *chosen = xcalloc((size_t)k, sizeof *chosen);
    int m = choose(items, n, k, prev_author, chosen);

    /* Authors of the chosen items as small indexes, with how many of each are unplaced. */
    int64_t *ids = xcalloc((size_t)m, sizeof *ids);
    int *author = xcalloc((size_t)m, sizeof *author), *counts = xcalloc((size_t)m, sizeof *counts);
    bool *placed = xcalloc((size_t)m, sizeof *placed);
    int na = 0;
    for (int i = 0; i < m; i++) {
        int a = 0;
        while (a < na && ids[a] != items[chosen[i]].author) a++;
        if (a == na) ids[na++] = items[chosen[i]].author;
        author[i] = a;
        counts[a]++;
    }
    int prev = -1;
    for (int a = 0; a < na; a++)
        if (prev_author != 0 && ids[a] == prev_author) prev = a;

    for (int slot = 0; slot < m; slot++) {
        int pick = -1, fallback = -1, any = -1;
        for (int i = 0; i < m && pick < 0; i++) {
            if (placed[i]) continue;
            if (any < 0) any = i;
            if (author[i] == prev) continue;
            /* When no order avoids a repeat any more, spread the most frequent author. */
            if (fallback < 0 || counts[author[i]] > counts[author[fallback]]) fallback = i;
            counts[author[i]]--;
            if (arrangeable(counts, na, m - slot - 1, author[i])) pick = i;
            counts[author[i]]++;
        }
        if (pick < 0) pick = fallback >= 0 ? fallback : any;
        placed[pick] = true;
        counts[author[pick]]--;
        prev = author[pick];
        out[slot] = chosen[pick];
    }
    free(chosen);
    free(ids);
    free(author);
    free(counts);
    free(placed);
    return m;
}
