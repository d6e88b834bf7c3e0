/* api/auth.c: bearer tokens to viewers. Tokens are stored only as SHA-256, so the lookup is
 * by hash: nothing secret is compared byte by byte in user space. A banned user's tokens
 * stop working because the lookup excludes banned users. Viewers found are kept in the
 * process (api/caches.h) until their session or user row changes. */
#include "api/auth.h"

#include "api/caches.h"

#include "api/server.h"
#include "feed/users.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct auth_ctx {
    api_req *r;
    api_auth need;
    api_handler handler;
    bool optional;      /* an unknown token leaves the caller anonymous instead of 401 */
    uint64_t began;     /* the viewer cache's epoch when the lookup started */
} auth_ctx;

/* What the viewer cache keeps of a session's user: `minor` is worked out on each use,
 * since birthdays pass while an entry lives. */
typedef struct cached_viewer {
    int64_t id;
    char username[32];
    api_role role;
    bool pro;
    int birth_year;
} cached_viewer;

/* Fills r->viewer from `cv` and runs the handler if the role suffices. */
static void admit(api_req *r, api_auth need, api_handler handler, const cached_viewer *cv)
{
    api_viewer *v = &r->viewer;
    v->id = cv->id;
    snprintf(v->username, sizeof v->username, "%s", cv->username);
    v->role = cv->role;
    v->pro = cv->pro;
    v->minor = feed_age_years(cv->birth_year) < FEED_ADULT_AGE;
    if ((need == AUTH_MODERATOR && v->role < ROLE_MODERATOR) ||
        (need == AUTH_ADMIN && v->role < ROLE_ADMIN)) {
        api_reply_error(r, 403, "forbidden", "this needs the %s role",
                        need == AUTH_ADMIN ? "admin" : "moderator");
        return;
    }
    handler(r);
}

static void on_viewer(void *arg, const db_reply *rep)
{
    auth_ctx *ctx = arg;
    api_req *r = ctx->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[0];
    if (PQntuples(res) != 1 && ctx->optional) {
        r->viewer.token_hash[0] = '\0';
        ctx->handler(r);
        return;
    }
    if (PQntuples(res) != 1) {
        api_set_header(r, "WWW-Authenticate", "Bearer");
        api_reply_error(r, 401, "unauthorized", "missing or invalid token");
        return;
    }
    cached_viewer cv = { .id = strtoll(PQgetvalue(res, 0, 0), NULL, 10) };
    snprintf(cv.username, sizeof cv.username, "%s", PQgetvalue(res, 0, 1));
    const char *role = PQgetvalue(res, 0, 2);
    cv.role = strcmp(role, "admin") == 0 ? ROLE_ADMIN : strcmp(role, "moderator") == 0 ? ROLE_MODERATOR : ROLE_USER;
    cv.pro = strcmp(PQgetvalue(res, 0, 3), "pro") == 0;
    cv.birth_year = atoi(PQgetvalue(res, 0, 4));
    cache_put(r->thread->server->viewers, ctx->began, r->viewer.token_hash, cv.id, &cv, sizeof cv, 0);
    admit(r, ctx->need, ctx->handler, &cv);
}

/* The token of the Authorization header, or NULL when there is none of the right shape. */
static const char *bearer_token(api_req *r)
{
    const char *h = api_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != FEED_TOKEN_CHARS) return NULL;
    return h + 7;
}

static void lookup(api_req *r, const char *token, api_auth need, api_handler handler, bool optional)
{
    feed_token_hash(token, r->viewer.token_hash);
    cache *viewers = r->thread->server->viewers;
    size_t len;
    cached_viewer *cv = (cached_viewer *)cache_get(viewers, r->viewer.token_hash, &len);
    if (cv && len == sizeof *cv) {
        cached_viewer copy = *cv;
        free(cv);
        admit(r, need, handler, &copy);
        return;
    }
    free(cv);
    auth_ctx *ctx = arena_alloc(r->arena, sizeof *ctx);
    *ctx = (auth_ctx){ r, need, handler, optional, cache_begin(viewers) };
    const char *params[] = { r->viewer.token_hash };
    db_exec(r->thread->db,
            "SELECT u.id, u.username, u.role, u.tier, u.birth_year FROM sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND NOT u.banned",
            1, params, on_viewer, ctx);
}

void api_auth_run(api_req *r, api_auth need, api_handler handler)
{
    const char *token = bearer_token(r);
    if (!token) {
        api_set_header(r, "WWW-Authenticate", "Bearer");
        api_reply_error(r, 401, "unauthorized", "missing or invalid token");
        return;
    }
    lookup(r, token, need, handler, false);
}

void api_auth_optional(api_req *r, api_handler handler)
{
    const char *token = bearer_token(r);
    if (!token) handler(r);
    else lookup(r, token, AUTH_NONE, handler, true);
}
