/* api/admin.c: admin-only settings: a user's role, and the limits (daily generations per
 * tier, invites per user). Each change is written to the audit log in the same
 * transaction as the change itself. */
#include "api/handlers.h"

#include "api/server.h"
#include "feed/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *viewer_id(api_req *r)
{
    return arena_printf(r->arena, "%lld", (long long)r->viewer.id);
}

static void role_set(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[0];
    if (PQntuples(res) != 1) {
        api_reply_error(r, 404, "not_found", "no such user");
        return;
    }
    json_t *u = feed_user_json(res, 0, 0);
    json_object_set_new(u, "role", json_string(PQgetvalue(res, 0, FEED_USER_NCOLS)));
    api_reply_json(r, 200, u);
}

void api_admin_role_put(api_req *r)
{
    const char *role;
    if (api_body_string(r, "role", true, 20, &role)) return;
    if (strcmp(role, "user") != 0 && strcmp(role, "moderator") != 0 && strcmp(role, "admin") != 0) {
        api_reply_error(r, 400, "invalid_request", "role must be user, moderator or admin");
        return;
    }
    db_query *q = db_query_new();
    const char *p1[] = { r->params[0], role };
    db_query_add(q, "WITH u AS (UPDATE users SET role = $2 WHERE username = $1 RETURNING *) "
                    "SELECT " FEED_USER_COLS ", u.role FROM u", 2, p1);
    const char *p2[] = { viewer_id(r), r->params[0], role };
    db_query_add(q, "INSERT INTO audit_log (actor_id, action, target_type, target_id, note) "
                    "SELECT $1::bigint, 'role_change', 'user', id::text, 'role: ' || $3 "
                    "FROM users WHERE username = $2", 3, p2);
    db_run(r->thread->db, q, role_set, r);
}

static const char *const limit_names[] = { "daily_generations_free", "daily_generations_pro", "invites_per_user" };
#define NLIMITS 3

static void limits_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[rep->nresults - 1];
    json_t *body = json_object();
    for (int i = 0; i < PQntuples(res); i++)
        json_object_set_new(body, PQgetvalue(res, i, 0), json_integer(atoll(PQgetvalue(res, i, 1))));
    api_reply_json(r, 200, body);
}

#define LIMITS_SQL "SELECT name, value FROM settings WHERE name IN " \
    "('daily_generations_free', 'daily_generations_pro', 'invites_per_user') ORDER BY name"

void api_admin_limits_get(api_req *r)
{
    db_exec(r->thread->db, LIMITS_SQL, 0, NULL, limits_loaded, r);
}

void api_admin_limits_put(api_req *r)
{
    long long values[NLIMITS];
    bool present[NLIMITS];
    for (int i = 0; i < NLIMITS; i++) {
        if (api_body_int(r, limit_names[i], false, &values[i], &present[i])) return;
        if (present[i] && (values[i] < 0 || values[i] > 1000000)) {
            api_reply_error(r, 400, "invalid_request", "%s must be from 0 to 1000000", limit_names[i]);
            return;
        }
    }
    db_query *q = db_query_new();
    for (int i = 0; i < NLIMITS; i++) {
        if (!present[i]) continue;
        const char *p[] = { limit_names[i], arena_printf(r->arena, "%lld", values[i]), viewer_id(r) };
        db_query_add(q, "UPDATE settings SET value = $2::bigint WHERE name = $1", 2, p);
        db_query_add(q, "INSERT INTO audit_log (actor_id, action, target_type, target_id, note) "
                        "VALUES ($3::bigint, 'limits_change', 'setting', $1, $1 || ' = ' || $2)", 3, p);
    }
    db_query_add(q, LIMITS_SQL, 0, NULL);
    db_run(r->thread->db, q, limits_loaded, r);
}
