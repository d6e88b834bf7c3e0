/* api/engagement.c: likes, the engagement events clients report, and the remix graph as
 * clients browse it (a post's remixes and its lineage) — API.md "Posts, drafts, remixes" and
 * "Engagement and feeds". Visibility is post_visible()'s (lists: post_listed(), which shows
 * followers-only posts to followers only; a post whose remixes or lineage are asked for:
 * post_openable(), like its page); a post the caller may not see is 404. Counters in
 * posts.* change in the transaction that changes what they count. Not for ranking: the rank
 * role reads the events stored here. */
#include "api/handlers.h"
#include "api/posts.h"
#include "api/server.h"
#include "core/cursor.h"
#include "core/db.h"
#include "feed/engagement.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest remix chain GET /v1/posts/{id}/lineage follows. */
#define LINEAGE_MAX 1000

/* The {id} of the route as an id string, or 404 (answered here) and NULL. */
static const char *post_id_param(api_req *r)
{
    int64_t id;
    if (feed_id_parse(r->params[0], &id) != 0) {
        api_reply_error(r, 404, "not_found", "no such post");
        return NULL;
    }
    return r->params[0];
}

/* 204 when statement 0 found the post, 404 when it did not, 503 when the query failed. */
static void done_if_found(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (api_db_row(r, rep, 0, "no such post")) api_reply_empty(r, 204);
}

/* ---- likes ---- */

/* A like is a row of `likes`; likes_count moves only with a row actually inserted or
 * deleted, so parallel requests count once. The author hears of the first like by each
 * person only (the notification's unique key), and never of their own. */
static void like_change(api_req *r, bool like)
{
    const char *id = post_id_param(r);
    if (!id) return;
    const char *params[] = { id, api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    db_exec(r->thread->db, like
        ? "WITH t AS (SELECT p.id, p.author_id FROM posts p WHERE p.id = $1::bigint "
          "           AND post_visible(p, $2::bigint, $3::boolean, $4)), "
          "ins AS (INSERT INTO likes (user_id, post_id) SELECT $2::bigint, id FROM t "
          "        ON CONFLICT DO NOTHING RETURNING post_id), "
          "counted AS (UPDATE posts SET likes_count = likes_count + 1 WHERE id IN (SELECT post_id FROM ins)), "
          "told AS (INSERT INTO notifications (user_id, type, actor_id, post_id) "
          "         SELECT t.author_id, 'liked', $2::bigint, t.id FROM t JOIN ins ON ins.post_id = t.id "
          "         WHERE t.author_id <> $2::bigint ON CONFLICT DO NOTHING) "
          "SELECT id FROM t"
        : "WITH t AS (SELECT p.id FROM posts p WHERE p.id = $1::bigint "
          "           AND post_visible(p, $2::bigint, $3::boolean, $4)), "
          "del AS (DELETE FROM likes WHERE user_id = $2::bigint AND post_id IN (SELECT id FROM t) RETURNING post_id), "
          "counted AS (UPDATE posts SET likes_count = likes_count - 1 WHERE id IN (SELECT post_id FROM del)) "
          "SELECT id FROM t",
        4, params, done_if_found, r);
}

void api_post_like(api_req *r) { like_change(r, true); }
void api_post_unlike(api_req *r) { like_change(r, false); }

/* ---- events ---- */

static void events_stored(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    api_reply_json(r, 202, json_pack("{s:i}", "accepted", *(int *)r->state));
}

/* One statement stores the batch: events on posts the caller cannot see (or that do not
 * exist) are left out; the rest go to the log with their post's author; `view`, `complete`
 * and `share` add the caller to post_reach once per post and kind (a complete counts as a
 * view), and exactly what was added there is added to views_count / shares_count. Counter
 * rows are updated in post id order so that concurrent batches cannot deadlock. */
void api_events_post(api_req *r)
{
    feed_event_batch batch;
    char err[160];
    if (feed_events_parse(json_object_get(r->body, "events"), &batch, err, sizeof err) != 0) {
        api_reply_error(r, 400, "invalid_request", "%s", err);
        return;
    }
    int *accepted = arena_alloc(r->arena, sizeof *accepted);
    *accepted = batch.count;
    r->state = accepted;
    const char *params[] = { api_viewer_id(r), batch.post_ids, batch.types, batch.watch_ms, batch.at_us,
                             r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    db_exec(r->thread->db,
        "WITH e AS (SELECT * FROM unnest($2::bigint[], $3::text[], $4::int[], $5::bigint[]) "
        "           AS e(post_id, type, watch_ms, at_us)), "
        "kept AS (SELECT e.*, p.author_id FROM e JOIN posts p ON p.id = e.post_id "
        "         WHERE post_visible(p, $1::bigint, $6::boolean, $7)), "
        "logged AS (INSERT INTO events (user_id, post_id, author_id, type, watch_ms, at) "
        "           SELECT $1::bigint, post_id, author_id, type, watch_ms, "
        "                  LEAST(COALESCE('epoch'::timestamptz + at_us * interval '1 microsecond', now()), now()) "
        "           FROM kept), "
        "reach AS (INSERT INTO post_reach (post_id, kind, user_id) "
        "          SELECT DISTINCT post_id, CASE type WHEN 'share' THEN 'share' ELSE 'view' END, $1::bigint "
        "          FROM kept WHERE type IN ('view', 'complete', 'share') ORDER BY 1, 2 "
        "          ON CONFLICT DO NOTHING RETURNING post_id, kind), "
        "counted AS (UPDATE posts p SET views_count = p.views_count + c.views, "
        "                               shares_count = p.shares_count + c.shares "
        "            FROM (SELECT post_id, count(*) FILTER (WHERE kind = 'view') AS views, "
        "                          count(*) FILTER (WHERE kind = 'share') AS shares "
        "                  FROM reach GROUP BY post_id ORDER BY post_id) c "
        "            WHERE p.id = c.post_id) "
        "SELECT count(*) FROM kept",
        7, params, events_stored, r);
    feed_event_batch_clear(&batch);     /* db_exec copied the parameters */
}

/* ---- remixes and lineage ---- */

static void remixes_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (!api_db_row(r, rep, 0, "no such post")) return;
    api_reply_post_page(r, rep, 1);
}

/* Direct remixes, most engaging first (post_engagement_score(), migrations/0009), then
 * newest, then id; the cursor holds "<score>|<published_at>|<id>" of the last one shown. */
void api_post_remixes(api_req *r)
{
    const char *id = post_id_param(r);
    if (!id) return;
    int *limit = arena_alloc(r->arena, sizeof *limit);
    char *cursor = arena_alloc(r->arena, CURSOR_MAX_PAYLOAD + 1);
    if (api_page_limit(r, limit) || api_page_cursor(r, cursor) < 0) return;
    r->state = limit;
    const char *score = NULL, *ts = NULL, *after = NULL;
    if (cursor[0]) {
        char *a = strchr(cursor, '|'), *b = a ? strchr(a + 1, '|') : NULL;
        if (b) *a = *b = '\0';
        int64_t n;
        if (!b || feed_id_parse(cursor, &n) != 0 || feed_id_parse(b + 1, &n) != 0) {
            api_reply_error(r, 400, "invalid_request", "cursor is not valid");
            return;
        }
        score = cursor;
        ts = a + 1;
        after = b + 1;
    }
    db_query *q = db_query_new();
    const char *p0[] = { id, api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    db_query_add(q, "SELECT 1 FROM posts p WHERE p.id = $1::bigint AND post_openable(p, $2::bigint, $3::boolean, $4)",
                 4, p0);
    const char *p1[] = { id, api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r),
                         score, ts, after, arena_printf(r->arena, "%d", *limit + 1) };
    db_query_add(q,
        "SELECT post_json_for(c, $2::bigint)::text, post_engagement_score(c) || '|' || "
        "       " API_KEYSET("c.published_at", "c.id") " "
        "FROM posts c WHERE c.remix_of = $1::bigint AND c.status = 'published' "
        "AND post_listed(c, $2::bigint, $3::boolean, $4) "
        "AND ($5::bigint IS NULL OR (post_engagement_score(c), c.published_at, c.id) "
        "                           < ($5::bigint, $6::timestamptz, $7::bigint)) "
        "ORDER BY post_engagement_score(c) DESC, c.published_at DESC, c.id DESC LIMIT $8::int", 8, p1);
    db_run(r->thread->db, q, remixes_loaded, r);
}

static void lineage_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (!api_db_row(r, rep, 0, "no such post")) return;
    const PGresult *res = rep->results[1];
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(items, api_post_object(r, PQgetvalue(res, i, 0)));
    api_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

/* The chain above a post, root first: remix_of followed upwards (through ancestors the
 * caller may not see, which are left out of the answer). A chain is at most
 * LINEAGE_MAX long, a bound that also stops a cycle no code path makes. */
void api_post_lineage(api_req *r)
{
    const char *id = post_id_param(r);
    if (!id) return;
    db_query *q = db_query_new();
    const char *p[] = { id, api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r),
                        arena_printf(r->arena, "%d", LINEAGE_MAX) };
    db_query_add(q, "SELECT 1 FROM posts p WHERE p.id = $1::bigint AND post_openable(p, $2::bigint, $3::boolean, $4)",
                 4, p);
    db_query_add(q,
        "WITH RECURSIVE chain (id, depth) AS ("
        "    SELECT remix_of, 1 FROM posts WHERE id = $1::bigint AND remix_of IS NOT NULL "
        "    UNION ALL "
        "    SELECT p.remix_of, c.depth + 1 FROM chain c JOIN posts p ON p.id = c.id "
        "    WHERE p.remix_of IS NOT NULL AND c.depth < $5::int) "
        "SELECT post_json_for(p, $2::bigint)::text FROM chain c JOIN posts p ON p.id = c.id "
        "WHERE post_listed(p, $2::bigint, $3::boolean, $4) ORDER BY c.depth DESC", 5, p);
    db_run(r->thread->db, q, lineage_loaded, r);
}
