/* feed/drafts.h: a finished generation becoming its creator's draft post: the post row (with
 * its place in the remix graph), the cameo edges, and a `cameo_used` notification to each
 * cast person other than the creator.
 *
 * Blocking libpq on a connection the caller owns and has opened a transaction on (the
 * generation worker, which commits the draft together with its media and the job's end).
 * Not for event loops. */
#ifndef FLICK_FEED_DRAFTS_H
#define FLICK_FEED_DRAFTS_H

#include <libpq-fe.h>
#include <stddef.h>

#define FEED_DRAFT_MAX_CAMEOS 8

/* What the draft is made of; pointers borrowed for the call. */
typedef struct feed_draft {
    long long author_id;        /* the generation's user */
    long long generation_id;    /* posts.generation_id is unique: one draft per generation */
    const char *prompt;
    const char *model;          /* "standard" | "pro" */
    int seconds;
    const char *aspect;
    long long remix_of;         /* the parent post, 0 for an original; a parent that no longer
                                   exists makes an original */
    long long cameo_ids[FEED_DRAFT_MAX_CAMEOS]; /* users cast, in order; 0 entries unused */
} feed_draft;

/* Inserts the draft and its edges and notifications inside the caller's transaction on conn.
 * Returns 0 with *post_id; 1 when the generation already has a post (*post_id is that post,
 * nothing else is written); -1 with the server's message in err (the transaction is then
 * aborted and must be rolled back). */
int feed_draft_create(PGconn *conn, const feed_draft *d, long long *post_id,
                      char *err, size_t errlen);

#endif
