/* api/admin.c: admin-only settings: a user's role, the limits (daily generations per
 * tier, invites per user) and the prompt content policy. Each change is written to the
 * audit log in the same statement as the change itself; a request that changes nothing
 * (the role a user already has, a limit at its value, the same policy) logs nothing. */
#include "api/handlers.h"

#include "api/server.h"
#include "feed/policy.h"
#include "feed/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void role_set(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such user");
    if (!res) return;
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
    const char *params[] = { r->params[0], role, api_viewer_id(r) };
    db_exec(r->thread->db,
            "WITH before AS (SELECT id, role FROM users WHERE username = $1 FOR UPDATE), "
            "u AS (UPDATE users SET role = $2 WHERE id = (SELECT id FROM before) RETURNING *), "
            "logged AS (INSERT INTO audit_log (actor_id, action, target_type, target_id, note) "
            "           SELECT $3::bigint, 'role_change', 'user', id::text, 'role: ' || $2 "
            "           FROM before WHERE role <> $2) "
            "SELECT " FEED_USER_COLS ", u.role FROM u", 3, params, role_set, r);
}

/* Numeric settings an admin may change; quota_mode is the one word among them. */
static const char *const limit_names[] = { "daily_generations_free", "daily_generations_pro",
    "invites_per_user", "engine_capacity_seconds", "quota_floor_free", "quota_floor_pro", "pro_weight" };
#define NLIMITS ((int)(sizeof limit_names / sizeof limit_names[0]))

static void limits_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[rep->nresults - 1];
    if (PQntuples(res) != 1) {
        api_reply_unavailable(r);
        return;
    }
    json_t *body = json_object();
    for (int c = 0; c < PQnfields(res); c++) {
        const char *name = PQfname(res, c);
        if (strcmp(name, "quota_mode") == 0)
            json_object_set_new(body, name, json_string(PQgetvalue(res, 0, c)));
        else
            json_object_set_new(body, name, json_integer(atoll(PQgetvalue(res, 0, c))));
    }
    api_reply_json(r, 200, body);
}

/* The limits now in force: in automatic mode the daily_generations_* values are what the
 * capacity and the number of active users give today. */
#define LIMITS_SQL \
    "SELECT daily_generation_limit('free') AS daily_generations_free, " \
    "daily_generation_limit('pro') AS daily_generations_pro, " \
    "max(value) FILTER (WHERE name = 'invites_per_user') AS invites_per_user, " \
    "CASE max(value) FILTER (WHERE name = 'quota_auto') WHEN 1 THEN 'auto' ELSE 'fixed' END AS quota_mode, " \
    "max(value) FILTER (WHERE name = 'engine_capacity_seconds') AS engine_capacity_seconds, " \
    "max(value) FILTER (WHERE name = 'quota_floor_free') AS quota_floor_free, " \
    "max(value) FILTER (WHERE name = 'quota_floor_pro') AS quota_floor_pro, " \
    "max(value) FILTER (WHERE name = 'pro_weight') AS pro_weight, " \
    "(SELECT count(*) FROM users WHERE last_active_at > now() - interval '1 day' AND NOT banned) AS active_users " \
    "FROM settings"

void api_admin_limits_get(api_req *r)
{
    db_exec(r->thread->db, LIMITS_SQL, 0, NULL, limits_loaded, r);
}

static void set_setting(api_req *r, db_query *q, const char *name, const char *value)
{
    const char *p[] = { name, value, api_viewer_id(r) };
    db_query_add(q, "WITH changed AS (UPDATE settings SET value = $2::bigint "
                    "                 WHERE name = $1 AND value <> $2::bigint RETURNING name) "
                    "INSERT INTO audit_log (actor_id, action, target_type, target_id, note) "
                    "SELECT $3::bigint, 'limits_change', 'setting', $1, $1 || ' = ' || $2 FROM changed", 3, p);
}

void api_admin_limits_put(api_req *r)
{
    long long values[NLIMITS];
    bool present[NLIMITS];
    for (int i = 0; i < NLIMITS; i++) {
        if (api_body_int(r, limit_names[i], false, &values[i], &present[i])) return;
        long long max = strcmp(limit_names[i], "engine_capacity_seconds") == 0 ? 1000000000LL : 1000000LL;
        if (present[i] && (values[i] < 0 || values[i] > max)) {
            api_reply_error(r, 400, "invalid_request", "%s must be from 0 to %lld", limit_names[i], max);
            return;
        }
    }
    const char *mode;
    if (api_body_string(r, "quota_mode", false, 10, &mode)) return;
    if (mode && strcmp(mode, "fixed") != 0 && strcmp(mode, "auto") != 0) {
        api_reply_error(r, 400, "invalid_request", "quota_mode must be fixed or auto");
        return;
    }
    db_query *q = db_query_new();
    for (int i = 0; i < NLIMITS; i++)
        if (present[i]) set_setting(r, q, limit_names[i], arena_printf(r->arena, "%lld", values[i]));
    if (mode) set_setting(r, q, "quota_auto", strcmp(mode, "auto") == 0 ? "1" : "0");
    db_query_add(q, LIMITS_SQL, 0, NULL);
    db_run(r->thread->db, q, limits_loaded, r);
}

/* ---- the prompt content policy ---- */

static void policy_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[rep->nresults - 1];
    json_t *terms = json_array();
    for (int i = 0; i < PQntuples(res); i++) json_array_append_new(terms, json_string(PQgetvalue(res, i, 0)));
    api_reply_json(r, 200, json_pack("{s:o}", "blocked_terms", terms));
}

#define POLICY_SQL "SELECT term FROM policy_terms ORDER BY term"

void api_admin_policy_get(api_req *r)
{
    db_exec(r->thread->db, POLICY_SQL, 0, NULL, policy_loaded, r);
}

void api_admin_policy_put(api_req *r)
{
    json_t *list = json_object_get(r->body, "blocked_terms");
    if (!json_is_array(list)) {
        api_reply_error(r, 400, "invalid_request", "blocked_terms must be an array of strings");
        return;
    }
    if (json_array_size(list) > FEED_POLICY_MAX_TERMS) {
        api_reply_error(r, 400, "invalid_request", "blocked_terms has more than %d terms", FEED_POLICY_MAX_TERMS);
        return;
    }
    /* Normalised terms as one text[] literal, each quoted: terms may hold any character. */
    size_t cap = 16, used = 0;
    for (size_t i = 0; i < json_array_size(list); i++)
        if (json_is_string(json_array_get(list, i))) cap += 2 * json_string_length(json_array_get(list, i)) + 8;
    char *array = arena_alloc(r->arena, cap * 4 + 16);
    array[used++] = '{';
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        char term[4 * FEED_POLICY_MAX_TERM_CHARS + 8];
        if (!json_is_string(v) || feed_policy_normalise(json_string_value(v), term, sizeof term) != 0) {
            api_reply_error(r, 400, "invalid_request",
                            "blocked_terms[%zu] must be a non-empty string of at most %d characters",
                            i, FEED_POLICY_MAX_TERM_CHARS);
            return;
        }
        if (used > 1) array[used++] = ',';
        array[used++] = '"';
        for (const char *c = term; *c; c++) {
            if (*c == '"' || *c == '\\') array[used++] = '\\';
            array[used++] = *c;
        }
        array[used++] = '"';
    }
    array[used++] = '}';
    array[used] = '\0';
    db_query *q = db_query_new();
    const char *p1[] = { array, api_viewer_id(r) };
    /* The audit note counts the terms stored: normalising can make two terms one. */
    db_query_add(q,
        "WITH before AS (SELECT coalesce(array_agg(term ORDER BY term), '{}') AS terms FROM policy_terms), "
        "after AS (SELECT coalesce(array_agg(DISTINCT t ORDER BY t), '{}') AS terms FROM unnest($1::text[]) t), "
        "gone AS (DELETE FROM policy_terms WHERE term NOT IN (SELECT unnest(terms) FROM after)), "
        "added AS (INSERT INTO policy_terms (term) SELECT unnest(terms) FROM after ON CONFLICT DO NOTHING) "
        "INSERT INTO audit_log (actor_id, action, target_type, target_id, note) "
        "SELECT $2::bigint, 'policy_change', 'policy', 'blocked_terms', cardinality(after.terms) || ' terms' "
        "FROM before, after WHERE before.terms <> after.terms", 2, p1);
    db_query_add(q, POLICY_SQL, 0, NULL);
    db_run(r->thread->db, q, policy_loaded, r);
}
