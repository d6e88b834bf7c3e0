/* api/posts.c: a post's page, my drafts, publishing, editing and deleting (API.md "Posts,
 * drafts, remixes"). Visibility is decided in SQL by post_visible() (a page, and whether a
 * refusal to publish or edit is 403 or 404, by post_openable(): the people a post features
 * open it too); an object the caller may not see is 404, never 403, so ids do not leak; one
 * they may see but not change is 403. */
#include "api/posts.h"

#include "api/handlers.h"
#include "api/server.h"
#include "core/cursor.h"
#include "feed/posts.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *api_post_object(api_req *r, const char *json_text)
{
    const char *host = api_header(r, "Host");
    char base[300] = "";
    if (host && strlen(host) < 256 && !strpbrk(host, " /\\\"<>"))
        snprintf(base, sizeof base, "http://%s", host);
    json_t *post = feed_post_from_json_text(json_text, r->thread->server->cfg.secret,
                                            feed_media_url_expiry(time(NULL)), base);
    return post ? post : json_null();
}

static json_t *post_item(api_req *r, const PGresult *res, int row)
{
    return api_post_object(r, PQgetvalue(res, row, 0));
}

void api_reply_post_page(api_req *r, const db_reply *rep, int index)
{
    api_reply_page(r, rep, index, post_item, 1);
}

static int valid_id(api_req *r)
{
    const char *s = r->params[0];
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n) {
        api_reply_error(r, 404, "not_found", "no such post");
        return 0;
    }
    return 1;
}

/* Answers the first row's post (column 0) or 404. */
static void post_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, -1, "no such post");
    if (!res) return;
    api_reply_json(r, 200, api_post_object(r, PQgetvalue(res, 0, 0)));
}

void api_post_get(api_req *r)
{
    if (!valid_id(r)) return;
    const char *params[] = { r->params[0], api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    db_exec(r->thread->db, "SELECT post_json_for(p, $2::bigint)::text FROM posts p WHERE p.id = $1::bigint "
                           "AND post_openable(p, $2::bigint, $3::boolean, $4)", 4, params, post_loaded, r);
}

static void page_loaded(void *arg, const db_reply *rep)
{
    api_reply_post_page(arg, rep, -1);
}

void api_drafts_list(api_req *r)
{
    api_list_own(r,
        "SELECT post_json_for(p, $1::bigint)::text, " API_KEYSET("p.created_at", "p.id") " "
        "FROM posts p WHERE p.author_id = $1::bigint AND p.status = 'draft' "
        "AND ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2::timestamptz, $3::bigint)) "
        "ORDER BY p.created_at DESC, p.id DESC LIMIT $4::int", page_loaded);
}

static void user_posts_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status == DB_OK && PQntuples(rep->results[0]) != 1) {
        api_reply_error(r, 404, "not_found", "no such user");
        return;
    }
    page_loaded(arg, rep);
}

void api_user_posts(api_req *r)
{
    int *limit = arena_alloc(r->arena, sizeof *limit);
    const char *after_ts, *after_id;
    if (api_page_keyset(r, limit, &after_ts, &after_id)) return;
    r->state = limit;
    db_query *q = db_query_new();
    const char *p1[] = { r->params[0] };
    db_query_add(q, "SELECT id FROM users WHERE username = $1 AND NOT banned", 1, p1);
    const char *p2[] = { r->params[0], api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r),
                         after_ts, after_id, arena_printf(r->arena, "%d", *limit + 1) };
    db_query_add(q,
        "SELECT post_json_for(p, $2::bigint)::text, " API_KEYSET("p.published_at", "p.id") " "
        "FROM posts p JOIN users u ON u.id = p.author_id "
        "WHERE u.username = $1 AND NOT u.banned AND p.status = 'published' "
        "AND post_listed(p, $2::bigint, $3::boolean, $4) "
        "AND ($5::timestamptz IS NULL OR (p.published_at, p.id) < ($5::timestamptz, $6::bigint)) "
        "ORDER BY p.published_at DESC, p.id DESC LIMIT $7::int", 7, p2);
    db_run(r->thread->db, q, user_posts_loaded, r);
}

/* ---- publish ---- */

static void published(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *before = rep->results[0], *after = rep->results[rep->nresults - 1];
    if (PQntuples(before) != 1) {
        /* Not mine: 403 when I may see it, 404 otherwise (statement 1). */
        if (PQntuples(rep->results[1]) == 1) api_reply_error(r, 403, "forbidden", "only the author can publish this post");
        else api_reply_error(r, 404, "not_found", "no such post");
        return;
    }
    const char *status = PQgetvalue(before, 0, 0);
    if (strcmp(status, "draft") == 0 && PQgetvalue(before, 0, 1)[0] == 't') {
        api_reply_error(r, 403, "cameo_revoked", "someone featured in this draft has revoked their cameo");
        return;
    }
    if (strcmp(status, "draft") != 0 && strcmp(status, "published") != 0) {
        api_reply_error(r, 409, "conflict", "this post is %s and cannot be published", status);
        return;
    }
    api_reply_json(r, 200, api_post_object(r, PQgetvalue(after, 0, 0)));
}

void api_post_publish(api_req *r)
{
    if (!valid_id(r)) return;
    const char *caption, *visibility;
    bool allow_remix = true, has_allow;
    if (api_body_string(r, "caption", false, 500, &caption) ||
        api_body_string(r, "visibility", false, 20, &visibility) ||
        api_body_bool(r, "allow_remix", &allow_remix, &has_allow))
        return;
    if (visibility && strcmp(visibility, "public") != 0 && strcmp(visibility, "followers") != 0) {
        api_reply_error(r, 400, "invalid_request", "visibility must be public or followers");
        return;
    }
    const char *id = r->params[0], *me = api_viewer_id(r);
    db_query *q = db_query_new();
    /* publish_post() (migrations/0016) also tells a remix's parent's author; it returns the
     * status before, so a repeat is told from a refusal. An absent allow_remix keeps the
     * draft's (true unless the draft was edited). */
    const char *p1[] = { id, me, caption, visibility ? visibility : "public", has_allow ? (allow_remix ? "t" : "f") : NULL };
    db_query_add(q, "SELECT * FROM publish_post($1::bigint, $2::bigint, $3, $4, "
                    "coalesce($5::boolean, (SELECT allow_remix FROM posts WHERE id = $1::bigint), true))", 5, p1);
    const char *pv[] = { id, me, r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    db_query_add(q, "SELECT 1 FROM posts p WHERE p.id = $1::bigint AND post_openable(p, $2::bigint, $3::boolean, $4)",
                 4, pv);
    const char *p0[] = { id, me };
    db_query_add(q, "SELECT post_json_for(p, $2::bigint)::text FROM posts p WHERE p.id = $1::bigint", 2, p0);
    db_run(r->thread->db, q, published, r);
}

/* ---- edit and delete ---- */

/* The edited post; 403 for a post I may see but is not mine, else 404. */
static void patched(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such post");
    if (!res) return;
    if (!PQgetisnull(res, 0, 0))
        api_reply_json(r, 200, api_post_object(r, PQgetvalue(res, 0, 0)));
    else if (PQgetvalue(res, 0, 1)[0] != 't')
        api_reply_error(r, 403, "forbidden", "only the author can edit this post");
    else
        api_reply_error(r, 404, "not_found", "no such post");
}

void api_post_patch(api_req *r)
{
    if (!valid_id(r)) return;
    const char *caption;
    bool allow_remix = true, has_allow;
    if (api_body_string(r, "caption", false, 500, &caption) ||
        api_body_bool(r, "allow_remix", &allow_remix, &has_allow))
        return;
    const char *params[] = { r->params[0], api_viewer_id(r), caption, has_allow ? (allow_remix ? "t" : "f") : NULL,
                             r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    /* One row when I may see the post: the edited post (NULL unless it is mine and not
     * removed) and whether it is mine. */
    db_exec(r->thread->db,
            "WITH t AS (SELECT p.id, p.author_id FROM posts p WHERE p.id = $1::bigint "
            "           AND post_openable(p, $2::bigint, $5::boolean, $6)), "
            "u AS (UPDATE posts SET caption = COALESCE($3, caption), "
            "allow_remix = COALESCE($4::boolean, allow_remix) "
            "WHERE id IN (SELECT id FROM t WHERE author_id = $2::bigint) AND status <> 'removed' RETURNING *) "
            "SELECT (SELECT post_json_for(ROW(u.*)::posts, $2::bigint)::text FROM u), t.author_id = $2::bigint FROM t",
            6, params, patched, r);
}

static void deleted(void *arg, const db_reply *rep)
{
    api_reply_done(arg, rep, "no such post", 403, "forbidden",
                   "only the author or a moderator can delete this post");
}

void api_post_delete(api_req *r)
{
    if (!valid_id(r)) return;
    const char *params[] = { r->params[0], api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    /* Removal keeps the row (provenance and moderation refer to it); a moderator's removal
     * is written to the audit log and tells its author with a `moderation` notification (a
     * fresh one, unread, if this moderator told them of this post before). Removing a post
     * that is already removed is 204 and changes nothing, so a retried DELETE logs nothing. */
    db_exec(r->thread->db,
            "WITH target AS (SELECT p.id, p.author_id, p.status FROM posts p WHERE p.id = $1::bigint "
            "                AND post_visible(p, $2::bigint, $3::boolean, $4)), "
            "allowed AS (SELECT id FROM target WHERE author_id = $2::bigint OR $4 IN ('moderator', 'admin')), "
            "removed AS (UPDATE posts SET status = 'removed' WHERE id IN (SELECT id FROM allowed) "
            "            AND status <> 'removed' RETURNING id, author_id), "
            "audit AS (INSERT INTO audit_log (actor_id, action, target_type, target_id) "
            "          SELECT $2::bigint, 'remove', 'post', id::text FROM removed WHERE author_id <> $2::bigint), "
            "told AS (INSERT INTO notifications (user_id, type, actor_id, post_id) "
            "         SELECT t.author_id, 'moderation', $2::bigint, t.id FROM target t JOIN removed USING (id) "
            "         WHERE t.author_id <> $2::bigint "
            "         ON CONFLICT (user_id, type, actor_id, post_id) DO UPDATE "
            "         SET id = nextval(pg_get_serial_sequence('notifications', 'id')), created_at = now(), read = false) "
            "SELECT EXISTS (SELECT 1 FROM allowed) FROM target", 4, params, deleted, r);
}
