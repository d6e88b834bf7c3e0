/* api/feed.c: the feeds and feed preferences (API.md "Engagement and feeds").
 *
 * For You and trending, per page: the scroll's snapshot and the trending ids from Redis (one
 * pipeline) → the candidates from PostgreSQL (one query: followed authors, trending, remixes
 * of posts I liked, posts featuring me or people I follow, my `more` terms, explore) with
 * every visibility rule applied there → their counters from Redis (one pipeline) → scores
 * (ranking/score.h) → the page (ranking/diversity.h) → the posts' JSON, while the snapshot
 * (every id shown in this scroll) is written back. Each page is ranked afresh, so events and
 * preferences count from the next page on, and the snapshot keeps a scroll free of repeats.
 * Without Redis the same query pages through the newest candidates with a keyset cursor,
 * each page ordered by score from PostgreSQL's durable totals. Fetching a feed is not a view. */
#include "api/handlers.h"
#include "api/posts.h"
#include "api/server.h"
#include "core/cursor.h"
#include "feed/policy.h"
#include "ranking/diversity.h"
#include "ranking/score.h"
#include "ranking/store.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

/* Bits of a candidate's provenance, for its `reason`. */
enum { FROM_FOLLOWED = 1, FROM_FEATURES = 2, FROM_REMIX_LIKED = 4, FROM_TRENDING = 8 };

typedef struct candidate {
    rank_signals sig;
    int64_t author;
    int64_t root;
    int from;                   /* FROM_* */
    bool completed;             /* the viewer watched it to the end */
    const char *username;       /* the author's; arena */
    const char *featured;       /* who of mine it features (me or someone I follow); arena */
    const char *more_term;      /* the `more` term it matches, or NULL (the viewer's, arena) */
    const char *published;      /* keyset position: "<time>|<id>" (arena) */
} candidate;

typedef struct feed_state {
    api_req *r;
    bool trending;              /* the global ranking, no personalisation */
    bool fallback;              /* PostgreSQL only (Redis unavailable) */
    int limit;
    char snap[17];              /* this scroll's snapshot id (hex) */
    int at;                     /* how many items of the scroll came before this page, as
                                 * the cursor says; -1 when it does not say */
    int64_t prev_author;        /* author of the item shown just before this page */
    int64_t *shown;             /* ids shown in this scroll so far (arena) */
    int nshown;
    const char *after_ts, *after_id; /* fallback keyset position, NULL on the first page */
    char *trending_ids;         /* bigint[] literal (arena) */
    int64_t *ids;               /* candidates (arena) */
    candidate *cands;
    int ncand;
    int pending;                /* Redis replies or queries still awaited */
    bool redis_failed;
    int *page;                  /* indexes into cands, in page order */
    int npage;
    bool more;                  /* a next page exists */
    json_t *items;              /* the answer, once the posts are loaded */
    bool db_failed;
} feed_state;

/* ---- SQL ---- */

/* $1 viewer, $2 minor, $3 role, $4 trending ids, $5 ids shown in this scroll, $6 trending
 * mode. What every candidate query knows about the viewer, each computed once per query
 * (MATERIALIZED: a CTE used once would otherwise be inlined into a per-row subquery).
 * `viewer` gives $2 and $3 their types: FEED_ELIGIBLE needs neither, since no restricted post
 * reaches these feeds and a moderator's wider view of single posts does not widen them. */
#define VIEWER_CTES \
    "WITH viewer AS (SELECT $2::boolean AS minor, $3::text AS role), " \
    "fol AS MATERIALIZED (SELECT followee_id AS id FROM follows WHERE follower_id = $1::bigint), " \
    "liked AS MATERIALIZED (SELECT post_id FROM likes WHERE user_id = $1::bigint ORDER BY created_at DESC LIMIT 200), " \
    "ni AS MATERIALIZED (SELECT e.author_id, COALESCE(q.remix_root, q.id) AS root FROM events e " \
    "       JOIN posts q ON q.id = e.post_id WHERE e.user_id = $1::bigint AND e.type = 'not_interested' " \
    "       AND e.at > now() - interval '30 days'), " \
    "aff AS MATERIALIZED (SELECT author_id, count(*) AS n FROM (" \
    "       (SELECT q.author_id FROM likes l JOIN posts q ON q.id = l.post_id WHERE l.user_id = $1::bigint " \
    "        ORDER BY l.created_at DESC LIMIT 300) " \
    "       UNION ALL (SELECT author_id FROM events WHERE user_id = $1::bigint AND type IN ('complete', 'share') " \
    "        ORDER BY id DESC LIMIT 300)) x GROUP BY author_id), " \
    "prefs AS (SELECT more FROM feed_preferences WHERE user_id = $1::bigint), "

/* A post `p` this viewer may get in this feed: published, never restricted (For You and
 * trending), followers-only only from authors the viewer follows (a moderator, who may open
 * any post, included), author not banned, no revoked cameo (the viewer's own included), not
 * shown in this scroll yet; trending: public posts only; For You: not mine, not by an
 * author the viewer was not interested in within 30 days. This is API.md's feed rule in
 * full, and narrower than post_visible() on every point, so it is not asked as well: that
 * would test each candidate's author, cameos and follows a second time. */
#define FEED_ELIGIBLE \
    "p.status = 'published' AND NOT p.restricted AND p.id <> ALL ($5::bigint[]) " \
    "AND (p.visibility = 'public' OR p.author_id IN (SELECT id FROM fol)) " \
    "AND NOT EXISTS (SELECT 1 FROM users b WHERE b.id = p.author_id AND b.banned) " \
    "AND NOT EXISTS (SELECT 1 FROM post_cameos rc WHERE rc.post_id = p.id AND rc.revoked) " \
    "AND CASE WHEN $6::boolean THEN p.visibility = 'public' " \
    "         ELSE p.author_id <> $1::bigint AND p.author_id NOT IN (SELECT author_id FROM ni) END "

/* One row per candidate in `c`: what scoring and the reason need (see load_candidates). The
 * ids go in as an array so that the eligibility test runs on the candidates only (by primary
 * key), never over the posts table. Whether the viewer completed a candidate is a membership
 * test in the viewer's completes, read once (hashed), not one probe of every events partition
 * per candidate. */
#define CANDIDATE_ROWS \
    "SELECT p.id, p.author_id, a.username, COALESCE(p.remix_root, p.id), " \
    "       GREATEST(0, extract(epoch FROM now() - p.published_at))::float8, p.prompt, p.caption, " \
    "       p.views_count, p.likes_count, p.remixes_count, p.shares_count, " \
    "       (SELECT count(*) FROM reports rp WHERE rp.post_id = p.id AND rp.open), " \
    "       p.author_id IN (SELECT id FROM fol), " \
    "       COALESCE((SELECT n FROM aff WHERE aff.author_id = p.author_id), 0), " \
    "       p.id IN (SELECT e.post_id FROM events e WHERE e.user_id = $1::bigint AND e.type = 'complete'), " \
    "       COALESCE(p.remix_root, p.id) IN (SELECT root FROM ni), " \
    "       (SELECT u.username FROM post_cameos pc JOIN users u ON u.id = pc.user_id WHERE pc.post_id = p.id " \
    "        AND NOT pc.revoked AND (pc.user_id = $1::bigint OR pc.user_id IN (SELECT id FROM fol)) " \
    "        ORDER BY pc.user_id = $1::bigint DESC, u.username LIMIT 1), " \
    "       p.remix_of IN (SELECT post_id FROM liked), p.id = ANY ($4::bigint[]), " \
    "       " API_KEYSET("p.published_at", "p.id") ", " \
    RANK_SQL_RECENT_LIKES("p.id") " " \
    "FROM posts p JOIN users a ON a.id = p.author_id WHERE p.id = ANY (ARRAY(SELECT id FROM c)) AND " \
    FEED_ELIGIBLE \
    "ORDER BY p.published_at DESC, p.id DESC "

/* Recently published posts not shown yet (index posts_published_recent). */
#define RECENT "SELECT p.id FROM posts p WHERE p.status = 'published' AND p.id <> ALL ($5::bigint[]) "

/* For You: every source, each bounded, at most ~500 candidates in all. The `more` terms are
 * looked for in the newest 3000 posts (a superset test: lower() and strpos; whole words and
 * full case folding are checked on the candidates in C), and only when the viewer has some:
 * an uncorrelated EXISTS is tested once, where a join with an empty `prefs` would still walk
 * every published post looking for 3000. `cam` is one row per cameo of the viewer or of
 * someone they follow (a post featuring two of them counts twice, as a join would); those
 * posts are read by primary key, not found by walking the newest posts and probing each. */
static const char FOR_YOU_SQL[] = VIEWER_CTES
    "cam AS MATERIALIZED (SELECT post_id FROM post_cameos "
    "       WHERE user_id = ANY (ARRAY(SELECT id FROM fol UNION SELECT $1::bigint))), "
    "c AS (SELECT DISTINCT id FROM ("
    "  (SELECT p.id FROM posts p JOIN fol ON fol.id = p.author_id WHERE p.status = 'published' "
    "   AND p.id <> ALL ($5::bigint[]) ORDER BY p.published_at DESC LIMIT 120) "
    "  UNION ALL (SELECT unnest($4::bigint[])) "
    "  UNION ALL (SELECT p.id FROM posts p JOIN liked l ON p.remix_of = l.post_id WHERE p.status = 'published' "
    "   AND p.id <> ALL ($5::bigint[]) ORDER BY p.published_at DESC LIMIT 40) "
    "  UNION ALL (SELECT p.id FROM cam JOIN posts p ON p.id = cam.post_id WHERE p.id = ANY (ARRAY(SELECT post_id FROM cam)) "
    "   AND p.status = 'published' AND p.id <> ALL ($5::bigint[]) ORDER BY p.published_at DESC LIMIT 40) "
    "  UNION ALL (SELECT id FROM (SELECT p.id, p.prompt, p.caption FROM posts p "
    "   WHERE EXISTS (SELECT 1 FROM prefs WHERE cardinality(prefs.more) > 0) "
    "   AND p.status = 'published' AND p.id <> ALL ($5::bigint[]) "
    "   ORDER BY p.published_at DESC LIMIT 3000) m WHERE EXISTS (SELECT 1 FROM prefs, unnest(prefs.more) t "
    "   WHERE strpos(lower(m.prompt || ' ' || m.caption), t) > 0) LIMIT 50) "
    "  UNION ALL (" RECENT "AND p.author_id <> $1::bigint ORDER BY p.published_at DESC LIMIT 80) "
    "  UNION ALL (SELECT id FROM (" RECENT "ORDER BY p.published_at DESC LIMIT 2000) o ORDER BY random() LIMIT 20)"
    ") s(id)) "
    CANDIDATE_ROWS "LIMIT 500";

/* Trending: the rank role's list and the newest public posts, ranked alike. */
static const char TRENDING_SQL[] = VIEWER_CTES
    "c AS (SELECT DISTINCT id FROM ("
    "  (SELECT unnest($4::bigint[])) "
    "  UNION ALL (" RECENT "AND p.visibility = 'public' AND NOT p.restricted "
    "   ORDER BY p.published_at DESC LIMIT 200)) s(id)) "
    CANDIDATE_ROWS "LIMIT 500";

/* Without Redis: the next $9 eligible posts, newest first, after the keyset ($7, $8). */
static const char FALLBACK_SQL[] = VIEWER_CTES
    "c AS (SELECT p.id FROM posts p WHERE " FEED_ELIGIBLE
    "      AND ($7::timestamptz IS NULL OR (p.published_at, p.id) < ($7::timestamptz, $8::bigint)) "
    "      ORDER BY p.published_at DESC, p.id DESC LIMIT $9::int) "
    CANDIDATE_ROWS;

static const char PREFS_SQL[] =
    "SELECT COALESCE(array_to_json(p.more), '[]')::text, COALESCE(array_to_json(p.less), '[]')::text "
    "FROM (SELECT 1) one LEFT JOIN feed_preferences p ON p.user_id = $1::bigint";

/* ---- small helpers ---- */

static char *id_array(arena *a, const int64_t *ids, int n)
{
    size_t cap = 3 + (size_t)n * 21, used = 1;
    char *s = arena_alloc(a, cap);
    s[0] = '{';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, cap - used, i ? ",%lld" : "%lld", (long long)ids[i]);
    snprintf(s + used, cap - used, "}");
    return s;
}

/* Whether s starts with exactly n lowercase hex digits (then ends, or goes on with a
 * character that is not one). */
static bool hex_run(const char *s, size_t n)
{
    return strspn(s, "0123456789abcdef") == n;
}

/* The terms of one list (JSON array text from PREFS_SQL) as a C array (arena). */
static int parse_terms(arena *a, const char *json_text, const char ***out)
{
    json_t *arr = json_loads(json_text, 0, NULL);
    int n = 0;
    *out = arena_alloc(a, sizeof **out * (RANK_PREF_MAX_TERMS + 1));
    for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr) && n < RANK_PREF_MAX_TERMS; i++) {
        const char *t = json_string_value(json_array_get(arr, i));
        if (t) (*out)[n++] = arena_strdup(a, t);
    }
    json_decref(arr);
    return n;
}

/* ---- answering ---- */

static json_t *reason(const feed_state *st, const candidate *c)
{
    const char *code, *text;
    arena *a = st->r->arena;
    if (st->trending) {
        code = "trending";
        text = "Trending now";
    } else if (c->from & FROM_FOLLOWED) {
        code = "followed_author";
        text = arena_printf(a, "You follow @%s", c->username);
    } else if (c->featured) {
        code = "features_you";
        text = strcmp(c->featured, st->r->viewer.username) == 0
             ? "You appear in this video"
             : arena_printf(a, "Features @%s, whom you follow", c->featured);
    } else if (c->from & FROM_REMIX_LIKED) {
        code = "remix_of_liked";
        text = "A remix of a video you liked";
    } else if (c->more_term) {
        code = "preference_match";
        text = arena_printf(a, "Matches \"%s\", which you asked to see more of", c->more_term);
    } else if (c->from & FROM_TRENDING) {
        code = "trending";
        text = "Trending now";
    } else {
        code = "explore";
        text = arena_printf(a, "Something new from @%s", c->username);
    }
    return json_pack("{s:s,s:s}", "code", code, "text", text);
}

static void reply_page(feed_state *st)
{
    api_req *r = st->r;
    if (st->db_failed) {
        json_decref(st->items);
        api_reply_unavailable(r);
        return;
    }
    const char *next = NULL;
    if (st->more) {
        if (st->fallback) {
            const candidate *last = &st->cands[st->limit - 1];
            next = arena_printf(r->arena, "k.%s|%lld", last->published, (long long)st->cands[st->page[st->npage - 1]].author);
        } else {
            next = arena_printf(r->arena, "s.%s.%d.%lld", st->snap, st->nshown + st->npage,
                                (long long)st->cands[st->page[st->npage - 1]].author);
        }
    }
    api_reply_list(r, st->items, next);
}

static void step_done(feed_state *st)
{
    if (--st->pending == 0) reply_page(st);
}

static void posts_loaded(void *arg, const db_reply *rep)
{
    feed_state *st = arg;
    api_req *r = st->r;
    if (rep->status != DB_OK) {
        st->db_failed = true;
    } else {
        const PGresult *res = rep->results[0];
        for (int i = 0; i < PQntuples(res); i++) {
            int k = atoi(PQgetvalue(res, i, 1));
            json_t *post = api_post_object(r, PQgetvalue(res, i, 0));
            if (json_is_object(post) && k >= 0 && k < st->npage)
                json_object_set_new(post, "reason", reason(st, &st->cands[st->page[k]]));
            json_array_append_new(st->items, post);
        }
    }
    step_done(st);
}

static void snapshot_saved(void *arg, const redisReply *reply)
{
    (void)reply;    /* lost: the next page starts a fresh snapshot under the same id */
    step_done(arg);
}

/* Loads the page's posts (post_json_for: the viewer's like; signed media) and, with Redis,
 * writes the snapshot meanwhile. */
static void load_page(feed_state *st)
{
    api_req *r = st->r;
    st->items = json_array();
    int64_t *ids = arena_alloc(r->arena, sizeof *ids * (size_t)(st->npage + 1));
    for (int i = 0; i < st->npage; i++) ids[i] = st->ids[st->page[i]];
    st->pending = 1;
    if (!st->fallback) {
        int64_t *all = xmalloc(sizeof *all * (size_t)(st->nshown + st->npage + 1));
        if (st->nshown) memcpy(all, st->shown, sizeof *all * (size_t)st->nshown);
        if (st->npage) memcpy(all + st->nshown, ids, sizeof *all * (size_t)st->npage);
        int64_t last = st->npage ? st->cands[st->page[st->npage - 1]].author : st->prev_author;
        char *value = rank_snapshot_format(last, all, st->nshown + st->npage);
        free(all);
        char key[96], ttl[16];
        rank_snapshot_key(r->viewer.id, st->snap, key, sizeof key);
        snprintf(ttl, sizeof ttl, "%d", RANK_SNAPSHOT_TTL_S);
        const char *argv[] = { "SET", key, value, "EX", ttl };
        st->pending++;
        kv_command(r->thread->kv, snapshot_saved, st, 5, argv, NULL);
        free(value);
    }
    const char *params[] = { api_viewer_id(r), id_array(r->arena, ids, st->npage) };
    db_exec(r->thread->db,
            "SELECT post_json_for(p, $1::bigint)::text, u.n - 1 FROM unnest($2::bigint[]) WITH ORDINALITY u(id, n) "
            "JOIN posts p ON p.id = u.id ORDER BY u.n", 2, params, posts_loaded, st);
}

/* ---- ranking ---- */

static void rank_page(feed_state *st)
{
    api_req *r = st->r;
    int n = st->ncand;
    rank_item *items = arena_alloc(r->arena, sizeof *items * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        candidate *c = &st->cands[i];
        items[i] = (rank_item){ .id = st->ids[i], .author = c->author, .root = c->root,
                                .score = rank_score(&c->sig), .sunk = c->completed, .ref = i };
    }
    /* Without Redis a page is one keyset window, shown whole: ranking only reorders it. */
    int window = st->fallback ? (n < st->limit ? n : st->limit) : n;
    int k = st->fallback ? window : st->limit;
    if (!st->fallback && st->nshown + k > RANK_SNAPSHOT_MAX_IDS) k = RANK_SNAPSHOT_MAX_IDS - st->nshown;
    rank_order(items, window);
    int *out = arena_alloc(r->arena, sizeof *out * (size_t)(k + 1));
    st->npage = rank_diversify(items, window, k, st->prev_author, out);
    st->page = arena_alloc(r->arena, sizeof *st->page * (size_t)(st->npage + 1));
    for (int i = 0; i < st->npage; i++) st->page[i] = items[out[i]].ref;
    st->more = st->fallback ? n > st->limit
                            : n > st->npage && st->nshown + st->npage < RANK_SNAPSHOT_MAX_IDS;
    load_page(st);
}

typedef struct signal_ref {
    feed_state *st;
    int index;
} signal_ref;

static void signals_loaded(void *arg, const redisReply *reply)
{
    signal_ref *ref = arg;
    feed_state *st = ref->st;
    if (!reply) st->redis_failed = true;
    else rank_signals_from_reply(reply, (double)time(NULL), &st->cands[ref->index].sig);
    if (--st->pending == 0) rank_page(st);
}

/* The candidates' counters, one pipeline of HMGETs (a failed one leaves zeros). */
static void hydrate(feed_state *st)
{
    api_req *r = st->r;
    if (st->fallback || st->ncand == 0) {
        rank_page(st);
        return;
    }
    st->pending = st->ncand;
    for (int i = 0; i < st->ncand; i++) {
        char key[64];
        rank_post_key(st->ids[i], key, sizeof key);
        const char *argv[2 + RANK_SIGNAL_NFIELDS] = { "HMGET", key };
        for (int f = 0; f < RANK_SIGNAL_NFIELDS; f++) argv[2 + f] = rank_signal_fields[f];
        signal_ref *ref = arena_alloc(r->arena, sizeof *ref);
        *ref = (signal_ref){ st, i };
        kv_command(r->thread->kv, signals_loaded, ref, 2 + RANK_SIGNAL_NFIELDS, argv, NULL);
    }
}

static void candidates_loaded(void *arg, const db_reply *rep)
{
    feed_state *st = arg;
    api_req *r = st->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const char **more = NULL, **less = NULL;
    int nmore = 0, nless = 0;
    const PGresult *prefs = rep->results[0], *res = rep->results[1];
    if (!st->trending && PQntuples(prefs) == 1) {
        nmore = parse_terms(r->arena, PQgetvalue(prefs, 0, 0), &more);
        nless = parse_terms(r->arena, PQgetvalue(prefs, 0, 1), &less);
    }
    int n = PQntuples(res);
    st->ncand = n;
    st->ids = arena_alloc(r->arena, sizeof *st->ids * (size_t)(n + 1));
    st->cands = arena_alloc(r->arena, sizeof *st->cands * (size_t)(n + 1));
    for (int i = 0; i < n; i++) {
        candidate *c = &st->cands[i];
        memset(c, 0, sizeof *c);
        st->ids[i] = atoll(PQgetvalue(res, i, 0));
        c->author = atoll(PQgetvalue(res, i, 1));
        c->username = arena_strdup(r->arena, PQgetvalue(res, i, 2));
        c->root = atoll(PQgetvalue(res, i, 3));
        c->sig.age_s = atof(PQgetvalue(res, i, 4));
        c->sig.views = atof(PQgetvalue(res, i, 7));
        c->sig.likes = atof(PQgetvalue(res, i, 8));
        c->sig.remixes = atof(PQgetvalue(res, i, 9));
        c->sig.shares = atof(PQgetvalue(res, i, 10));
        c->sig.open_reports = atoi(PQgetvalue(res, i, 11));
        c->from |= PQgetvalue(res, i, 17)[0] == 't' ? FROM_REMIX_LIKED : 0;
        c->from |= PQgetvalue(res, i, 18)[0] == 't' ? FROM_TRENDING : 0;
        c->published = arena_strdup(r->arena, PQgetvalue(res, i, 19));
        c->sig.recent_likes = atof(PQgetvalue(res, i, 20));
        if (st->trending) continue;     /* the global ranking: nothing about the viewer */
        c->from |= PQgetvalue(res, i, 12)[0] == 't' ? FROM_FOLLOWED : 0;
        c->sig.followed = c->from & FROM_FOLLOWED;
        c->sig.interactions = atof(PQgetvalue(res, i, 13));
        c->completed = PQgetvalue(res, i, 14)[0] == 't';
        c->sig.similar_not_interested = PQgetvalue(res, i, 15)[0] == 't';
        if (!PQgetisnull(res, i, 16)) {
            c->featured = arena_strdup(r->arena, PQgetvalue(res, i, 16));
            c->from |= FROM_FEATURES;
        }
        if (nmore || nless) {
            const char *text = arena_printf(r->arena, "%s\n%s", PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
            c->more_term = nmore ? feed_policy_match(text, more, nmore) : NULL;
            c->sig.pref_more = c->more_term != NULL;
            c->sig.pref_less = nless && feed_policy_match(text, less, nless) != NULL;
        }
    }
    hydrate(st);
}

static void load_candidates(feed_state *st)
{
    api_req *r = st->r;
    db_query *q = db_query_new();
    const char *me[] = { api_viewer_id(r) };
    db_query_add(q, PREFS_SQL, 1, me);
    const char *params[] = { api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r),
                             st->trending_ids ? st->trending_ids : "{}",
                             id_array(r->arena, st->shown, st->nshown), st->trending ? "t" : "f",
                             st->after_ts, st->after_id, arena_printf(r->arena, "%d", st->limit + 1) };
    if (st->fallback) db_query_add(q, FALLBACK_SQL, 9, params);
    else db_query_add(q, st->trending ? TRENDING_SQL : FOR_YOU_SQL, 6, params);
    db_run(r->thread->db, q, candidates_loaded, st);
}

/* ---- the scroll's state ---- */

/* Redis is unavailable: page through PostgreSQL from the top (a snapshot cursor's scroll
 * cannot be continued without its snapshot). */
static void fall_back(feed_state *st)
{
    st->fallback = true;
    st->nshown = 0;
    st->trending_ids = NULL;
    st->after_ts = st->after_id = NULL;
    st->prev_author = 0;
}

static void trending_read(void *arg, const redisReply *reply)
{
    feed_state *st = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        st->redis_failed = true;
    } else {
        int64_t *ids = arena_alloc(st->r->arena, sizeof *ids * (reply->elements + 1));
        int n = 0;
        for (size_t i = 0; i < reply->elements; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING) ids[n++] = atoll(reply->element[i]->str);
        st->trending_ids = id_array(st->r->arena, ids, n);
    }
    if (--st->pending > 0) return;
    if (st->redis_failed) fall_back(st);
    load_candidates(st);
}

static void snapshot_read(void *arg, const redisReply *reply)
{
    feed_state *st = arg;
    if (!reply || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_NIL)) {
        st->redis_failed = true;
    } else if (reply->type == REDIS_REPLY_STRING) {
        int64_t *ids = NULL, last = 0;
        int n = rank_snapshot_parse(reply->str, reply->len, &last, &ids);
        /* The snapshot holds pages past this one when this request was made before (a retry
         * whose answer was lost, a HEAD then a GET): the page is chosen again from the
         * snapshot as it stood, so whatever was lost with the first answer is not skipped.
         * The author before the page is the cursor's; a cursor of an older version names
         * none, and the snapshot's last one stands in. */
        if (st->at >= 0) {
            if (n > st->at) n = st->at;
        } else if (n > 0) {
            st->prev_author = last;
        }
        if (n > 0) {
            st->shown = arena_alloc(st->r->arena, sizeof *ids * (size_t)n);
            memcpy(st->shown, ids, sizeof *ids * (size_t)n);
            st->nshown = n;
        }
        free(ids);
    }
    if (--st->pending > 0) return;
    if (st->redis_failed) fall_back(st);
    load_candidates(st);
}

/* Reads ?limit= and ?cursor=; answers 400 itself and returns -1 for a bad one. */
static int read_position(feed_state *st)
{
    api_req *r = st->r;
    char *cursor = arena_alloc(r->arena, CURSOR_MAX_PAYLOAD + 1);
    if (api_page_limit(r, &st->limit) || api_page_cursor(r, cursor) < 0) return -1;
    if (cursor[0] == '\0') {
        unsigned char raw[8];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(st->snap, sizeof st->snap, raw, sizeof raw);
        return 0;
    }
    /* "s.<snapshot>.<items before this page>.<author of the last of them>" */
    if (strncmp(cursor, "s.", 2) == 0 && hex_run(cursor + 2, 16)) {
        memcpy(st->snap, cursor + 2, 16);
        st->snap[16] = '\0';
        long long at = -1, author = 0;
        int used = 0;
        if (cursor[18] == '\0' ||
            (sscanf(cursor + 18, ".%lld.%lld%n", &at, &author, &used) == 2 && cursor[18 + used] == '\0' &&
             at >= 0 && at <= RANK_SNAPSHOT_MAX_IDS)) {
            st->at = (int)at;
            st->prev_author = author;
            return 1;
        }
    }
    char *ts = cursor + 2, *id = strchr(ts, '|'), *author = id ? strchr(id + 1, '|') : NULL;
    if (strncmp(cursor, "k.", 2) == 0 && author) {
        *id++ = '\0';
        *author++ = '\0';
        st->fallback = true;
        st->after_ts = ts;
        st->after_id = id;
        st->prev_author = atoll(author);
        return 2;
    }
    api_reply_error(r, 400, "invalid_request", "cursor is not valid");
    return -1;
}

static void ranked_feed(api_req *r, bool trending)
{
    feed_state *st = arena_alloc(r->arena, sizeof *st);
    memset(st, 0, sizeof *st);
    st->r = r;
    st->trending = trending;
    st->at = -1;
    int pos = read_position(st);
    if (pos < 0) return;
    if (pos == 2) {
        load_candidates(st);
        return;
    }
    char range[16], key[96];
    snprintf(range, sizeof range, "%d", RANK_TRENDING_READ - 1);
    const char *zrange[] = { "ZREVRANGE", RANK_KEY_TRENDING, "0", range };
    st->pending = pos == 1 ? 2 : 1;
    kv_command(r->thread->kv, trending_read, st, 4, zrange, NULL);
    if (pos == 1) {
        rank_snapshot_key(r->viewer.id, st->snap, key, sizeof key);
        const char *get[] = { "GET", key };
        kv_command(r->thread->kv, snapshot_read, st, 2, get, NULL);
    }
}

void api_feed_for_you(api_req *r)
{
    ranked_feed(r, false);
}

void api_feed_trending(api_req *r)
{
    ranked_feed(r, true);
}

/* ---- following ---- */

static void following_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    api_reply_post_page(r, rep, 0);
}

void api_feed_following(api_req *r)
{
    int *limit = arena_alloc(r->arena, sizeof *limit);
    const char *after_ts, *after_id;
    if (api_page_keyset(r, limit, &after_ts, &after_id)) return;
    r->state = limit;
    const char *params[] = { api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r),
                             after_ts, after_id, arena_printf(r->arena, "%d", *limit + 1) };
    db_exec(r->thread->db,
            "SELECT post_json_for(p, $1::bigint)::text, " API_KEYSET("p.published_at", "p.id") " "
            "FROM follows f JOIN posts p ON p.author_id = f.followee_id JOIN users a ON a.id = p.author_id "
            "WHERE f.follower_id = $1::bigint AND p.status = 'published' AND NOT a.banned "
            "AND post_visible(p, $1::bigint, $2::boolean, $3) "
            "AND NOT EXISTS (SELECT 1 FROM post_cameos rc WHERE rc.post_id = p.id AND rc.revoked) "
            "AND ($4::timestamptz IS NULL OR (p.published_at, p.id) < ($4::timestamptz, $5::bigint)) "
            "ORDER BY p.published_at DESC, p.id DESC LIMIT $6::int", 6, params, following_loaded, r);
}

/* ---- preferences ---- */

static void prefs_answer(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, -1, "no preferences");
    if (!res) return;
    json_t *body = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    if (!body) api_reply_unavailable(r);
    else api_reply_json(r, 200, body);
}

void api_feed_prefs_get(api_req *r)
{
    const char *params[] = { api_viewer_id(r) };
    db_exec(r->thread->db,
            "SELECT json_build_object('more', COALESCE(p.more, '{}'), 'less', COALESCE(p.less, '{}'))::text "
            "FROM (SELECT 1) one LEFT JOIN feed_preferences p ON p.user_id = $1::bigint",
            1, params, prefs_answer, r);
}

/* One list of the body, normalised (trimmed, case-folded, duplicates dropped, blank terms
 * dropped) into a JSON array text (arena). Answers 400 naming the field and returns NULL. */
static const char *read_terms(api_req *r, const char *field)
{
    json_t *v = json_object_get(r->body, field), *out = json_array();
    const char *text = NULL;
    if (v && !json_is_null(v) && !json_is_array(v)) {
        api_reply_error(r, 400, "invalid_request", "%s must be an array of strings", field);
        goto out;
    }
    if (json_array_size(v) > RANK_PREF_MAX_TERMS) {
        api_reply_error(r, 400, "invalid_request", "%s holds more than %d terms", field, RANK_PREF_MAX_TERMS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *t = json_array_get(v, i);
        const char *s = json_string_value(t);
        if (!s || strlen(s) != json_string_length(t)) {
            api_reply_error(r, 400, "invalid_request", "%s[%zu] must be a string", field, i);
            goto out;
        }
        if (u8_mbsnlen((const uint8_t *)s, strlen(s)) > RANK_PREF_MAX_TERM_CHARS) {
            api_reply_error(r, 400, "invalid_request", "%s[%zu] is too long (at most %d characters)",
                            field, i, RANK_PREF_MAX_TERM_CHARS);
            goto out;
        }
        char norm[4 * FEED_POLICY_MAX_TERM_CHARS + 8];
        if (feed_policy_normalise(s, norm, sizeof norm) != 0) continue;
        bool seen = false;
        for (size_t j = 0; j < json_array_size(out) && !seen; j++)
            seen = strcmp(json_string_value(json_array_get(out, j)), norm) == 0;
        if (!seen) json_array_append_new(out, json_string(norm));
    }
    char *dump = json_dumps(out, JSON_COMPACT);
    text = arena_strdup(r->arena, dump);
    free(dump);
out:
    json_decref(out);
    return text;
}

void api_feed_prefs_put(api_req *r)
{
    const char *more = read_terms(r, "more");
    if (!more) return;
    const char *less = read_terms(r, "less");
    if (!less) return;
    const char *params[] = { api_viewer_id(r), more, less };
    db_exec(r->thread->db,
            "INSERT INTO feed_preferences AS f (user_id, more, less, updated_at) VALUES ($1::bigint, "
            "ARRAY(SELECT t FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY x(t, n) ORDER BY n), "
            "ARRAY(SELECT t FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY x(t, n) ORDER BY n), now()) "
            "ON CONFLICT (user_id) DO UPDATE SET more = EXCLUDED.more, less = EXCLUDED.less, updated_at = now() "
            "RETURNING json_build_object('more', f.more, 'less', f.less)::text", 3, params, prefs_answer, r);
}
