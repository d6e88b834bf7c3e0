/* api/cameos.c: consent to one's likeness (API.md "Cameos"): the cameo and its permission,
 * the approval list, where I appear, and taking posts that feature me down. Revoking is
 * immediate and total: every post featuring me leaves every feed and page (but mine and
 * its author's), and queued generations naming me fail. */
#include "api/handlers.h"

#include "api/posts.h"
#include "api/server.h"
#include "core/cursor.h"
#include "feed/users.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAMEO_JSON "json_build_object('user_id', c.user_id::text, 'permission', c.permission, " \
                   "'created_at', api_time(c.created_at), 'updated_at', api_time(c.updated_at))::text"

static void json_row_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, -1, "not found");
    if (!res) return;
    const char *text = PQgetvalue(res, 0, 0);
    api_reply_bytes(r, 200, API_JSON, text, strlen(text));
}

void api_cameo_put(api_req *r)
{
    const char *perm;
    if (api_body_string(r, "permission", true, 20, &perm)) return;
    if (strcmp(perm, "only_me") != 0 && strcmp(perm, "approved") != 0 &&
        strcmp(perm, "mutuals") != 0 && strcmp(perm, "everyone") != 0) {
        api_reply_error(r, 400, "invalid_request", "permission must be only_me, approved, mutuals or everyone");
        return;
    }
    if (r->viewer.minor && strcmp(perm, "everyone") == 0) {
        api_reply_error(r, 400, "invalid_request", "permission everyone is not available under 18");
        return;
    }
    const char *params[] = { api_viewer_id(r), perm };
    db_exec(r->thread->db,
            "WITH c AS (INSERT INTO cameos (user_id, permission) VALUES ($1::bigint, $2) "
            "ON CONFLICT (user_id) DO UPDATE SET permission = EXCLUDED.permission, updated_at = now() RETURNING *) "
            "SELECT " CAMEO_JSON " FROM c", 2, params, json_row_loaded, r);
}

static void done_204(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) api_reply_unavailable(r);
    else api_reply_empty(r, 204);
}

void api_cameo_delete(api_req *r)
{
    const char *me = api_viewer_id(r);
    db_query *q = db_query_new();
    const char *p[] = { me };
    db_query_add(q, "DELETE FROM cameos WHERE user_id = $1::bigint", 1, p);
    db_query_add(q, "UPDATE post_cameos SET revoked = true WHERE user_id = $1::bigint", 1, p);
    db_query_add(q, "UPDATE generations SET status = 'failed', error_code = 'cameo_revoked', "
                    "error_message = 'a person cast in this video revoked their cameo', "
                    "finished_at = now(), updated_at = now() "
                    "WHERE status IN ('queued', 'running') AND $1::bigint = ANY (cameo_ids)", 1, p);
    db_run(r->thread->db, q, done_204, r);
}

/* A page of users: FEED_USER_COLS, then the cursor payload that continues after the row. */
static json_t *user_item(api_req *r, const PGresult *res, int row)
{
    (void)r;
    return feed_user_json(res, row, 0);
}

static void users_listed(void *arg, const db_reply *rep)
{
    api_reply_page(arg, rep, 0, user_item, FEED_USER_NCOLS);
}

/* Newest approval first; the cursor holds "<approved at>|<user id>" of the last one shown. */
void api_cameo_approvals_list(api_req *r)
{
    api_list_own(r,
        "SELECT " FEED_USER_COLS ", " API_KEYSET("a.created_at", "u.id") " "
        "FROM cameo_approvals a JOIN users u ON u.id = a.user_id WHERE a.owner_id = $1::bigint "
        "AND ($2::timestamptz IS NULL OR (a.created_at, u.id) < ($2::timestamptz, $3::bigint)) "
        "ORDER BY a.created_at DESC, u.id DESC LIMIT $4::int", users_listed);
}

static void approval_added(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such user");
    if (!res) return;
    api_reply_json(r, 201, feed_user_json(res, 0, 0));
}

void api_cameo_approval_add(api_req *r)
{
    const char *name;
    if (api_body_string(r, "username", true, 30, &name)) return;
    const char *p[] = { api_viewer_id(r), name };
    db_exec(r->thread->db,
            "WITH u AS (SELECT * FROM users WHERE username = $2 AND NOT banned), "
            "ins AS (INSERT INTO cameo_approvals (owner_id, user_id) SELECT $1::bigint, id FROM u "
            "        WHERE id <> $1::bigint ON CONFLICT DO NOTHING) "
            "SELECT " FEED_USER_COLS " FROM u", 2, p, approval_added, r);
}

void api_cameo_approval_delete(api_req *r)
{
    const char *p[] = { api_viewer_id(r), r->params[0] };
    db_exec(r->thread->db, "DELETE FROM cameo_approvals WHERE owner_id = $1::bigint "
                           "AND user_id = (SELECT id FROM users WHERE username = $2)", 2, p, done_204, r);
}

static void appearances_loaded(void *arg, const db_reply *rep)
{
    api_reply_post_page(arg, rep, 0);
}

void api_cameo_appearances(api_req *r)
{
    int *limit = arena_alloc(r->arena, sizeof *limit);
    char cursor[CURSOR_MAX_PAYLOAD + 1];
    if (api_page_limit(r, limit) || api_page_cursor(r, cursor) < 0) return;
    r->state = limit;
    const char *after = cursor[0] ? cursor : NULL;
    /* Cursor: the last post id; appearances are listed newest post first. */
    if (after && strspn(after, "0123456789") != strlen(after)) {
        api_reply_error(r, 400, "invalid_request", "cursor is not valid");
        return;
    }
    const char *p[] = { api_viewer_id(r), after, arena_printf(r->arena, "%d", *limit + 1),
                        r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    /* Every post that features me, drafts of others included (appearance_visible, migrations/0014). */
    db_exec(r->thread->db,
            "SELECT post_json_for(p, $1::bigint)::text, p.id::text FROM post_cameos pc JOIN posts p ON p.id = pc.post_id "
            "WHERE pc.user_id = $1::bigint AND appearance_visible(p, $1::bigint, $4::boolean, $5) "
            "AND ($2::bigint IS NULL OR p.id < $2::bigint) ORDER BY p.id DESC LIMIT $3::int",
            5, p, appearances_loaded, r);
}

static void takedown_done(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    if (PQntuples(rep->results[0]) != 1) {
        api_reply_error(r, 404, "not_found", "no such post featuring you");
        return;
    }
    api_reply_empty(r, 204);
}

void api_post_cameo_takedown(api_req *r)
{
    const char *id = r->params[0];
    if (strspn(id, "0123456789") != strlen(id) || strlen(id) > 18) {
        api_reply_error(r, 404, "not_found", "no such post featuring you");
        return;
    }
    const char *p[] = { id, api_viewer_id(r) };
    db_exec(r->thread->db, "UPDATE post_cameos SET revoked = true WHERE post_id = $1::bigint "
                           "AND user_id = $2::bigint RETURNING post_id", 2, p, takedown_done, r);
}
