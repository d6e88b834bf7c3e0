/* ranking/role.h: the `rank` role: one thread that folds the `events` log, in id order, into
 * per-post counters in Redis, and recomputes the global (trending) ranking every
 * RANK_TRENDING_EVERY_MS. Its progress is the `rank` row of event_offsets, read and moved
 * under a row lock, so several processes may run the role without folding an event twice;
 * when Redis has lost its keys (RANK_KEY_META missing) the log is replayed from the start.
 * It also keeps the log's partitions made ahead of time (RANK_PARTITIONS_*).
 * Blocking libpq and hiredis on its own thread; nothing here runs on an event loop. */
#ifndef FLICK_RANKING_ROLE_H
#define FLICK_RANKING_ROLE_H

#include <stddef.h>

#include "core/config.h"

/* Events folded per transaction, and the pause when the log is caught up. */
#define RANK_BATCH_EVENTS 5000
#define RANK_POLL_MS 250
/* Events younger than this wait for the next batch (see BATCH_SQL in role.c). */
#define RANK_COMMIT_MARGIN_MS 1000
#define RANK_TRENDING_EVERY_MS 2000
/* Posts with an event in this window compete for trending; the best RANK_TRENDING_KEEP
 * of at most RANK_TRENDING_POOL of them are kept. */
#define RANK_ACTIVE_WINDOW_S (72 * 3600)
#define RANK_TRENDING_POOL 2000
#define RANK_TRENDING_KEEP 500
/* A post's counters expire after this long without an event. */
#define RANK_SIGNAL_TTL_S (30 * 24 * 3600)
/* The log's monthly partitions (migrations/0013) are made this many months ahead, once
 * PostgreSQL is reachable after the start and then every RANK_PARTITIONS_EVERY_MS
 * (RANK_PARTITIONS_RETRY_MS after a failure), so inserts find their month's partition
 * rather than the default one. */
#define RANK_PARTITIONS_AHEAD 2
#define RANK_PARTITIONS_EVERY_MS (3600 * 1000)
#define RANK_PARTITIONS_RETRY_MS (60 * 1000)

typedef struct rank_role rank_role;

/* Starts the thread (cfg is copied). It blocks SIGINT and SIGTERM, so those reach the
 * caller's thread. Returns NULL with err when FLICK_REDIS_URL is not a redis:// URL. */
rank_role *rank_role_start(const core_config *cfg, char *err, size_t errlen);
/* Stops the thread after its current step and frees everything. NULL: no-op. */
void rank_role_stop(rank_role *r);
/* `flickd rank`: starts the role, waits for SIGINT or SIGTERM, stops it. Returns an exit code. */
int rank_role_run(const core_config *cfg);

#endif
