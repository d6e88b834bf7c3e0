/* feed/posts.h: the `post` object as stored so far and its JSON. Builds no queries that
 * run by themselves; callers select FEED_POST_COLS over `posts p JOIN users u`. */
#ifndef FLICK_FEED_POSTS_H
#define FLICK_FEED_POSTS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "feed/users.h"

/* Columns for one post row: the post's own, then its author as FEED_USER_COLS, then the
 * sort key (published time with microseconds) at FEED_POST_SORT_COL. */
#define FEED_POST_COLS \
    "p.id::text, p.status, p.visibility, p.restricted, p.caption, " \
    "to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
    "to_char(p.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
    FEED_USER_COLS ", " \
    "to_char(p.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define FEED_POST_SORT_COL (7 + FEED_USER_NCOLS)

/* A new `post` object from row `row` of a FEED_POST_COLS result. Caller owns it. */
json_t *feed_post_row_json(const PGresult *res, int row);

#endif
