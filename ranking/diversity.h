/* ranking/diversity.h: turning scored candidates into one page: best first, then arranged
 * so that within the page no author fills more than RANK_PAGE_MAX_PER_AUTHOR slots, no
 * remix root more than RANK_PAGE_MAX_PER_ROOT, and no two adjacent slots (nor the first
 * slot and the last one of the page before) share an author, each rule giving way only when
 * the candidates leave no other choice. Pure. Not for scoring (score.h). */
#ifndef FLICK_RANKING_DIVERSITY_H
#define FLICK_RANKING_DIVERSITY_H

#include <stdbool.h>
#include <stdint.h>

#define RANK_PAGE_MAX_PER_AUTHOR 2
#define RANK_PAGE_MAX_PER_ROOT 2

typedef struct rank_item {
    int64_t id;
    int64_t author;
    int64_t root;               /* remix root; an original post is its own root */
    double score;               /* rank_score() */
    bool sunk;                  /* completed by the viewer: goes after every item that is not */
    int ref;                    /* the caller's own index, carried along */
} rank_item;

/* Sorts items best first: not sunk before sunk, then higher score, then newer (higher) id,
 * so equal inputs always give the same order. */
void rank_order(rank_item *items, int n);

/* Chooses up to k of items[0..n) (in rank_order) for one page and writes their indexes in
 * page order to out (room for k). prev_author is the author shown just before this page
 * (0: none). Returns how many were written: min(k, n). Works in O(n·k + k³) time and
 * allocates; k is a page size (at most a few hundred). */
int rank_diversify(const rank_item *items, int n, int k, int64_t prev_author, int *out);

#endif
