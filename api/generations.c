/* api/generations.c: POST/GET/DELETE /v1/generations (API.md "Generations").
 *
 * A create runs its checks in the contract's order — validation (400), permissions (403:
 * tier, cameos, remix), content policy (422), quota (429) — so a refused request uses no
 * quota. The quota and the Idempotency-Key record are decided in one transaction that
 * first locks the caller's user row: parallel requests queue on that lock, so the daily
 * allowance cannot be overshot and one key never starts two jobs. */
#include "api/handlers.h"

#include "api/server.h"
#include "core/cursor.h"
#include "feed/policy.h"
#include "feed/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PROMPT_CHARS 2000
#define MAX_CAMEOS 2
#define MAX_IDEMPOTENCY_KEY 255

typedef struct create {
    api_req *r;
    const char *prompt, *model, *aspect, *remix_of;
    long long seconds;
    const char *cameos[MAX_CAMEOS];
    int ncameos;
    const char *key;            /* Idempotency-Key or NULL */
    char body_hash[65];         /* SHA-256 of the body as JSON with its keys sorted and no
                                 * spaces: what "the same body" means, whatever the order
                                 * or spacing a client writes it in */
    char raw_hash[65];          /* SHA-256 of the body's bytes, as keys were stored before */
    char cameo_array[80];       /* "{a,b}": names are [a-z0-9_], so no quoting is needed */
    const char *user_id;
} create;

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, len);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

static int is_digits(const char *s)
{
    if (!s || !*s || strlen(s) > 18) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static int seconds_to_utc_midnight(void)
{
    time_t now = time(NULL);
    return (int)(86400 - now % 86400);
}

/* A generation as PostgreSQL wrote it, in the compact form of every other answer. */
static void reply_json_text(api_req *r, int status, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (j) api_reply_json(r, status, j);
    else api_reply_bytes(r, status, API_JSON, text, strlen(text));
}

/* A stored first response: replay it when the body is the same, else refuse. */
static void replay(create *c, const PGresult *rec)
{
    const char *stored = PQgetvalue(rec, 0, 0);
    if (strcmp(stored, c->body_hash) != 0 && strcmp(stored, c->raw_hash) != 0) {
        api_reply_error(c->r, 422, "idempotency_mismatch",
                        "this Idempotency-Key was used with a different request body");
        return;
    }
    if (PQgetisnull(rec, 0, 1)) {
        api_reply_error(c->r, 409, "conflict", "a request with this Idempotency-Key is in progress");
        return;
    }
    api_set_header(c->r, "Idempotent-Replayed", "true");
    reply_json_text(c->r, atoi(PQgetvalue(rec, 0, 1)), PQgetvalue(rec, 0, 2));
}

static void created(void *arg, const db_reply *rep)
{
    create *c = arg;
    api_req *r = c->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *gen = rep->results[2], *rec = rep->results[4];
    if (PQntuples(gen) == 1) {
        reply_json_text(r, 202, PQgetvalue(gen, 0, 0));
        return;
    }
    if (c->key && PQntuples(rec) == 1) {
        replay(c, rec);
        return;
    }
    char ra[16];
    snprintf(ra, sizeof ra, "%d", seconds_to_utc_midnight());
    api_set_header(r, "Retry-After", ra);
    api_reply_error(r, 429, "quota_exceeded", "daily generation quota used up; it renews at 00:00 UTC");
}

static void insert_job(create *c)
{
    api_req *r = c->r;
    db_query *q = db_query_new();
    const char *p0[] = { c->user_id };
    db_query_add(q, "UPDATE users SET last_active_at = now() WHERE id = $1::bigint", 1, p0);
    const char *p1[] = { c->user_id, c->key, c->body_hash };
    db_query_add(q,
        "INSERT INTO idempotency_keys (user_id, key, request_hash) "
        "SELECT $1::bigint, $2, $3 WHERE $2::text IS NOT NULL "
        "ON CONFLICT (user_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, "
        "generation_id = NULL, status = NULL, response = NULL, created_at = now() "
        "WHERE idempotency_keys.created_at < now() - interval '24 hours'", 3, p1);
    const char *p2[] = { c->user_id, c->prompt, c->model, arena_printf(r->arena, "%lld", c->seconds),
                         c->aspect, c->cameo_array, c->remix_of, r->thread->server->cfg.engine,
                         r->viewer.pro ? "pro" : "free", c->key };
    /* The allowance and the key are both read after the row lock above, in this statement's
     * own snapshot: that is what makes them race-free. */
    db_query_add(q,
        "WITH g AS (INSERT INTO generations (user_id, prompt, model, seconds, aspect, cameo_ids, remix_of, engine) "
        "  SELECT $1::bigint, $2, $3, $4::int, $5, "
        "         ARRAY(SELECT u.id FROM unnest($6::text[]) WITH ORDINALITY n(name, ord) "
        "               JOIN users u ON u.username = n.name ORDER BY n.ord), $7::bigint, $8 "
        "  WHERE (SELECT count(*) FROM generations WHERE user_id = $1::bigint "
        "         AND quota_day = (now() AT TIME ZONE 'UTC')::date AND status NOT IN ('failed', 'canceled')) "
        "        < daily_generation_limit($9) "
        "    AND ($10::text IS NULL OR NOT EXISTS (SELECT 1 FROM idempotency_keys k "
        "         WHERE k.user_id = $1::bigint AND k.key = $10 AND k.status IS NOT NULL)) "
        "  RETURNING *), "
        "k AS (UPDATE idempotency_keys SET generation_id = g.id, status = 202, "
        "      response = generation_json(ROW(g.*)::generations)::text FROM g "
        "      WHERE idempotency_keys.user_id = $1::bigint AND idempotency_keys.key = $10) "
        "SELECT generation_json(ROW(g.*)::generations)::text, pg_notify('flick_generations', g.id::text) FROM g",
        10, p2);
    const char *p3[] = { c->user_id, c->key };
    /* A refused request (over quota) must not leave its key behind as "in progress". */
    db_query_add(q, "DELETE FROM idempotency_keys WHERE user_id = $1::bigint AND key = $2 AND status IS NULL",
                 2, p3);
    db_query_add(q, "SELECT request_hash, status, response FROM idempotency_keys "
                    "WHERE user_id = $1::bigint AND key = $2 AND status IS NOT NULL", 2, p3);
    db_run(r->thread->db, q, created, c);
}

/* Who may cast user X (API.md "Cameos"): X always; others only if X has a cameo whose
 * permission allows them; an adult may cast a minor only if they are mutuals and approved. */
static int may_cast(const api_req *r, const PGresult *res, int row)
{
    if (PQgetisnull(res, row, 1)) return 0;                 /* no such user */
    if (strtoll(PQgetvalue(res, row, 1), NULL, 10) == r->viewer.id) return 1;
    if (PQgetisnull(res, row, 2)) return 0;                 /* no cameo */
    const char *perm = PQgetvalue(res, row, 2);
    int approved = PQgetvalue(res, row, 4)[0] == 't';
    int mutual = PQgetvalue(res, row, 5)[0] == 't';
    int minor = feed_age_years(atoi(PQgetvalue(res, row, 3))) < FEED_ADULT_AGE;
    if (minor && !r->viewer.minor && !(approved && mutual)) return 0;
    if (strcmp(perm, "everyone") == 0) return !minor || (approved && mutual);
    if (strcmp(perm, "mutuals") == 0) return mutual;
    if (strcmp(perm, "approved") == 0) return approved;
    return 0;
}

static void checked(void *arg, const db_reply *rep)
{
    create *c = arg;
    api_req *r = c->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *rec = rep->results[0], *cameos = rep->results[1], *remix = rep->results[2],
                   *terms = rep->results[3];
    if (c->key && PQntuples(rec) == 1) {
        replay(c, rec);
        return;
    }
    if (strcmp(c->model, "pro") == 0 && !r->viewer.pro) {
        api_reply_error(r, 403, "forbidden", "the pro model needs the pro tier");
        return;
    }
    for (int i = 0; i < PQntuples(cameos); i++) {
        if (!may_cast(r, cameos, i)) {
            api_reply_error(r, 403, "cameo_not_allowed", "you may not cast @%s", PQgetvalue(cameos, i, 0));
            return;
        }
    }
    if (c->remix_of) {
        if (PQntuples(remix) != 1 || PQgetvalue(remix, 0, 0)[0] != 't') {
            api_reply_error(r, 404, "not_found", "remix_of: no such post");
            return;
        }
        if (PQgetvalue(remix, 0, 1)[0] != 't') {
            api_reply_error(r, 403, "remix_not_allowed", "the author of this post does not allow remixes");
            return;
        }
    }
    int n = PQntuples(terms);
    const char **list = arena_alloc(r->arena, sizeof *list * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) list[i] = PQgetvalue(terms, i, 0);
    if (feed_policy_match(c->prompt, list, n)) {
        api_reply_error(r, 422, "prompt_blocked", "the prompt goes against the content policy");
        return;
    }
    insert_job(c);
}

/* Reads and checks the body; 0, or -1 after answering 400. */
static int parse(create *c)
{
    api_req *r = c->r;
    c->model = "standard";
    c->aspect = "9:16";
    c->seconds = 8;
    bool has_seconds;
    if (api_body_string(r, "prompt", true, MAX_PROMPT_CHARS, &c->prompt) ||
        api_body_string(r, "model", false, 20, &c->model) ||
        api_body_int(r, "seconds", false, &c->seconds, &has_seconds) ||
        api_body_string(r, "aspect", false, 10, &c->aspect) ||
        api_body_string(r, "remix_of", false, 30, &c->remix_of))
        return -1;
    if (!c->model) c->model = "standard";
    if (!c->aspect) c->aspect = "9:16";
    if (!has_seconds) c->seconds = 8;
    if (!*c->prompt) {
        api_reply_error(r, 400, "invalid_request", "prompt must not be empty");
        return -1;
    }
    if (strcmp(c->model, "standard") != 0 && strcmp(c->model, "pro") != 0) {
        api_reply_error(r, 400, "invalid_request", "model must be standard or pro");
        return -1;
    }
    if (c->seconds != 4 && c->seconds != 8 && c->seconds != 12) {
        api_reply_error(r, 400, "invalid_request", "seconds must be 4, 8 or 12");
        return -1;
    }
    if (strcmp(c->aspect, "9:16") != 0 && strcmp(c->aspect, "16:9") != 0 && strcmp(c->aspect, "1:1") != 0) {
        api_reply_error(r, 400, "invalid_request", "aspect must be 9:16, 16:9 or 1:1");
        return -1;
    }
    if (c->remix_of && !is_digits(c->remix_of)) {
        api_reply_error(r, 400, "invalid_request", "remix_of must be a post id");
        return -1;
    }
    json_t *cameos = json_object_get(r->body, "cameos");
    if (cameos && !json_is_null(cameos)) {
        if (!json_is_array(cameos)) {
            api_reply_error(r, 400, "invalid_request", "cameos must be an array of usernames");
            return -1;
        }
        if (json_array_size(cameos) > MAX_CAMEOS) {
            api_reply_error(r, 400, "invalid_request", "cameos has more than %d usernames", MAX_CAMEOS);
            return -1;
        }
        size_t i;
        json_t *v;
        json_array_foreach(cameos, i, v) {
            if (!json_is_string(v) || !feed_username_valid(json_string_value(v))) {
                api_reply_error(r, 400, "invalid_request", "cameos must hold usernames");
                return -1;
            }
            const char *name = json_string_value(v);
            if (c->ncameos == 1 && strcmp(c->cameos[0], name) == 0) continue;
            c->cameos[c->ncameos++] = name;
        }
    }
    snprintf(c->cameo_array, sizeof c->cameo_array, "{%s%s%s}", c->ncameos > 0 ? c->cameos[0] : "",
             c->ncameos > 1 ? "," : "", c->ncameos > 1 ? c->cameos[1] : "");
    c->key = api_header(r, "Idempotency-Key");
    if (c->key && (strlen(c->key) == 0 || strlen(c->key) > MAX_IDEMPOTENCY_KEY)) {
        api_reply_error(r, 400, "invalid_request", "Idempotency-Key must be 1 to %d characters", MAX_IDEMPOTENCY_KEY);
        return -1;
    }
    char *canonical = json_dumps(r->body, JSON_SORT_KEYS | JSON_COMPACT);
    if (!canonical) abort();
    sha256_hex(canonical, strlen(canonical), c->body_hash);
    free(canonical);
    sha256_hex(r->raw_body, r->raw_len, c->raw_hash);
    return 0;
}

void api_generation_create(api_req *r)
{
    create *c = arena_alloc(r->arena, sizeof *c);
    memset(c, 0, sizeof *c);
    c->r = r;
    if (parse(c) != 0) return;
    c->user_id = api_viewer_id(r);
    const char *role = r->viewer.role == ROLE_ADMIN ? "admin" : r->viewer.role == ROLE_MODERATOR ? "moderator" : "user";
    db_query *q = db_query_new();
    const char *p0[] = { c->user_id, c->key };
    db_query_add(q, "SELECT request_hash, status, response FROM idempotency_keys "
                    "WHERE user_id = $1::bigint AND key = $2 AND created_at > now() - interval '24 hours'", 2, p0);
    const char *p1[] = { c->user_id, c->cameo_array };
    db_query_add(q,
        "SELECT n.name, u.id, c.permission, u.birth_year, "
        "  EXISTS (SELECT 1 FROM cameo_approvals a WHERE a.owner_id = u.id AND a.user_id = $1::bigint), "
        "  EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = $1::bigint AND f.followee_id = u.id) "
        "  AND EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followee_id = $1::bigint) "
        "FROM unnest($2::text[]) WITH ORDINALITY AS n(name, ord) "
        "LEFT JOIN users u ON u.username = n.name AND NOT u.banned "
        "LEFT JOIN cameos c ON c.user_id = u.id ORDER BY n.ord", 2, p1);
    const char *p2[] = { c->remix_of, c->user_id, r->viewer.minor ? "t" : "f", role };
    db_query_add(q, "SELECT post_visible(p, $2::bigint, $3::boolean, $4), p.allow_remix OR p.author_id = $2::bigint "
                    "FROM posts p WHERE p.id = $1::bigint", 4, p2);
    db_query_add(q, "SELECT term FROM policy_terms", 0, NULL);
    db_run(r->thread->db, q, checked, c);
}

/* ---- reading and cancelling ---- */

static void one_loaded(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such generation");
    if (!res) return;
    reply_json_text(r, 200, PQgetvalue(res, 0, 0));
}

void api_generation_get(api_req *r)
{
    if (!is_digits(r->params[0])) {
        api_reply_error(r, 404, "not_found", "no such generation");
        return;
    }
    const char *params[] = { r->params[0], api_viewer_id(r) };
    db_exec(r->thread->db, "SELECT generation_json(g)::text FROM generations g "
                           "WHERE g.id = $1::bigint AND g.user_id = $2::bigint", 2, params, one_loaded, r);
}

static void list_loaded(void *arg, const db_reply *rep)
{
    api_reply_page(arg, rep, 0, api_row_json, 1);
}

void api_generations_list(api_req *r)
{
    api_list_own(r,
        "SELECT generation_json(g)::text, " API_KEYSET("g.created_at", "g.id") " "
        "FROM generations g WHERE g.user_id = $1::bigint "
        "AND ($2::timestamptz IS NULL OR (g.created_at, g.id) < ($2::timestamptz, $3::bigint)) "
        "ORDER BY g.created_at DESC, g.id DESC LIMIT $4::int", list_loaded);
}

static void canceled(void *arg, const db_reply *rep)
{
    api_reply_done(arg, rep, "no such generation", 409, "conflict", "this generation has already finished");
}

void api_generation_cancel(api_req *r)
{
    if (!is_digits(r->params[0])) {
        api_reply_error(r, 404, "not_found", "no such generation");
        return;
    }
    const char *params[] = { r->params[0], api_viewer_id(r) };
    /* One statement: the row's status decides, under its lock, between canceled and 409. */
    db_exec(r->thread->db,
            "WITH c AS (UPDATE generations SET status = 'canceled', finished_at = now(), updated_at = now() "
            "           WHERE id = $1::bigint AND user_id = $2::bigint AND status IN ('queued', 'running') "
            "           RETURNING id) "
            "SELECT EXISTS (SELECT 1 FROM c) FROM generations WHERE id = $1::bigint AND user_id = $2::bigint",
            2, params, canceled, r);
}
