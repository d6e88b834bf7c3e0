/* ranking/store.h: what ranking keeps in Redis, shared by the rank role (which writes the
 * signals and the trending list) and the feeds (which read them and keep scroll snapshots):
 * key names, with hash tags so every key lives in one Redis Cluster slot, and the encoding
 * of values. Everything here can be rebuilt from PostgreSQL. Pure: no connection. */
#ifndef FLICK_RANKING_STORE_H
#define FLICK_RANKING_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "ranking/score.h"

/* The global ranking (sorted set: post id → score), rebuilt by the rank role every
 * RANK_TRENDING_EVERY_MS through RANK_KEY_TRENDING_NEXT and RENAME (same slot). */
#define RANK_KEY_TRENDING "rank:{trending}"
#define RANK_KEY_TRENDING_NEXT "rank:{trending}:next"
/* Posts with recent events (sorted set: post id → Unix time of the last one). */
#define RANK_KEY_ACTIVE "rank:{trending}:active"
/* Present while the signals in Redis reflect the event log (hash: built_at); missing
 * after a flush, which makes the rank role replay the log. */
#define RANK_KEY_META "rank:{meta}"
/* How many trending ids a feed reads as candidates. */
#define RANK_TRENDING_READ 300
/* How long a scroll's snapshot lives after its last page. */
#define RANK_SNAPSHOT_TTL_S 3600
/* Posts one scroll may show; its last page comes once they are shown. */
#define RANK_SNAPSHOT_MAX_IDS 1000

/* "rank:{post:<id>}": a hash of the post's counters (see RANK_SIGNAL_FIELDS). */
void rank_post_key(int64_t post_id, char *out, size_t len);
/* "rank:{feed:<viewer>}:<snap>": one scroll's snapshot. */
void rank_snapshot_key(int64_t viewer, const char *snap, char *out, size_t len);

/* The fields a feed reads with HMGET, in this order. */
#define RANK_SIGNAL_NFIELDS 5
extern const char *const rank_signal_fields[RANK_SIGNAL_NFIELDS];
/* Sets s->completes, skips, not_interested and velocity (decayed to `now`, Unix seconds)
 * from an HMGET reply of rank_signal_fields; a NULL, error or odd reply leaves them 0. */
void rank_signals_from_reply(const redisReply *reply, double now, rank_signals *s);

/* A scroll snapshot: the author of the last item shown and every post id shown so far, as
 * "<author>;<id>,<id>,...". Format returns a new string (caller frees); parse fills *ids
 * (new array, caller frees; NULL when empty) and returns how many, or -1 when malformed. */
char *rank_snapshot_format(int64_t last_author, const int64_t *ids, int n);
int rank_snapshot_parse(const char *text, size_t len, int64_t *last_author, int64_t **ids);

#endif
