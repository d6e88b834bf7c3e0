/* api/accounts.c: signup, login, logout, /v1/me, invites, profiles and follows (API.md
 * "Accounts"). Password hashing runs on the CPU pool, never on the loop; every database
 * step is one asynchronous query, and multi-step writes go as one pipelined transaction. */
#include "api/handlers.h"

#include "api/ratelimit.h"
#include "api/server.h"
#include "core/cache.h"
#include "core/cursor.h"
#include "feed/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

/* Shared: the server's answer to a failed query. A unique violation means a conflict the
 * handler did not foresee; anything else is the database being unavailable. */
static void reply_db_failure(api_req *r, const db_reply *rep)
{
    if (rep->status == DB_ERROR && strcmp(rep->sqlstate, "23505") == 0) {
        api_reply_error(r, 409, "conflict", "this conflicts with existing data");
        return;
    }
    api_reply_unavailable(r);
}

/* ---- signup ---- */

typedef struct signup {
    api_req *r;
    const char *invite, *username, *password;
    long long birth_year;
    char hash[crypto_pwhash_STRBYTES];
    int hash_rc;
    char token[FEED_TOKEN_CHARS + 1];
    char token_hash[67];
} signup;

static void signup_saved(void *arg, const db_reply *rep)
{
    signup *s = arg;
    api_req *r = s->r;
    if (rep->status == DB_ERROR && strcmp(rep->sqlstate, "23505") == 0) {
        api_reply_error(r, 409, "conflict", "username is taken");
        return;
    }
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *user = rep->results[0];
    if (PQntuples(user) != 1) {
        api_reply_error(r, 400, "invalid_invite", "invite code is unknown or already used");
        return;
    }
    api_reply_json(r, 201, json_pack("{s:o,s:s}", "user", feed_user_json(user, 0, 0), "token", s->token));
}

static void signup_hash(void *arg)
{
    signup *s = arg;
    s->hash_rc = feed_password_hash(s->password, s->hash, sizeof s->hash);
}

static void signup_hashed(void *arg, int status)
{
    signup *s = arg;
    api_req *r = s->r;
    if (status != 0 || s->hash_rc != 0) {
        api_reply_unavailable(r);
        return;
    }
    feed_token_new(s->token, s->token_hash);
    char year[16];
    snprintf(year, sizeof year, "%lld", s->birth_year);
    /* One transaction: the invite is taken only if the user is created, so a refused
     * signup (taken username) leaves the invite usable. */
    db_query *q = db_query_new();
    const char *p1[] = { s->invite, s->username, s->hash, year };
    db_query_add(q,
        "WITH inv AS (UPDATE invites SET used_at = now() WHERE code = $1 AND used_at IS NULL RETURNING code), "
        "u AS (INSERT INTO users (username, password_hash, birth_year) SELECT $2, $3, $4::int FROM inv RETURNING *) "
        "SELECT " FEED_USER_COLS " FROM u", 4, p1);
    const char *p2[] = { s->invite, s->username };
    db_query_add(q, "UPDATE invites SET used_by = u.id FROM users u WHERE invites.code = $1 AND u.username = $2 "
                    "AND invites.used_by IS NULL AND u.created_at = now()", 2, p2);
    const char *p3[] = { s->token_hash, s->username };
    db_query_add(q, "INSERT INTO sessions (token_hash, user_id) SELECT $1, id FROM users "
                    "WHERE username = $2 AND created_at = now()", 2, p3);
    db_run(r->thread->db, q, signup_saved, s);
}

void api_signup(api_req *r)
{
    signup *s = arena_alloc(r->arena, sizeof *s);
    memset(s, 0, sizeof *s);
    s->r = r;
    if (api_body_string(r, "invite_code", true, 64, &s->invite) ||
        api_body_string(r, "username", true, 30, &s->username) ||
        api_body_string(r, "password", true, FEED_MAX_PASSWORD, &s->password) ||
        api_body_int(r, "birth_year", true, &s->birth_year, NULL))
        return;
    if (!feed_username_valid(s->username)) {
        api_reply_error(r, 400, "invalid_request", "username must be 3 to 30 characters of a-z, 0-9 and _");
        return;
    }
    if (u8_mbsnlen((const uint8_t *)s->password, strlen(s->password)) < FEED_MIN_PASSWORD) {
        api_reply_error(r, 400, "invalid_request", "password must be at least %d characters", FEED_MIN_PASSWORD);
        return;
    }
    int age = s->birth_year > 1800 && s->birth_year < 10000 ? feed_age_years((int)s->birth_year) : -1;
    if (age < 0 || age > 150) {
        api_reply_error(r, 400, "invalid_request", "birth_year is not a plausible year");
        return;
    }
    if (age < FEED_MIN_AGE) {
        api_reply_error(r, 400, "too_young", "you must be at least %d to sign up", FEED_MIN_AGE);
        return;
    }
    work_submit(r->thread->server->cpu, r->thread->work, signup_hash, signup_hashed, s);
}

/* ---- login ---- */

typedef struct login {
    api_req *r;
    const char *username, *password;
    char *hash;             /* the stored hash, or NULL for an unknown user */
    json_t *user;           /* owned until the reply */
    int ok;
    char token[FEED_TOKEN_CHARS + 1];
    char token_hash[67];
} login;

static void reply_bad_login(api_req *r)
{
    api_reply_error(r, 401, "unauthorized", "wrong username or password");
}

static void login_saved(void *arg, const db_reply *rep)
{
    login *l = arg;
    if (rep->status != DB_OK) {
        json_decref(l->user);
        api_reply_unavailable(l->r);
        return;
    }
    api_reply_json(l->r, 200, json_pack("{s:o,s:s}", "user", l->user, "token", l->token));
}

static void login_verify(void *arg)
{
    login *l = arg;
    l->ok = feed_password_verify(l->password, l->hash);
}

static void login_verified(void *arg, int status)
{
    login *l = arg;
    api_req *r = l->r;
    if (status != 0) {
        json_decref(l->user);
        api_reply_unavailable(r);
        return;
    }
    if (!l->ok || !l->user) {
        json_decref(l->user);
        reply_bad_login(r);
        return;
    }
    feed_token_new(l->token, l->token_hash);
    const char *params[] = { l->token_hash, json_string_value(json_object_get(l->user, "id")) };
    db_exec(r->thread->db, "WITH s AS (INSERT INTO sessions (token_hash, user_id) VALUES ($1, $2::bigint)) "
            "UPDATE users SET last_active_at = now() WHERE id = $2::bigint", 2, params, login_saved, l);
}

static void login_found(void *arg, const db_reply *rep)
{
    login *l = arg;
    api_req *r = l->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[0];
    if (PQntuples(res) == 1) {
        l->user = feed_user_json(res, 0, 0);
        l->hash = arena_strdup(r->arena, PQgetvalue(res, 0, FEED_USER_NCOLS));
    }
    /* An unknown user is verified against a dummy hash: the same time as a wrong password. */
    work_submit(r->thread->server->cpu, r->thread->work, login_verify, login_verified, l);
}

static void login_ip_checked(api_req *r, int allowed, int retry_after)
{
    if (!allowed) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        api_set_header(r, "Retry-After", ra);
        api_reply_error(r, 429, "rate_limited", "too many login attempts; retry in %d s", retry_after);
        return;
    }
    login *l = r->state;
    const char *params[] = { l->username };
    db_exec(r->thread->db, "SELECT " FEED_USER_COLS ", u.password_hash FROM users u "
            "WHERE u.username = $1 AND NOT u.banned", 1, params, login_found, l);
}

static void login_user_checked(api_req *r, int allowed, int retry_after)
{
    if (!allowed) {
        login_ip_checked(r, allowed, retry_after);
        return;
    }
    char key[96];
    snprintf(key, sizeof key, "login:ip:%s", r->client_ip);
    const core_config *cfg = &r->thread->server->cfg;
    api_ratelimit_hit(r, key, cfg->login_limit_ip, cfg->login_window_s, login_ip_checked);
}

void api_login(api_req *r)
{
    login *l = arena_alloc(r->arena, sizeof *l);
    memset(l, 0, sizeof *l);
    l->r = r;
    r->state = l;
    if (api_body_string(r, "username", true, 64, &l->username) ||
        api_body_string(r, "password", true, FEED_MAX_PASSWORD, &l->password))
        return;
    char key[96];
    snprintf(key, sizeof key, "login:user:%s", l->username);
    const core_config *cfg = &r->thread->server->cfg;
    api_ratelimit_hit(r, key, cfg->login_limit_user, cfg->login_window_s, login_user_checked);
}

/* ---- logout ---- */

static void logged_out(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    api_reply_empty(r, 204);
}

void api_logout(api_req *r)
{
    const char *params[] = { r->viewer.token_hash };
    db_exec(r->thread->db, "DELETE FROM sessions WHERE token_hash = $1", 1, params, logged_out, r);
}

/* ---- /v1/me ---- */

/* The `me` object: user plus role, tier, minor, generations_left_today, invites_left. */
#define ME_SQL \
    "SELECT " FEED_USER_COLS ", u.role, u.tier, u.birth_year, " \
    "GREATEST(0, daily_generation_limit(u.tier) - " \
    "  (SELECT count(*) FROM generations g WHERE g.user_id = u.id " \
    "   AND g.quota_day = (now() AT TIME ZONE 'UTC')::date AND g.status NOT IN ('failed', 'canceled'))), " \
    "GREATEST(0, (SELECT value FROM settings WHERE name = 'invites_per_user') - " \
    "  (SELECT count(*) FROM invites i WHERE i.created_by = u.id)) " \
    "FROM users u WHERE u.id = $1::bigint"

static json_t *me_json(const PGresult *res)
{
    json_t *me = feed_user_json(res, 0, 0);
    int c = FEED_USER_NCOLS;
    json_object_set_new(me, "role", json_string(PQgetvalue(res, 0, c)));
    json_object_set_new(me, "tier", json_string(PQgetvalue(res, 0, c + 1)));
    json_object_set_new(me, "minor", json_boolean(feed_age_years(atoi(PQgetvalue(res, 0, c + 2))) < FEED_ADULT_AGE));
    json_object_set_new(me, "generations_left_today", json_integer(atoll(PQgetvalue(res, 0, c + 3))));
    json_object_set_new(me, "invites_left", json_integer(atoll(PQgetvalue(res, 0, c + 4))));
    return me;
}

typedef struct me_ctx {
    api_req *r;
    uint64_t began;             /* the profile cache's epoch when the query started */
    int64_t day_ends_ms;        /* the end of the quota day the query counts in */
    char key[24];               /* the viewer's id */
} me_ctx;

/* The quota day is the UTC date: a body that counts today's generations is not kept past
 * the midnight UTC that follows the query's start. */
static int64_t next_utc_midnight_ms(void)
{
    const int64_t day_ms = 86400000;
    return ((int64_t)time(NULL) * 1000 / day_ms + 1) * day_ms;
}

static void me_loaded(void *arg, const db_reply *rep)
{
    me_ctx *ctx = arg;
    api_req *r = ctx->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[rep->nresults - 1];
    if (PQntuples(res) != 1) {
        api_reply_not_found(r);
        return;
    }
    json_t *me = me_json(res);
    char *body = json_dumps(me, JSON_COMPACT);
    json_decref(me);
    cache_put(r->thread->server->profiles, ctx->began, ctx->key, r->viewer.id, body, strlen(body),
              ctx->day_ends_ms);
    api_reply_bytes(r, 200, API_JSON, body, strlen(body));
    free(body);
}

/* Answered from the profile cache (api/caches.h) when it holds the viewer's body. */
void api_me_get(api_req *r)
{
    cache *profiles = r->thread->server->profiles;
    me_ctx *ctx = arena_alloc(r->arena, sizeof *ctx);
    ctx->r = r;
    snprintf(ctx->key, sizeof ctx->key, "%lld", (long long)r->viewer.id);
    size_t len;
    char *body = cache_get(profiles, ctx->key, &len);
    if (body) {
        api_reply_bytes(r, 200, API_JSON, body, len);
        free(body);
        return;
    }
    ctx->began = cache_begin(profiles);
    ctx->day_ends_ms = next_utc_midnight_ms();
    const char *params[] = { api_viewer_id(r) };
    db_exec(r->thread->db, ME_SQL, 1, params, me_loaded, ctx);
}

static void me_patched(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    api_reply_json(r, 200, feed_user_json(rep->results[0], 0, 0));
}

void api_me_patch(api_req *r)
{
    const char *display_name, *bio;
    if (api_body_string(r, "display_name", false, 50, &display_name) ||
        api_body_string(r, "bio", false, 300, &bio))
        return;
    const char *params[] = { api_viewer_id(r), display_name, bio };
    db_exec(r->thread->db,
            "WITH u AS (UPDATE users SET display_name = COALESCE($2, display_name), "
            "bio = COALESCE($3, bio) WHERE id = $1::bigint RETURNING *) "
            "SELECT " FEED_USER_COLS " FROM u", 3, params, me_patched, r);
}

/* ---- invites ---- */

static json_t *invite_item(api_req *r, const PGresult *res, int row)
{
    (void)r;
    json_t *used_by = PQgetisnull(res, row, 3) ? json_null() : json_string(PQgetvalue(res, row, 3));
    return json_pack("{s:s,s:s,s:b,s:o}", "code", PQgetvalue(res, row, 0), "created_at", PQgetvalue(res, row, 1),
                     "used", !PQgetisnull(res, row, 2), "used_by", used_by);
}

/* Columns: code, created_at, used_at, used_by's username, the cursor payload. */
static void invites_listed(void *arg, const db_reply *rep)
{
    api_reply_page(arg, rep, 0, invite_item, 4);
}

/* Timestamps in cursors keep microseconds so that keyset paging never skips or repeats. */
#define TS_API(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

void api_invites_list(api_req *r)
{
    api_list_own(r,
        "SELECT i.code, " TS_API("i.created_at") ", i.used_at, u.username, " API_KEYSET("i.created_at", "i.code") " "
        "FROM invites i LEFT JOIN users u ON u.id = i.used_by WHERE i.created_by = $1::bigint "
        "AND ($2::timestamptz IS NULL OR (i.created_at, i.code) < ($2::timestamptz, $3)) "
        "ORDER BY i.created_at DESC, i.code DESC LIMIT $4::int", invites_listed);
}

static void invite_minted(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        reply_db_failure(r, rep);
        return;
    }
    const PGresult *res = rep->results[1];
    if (PQntuples(res) != 1) {
        api_reply_error(r, 403, "forbidden", "you have no invites left");
        return;
    }
    api_reply_json(r, 201, json_pack("{s:s,s:s}", "code", PQgetvalue(res, 0, 0),
                                     "created_at", PQgetvalue(res, 0, 1)));
}

void api_invites_create(api_req *r)
{
    char *code = arena_alloc(r->arena, FEED_INVITE_CHARS + 1);
    feed_invite_code_new(code);
    const char *id = api_viewer_id(r);
    /* Locking the user's row serialises concurrent mints, so the allowance holds. */
    db_query *q = db_query_new();
    const char *p1[] = { id };
    db_query_add(q, "SELECT 1 FROM users WHERE id = $1::bigint FOR UPDATE", 1, p1);
    const char *p2[] = { id, code };
    db_query_add(q,
        "INSERT INTO invites (code, created_by) SELECT $2, $1::bigint "
        "WHERE (SELECT count(*) FROM invites WHERE created_by = $1::bigint) < "
        "      (SELECT value FROM settings WHERE name = 'invites_per_user') "
        "RETURNING code, " TS_API("created_at"), 2, p2);
    db_run(r->thread->db, q, invite_minted, r);
}

/* ---- profiles and follows ---- */

static void user_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such user");
    if (!res) return;
    json_t *u = feed_user_json(res, 0, 0);
    int c = FEED_USER_NCOLS;
    json_object_set_new(u, "followers_count", json_integer(atoll(PQgetvalue(res, 0, c))));
    json_object_set_new(u, "following_count", json_integer(atoll(PQgetvalue(res, 0, c + 1))));
    json_object_set_new(u, "posts_count", json_integer(atoll(PQgetvalue(res, 0, c + 2))));
    json_object_set_new(u, "viewer_follows", json_boolean(PQgetvalue(res, 0, c + 3)[0] == 't'));
    api_reply_json(r, 200, u);
}

void api_user_get(api_req *r)
{
    const char *params[] = { r->params[0], api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r) };
    /* posts_count: the published posts the viewer may see, as GET .../posts lists them. */
    db_exec(r->thread->db,
            "SELECT " FEED_USER_COLS ", "
            "(SELECT count(*) FROM follows f WHERE f.followee_id = u.id), "
            "(SELECT count(*) FROM follows f WHERE f.follower_id = u.id), "
            "(SELECT count(*) FROM posts p WHERE p.author_id = u.id AND p.status = 'published' "
            " AND post_listed(p, $2::bigint, $3::boolean, $4)), "
            "EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $2::bigint AND f.followee_id = u.id) "
            "FROM users u WHERE u.username = $1 AND NOT u.banned",
            4, params, user_loaded, r);
}

static void follow_done(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    if (PQntuples(rep->results[0]) != 1) {
        api_reply_error(r, 404, "not_found", "no such user");
        return;
    }
    api_reply_empty(r, 204);
}

static void follow_change(api_req *r, int follow)
{
    if (strcmp(r->params[0], r->viewer.username) == 0) {
        api_reply_error(r, 400, "invalid_request", "you cannot follow yourself");
        return;
    }
    const char *params[] = { api_viewer_id(r), r->params[0] };
    /* Only a follow that makes the row tells the followee, and then at most once per
     * follower (notifications_followed_once): a new follow more than a day after that
     * notification brings it back to the top, unread, under a new id. */
    db_exec(r->thread->db, follow
        ? "WITH t AS (SELECT id FROM users WHERE username = $2 AND NOT banned), "
          "ins AS (INSERT INTO follows (follower_id, followee_id) SELECT $1::bigint, id FROM t "
          "ON CONFLICT DO NOTHING RETURNING followee_id), "
          "told AS (INSERT INTO notifications (user_id, type, actor_id) "
          "SELECT followee_id, 'followed', $1::bigint FROM ins "
          "ON CONFLICT (user_id, actor_id) WHERE type = 'followed' DO UPDATE "
          "SET id = nextval(pg_get_serial_sequence('notifications', 'id')), created_at = now(), read = false "
          "WHERE notifications.created_at < now() - interval '1 day') "
          "SELECT id FROM t"
        : "WITH t AS (SELECT id FROM users WHERE username = $2 AND NOT banned), "
          "del AS (DELETE FROM follows WHERE follower_id = $1::bigint AND followee_id IN (SELECT id FROM t)) "
          "SELECT id FROM t",
        2, params, follow_done, r);
}

void api_user_follow(api_req *r) { follow_change(r, 1); }
void api_user_unfollow(api_req *r) { follow_change(r, 0); }
