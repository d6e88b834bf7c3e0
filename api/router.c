/* api/router.c: the route table and its matcher. Routes are few (tens), so a linear scan
 * over pre-split patterns is both simplest and fast enough; measure before changing. */
#include "api/router.h"

#include "api/handlers.h"

#include <event2/http.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#define GET EVHTTP_REQ_GET
#define POST EVHTTP_REQ_POST
#define PUT EVHTTP_REQ_PUT
#define PATCH EVHTTP_REQ_PATCH
#define DELETE EVHTTP_REQ_DELETE

const api_route api_routes[] = {
    { GET,    "/healthz",                         api_healthz,          AUTH_NONE,  0 },
    { GET,    "/readyz",                          api_readyz,           AUTH_NONE,  0 },
    { GET,    "/metrics",                         api_metrics,          AUTH_NONE,  0 },
    { POST,   "/v1/auth/signup",                  api_signup,           AUTH_NONE,  1 },
    { POST,   "/v1/auth/login",                   api_login,            AUTH_NONE,  1 },
    { POST,   "/v1/auth/logout",                  api_logout,           AUTH_USER,  0 },
    { GET,    "/v1/me",                           api_me_get,           AUTH_USER,  0 },
    { PATCH,  "/v1/me",                           api_me_patch,         AUTH_USER,  1 },
    { GET,    "/v1/me/invites",                   api_invites_list,     AUTH_USER,  0 },
    { POST,   "/v1/me/invites",                   api_invites_create,   AUTH_USER,  0 },
    { GET,    "/v1/users/{username}",             api_user_get,         AUTH_USER,  0 },
    { POST,   "/v1/users/{username}/follow",      api_user_follow,      AUTH_USER,  0 },
    { DELETE, "/v1/users/{username}/follow",      api_user_unfollow,    AUTH_USER,  0 },
    { GET,    "/v1/users/{username}/posts",       api_user_posts,       AUTH_USER,  0 },
    { PUT,    "/v1/me/cameo",                     api_cameo_put,        AUTH_USER,  1 },
    { DELETE, "/v1/me/cameo",                     api_cameo_delete,     AUTH_USER,  0 },
    { GET,    "/v1/me/cameo/approvals",           api_cameo_approvals_list, AUTH_USER, 0 },
    { POST,   "/v1/me/cameo/approvals",           api_cameo_approval_add, AUTH_USER, 1 },
    { DELETE, "/v1/me/cameo/approvals/{username}", api_cameo_approval_delete, AUTH_USER, 0 },
    { GET,    "/v1/me/cameo/appearances",         api_cameo_appearances, AUTH_USER, 0 },
    { DELETE, "/v1/posts/{id}/cameos/me",         api_post_cameo_takedown, AUTH_USER, 0 },
    { POST,   "/v1/generations",                  api_generation_create, AUTH_USER, 1 },
    { GET,    "/v1/generations",                  api_generations_list, AUTH_USER,  0 },
    { GET,    "/v1/generations/{id}",             api_generation_get,   AUTH_USER,  0 },
    { DELETE, "/v1/generations/{id}",             api_generation_cancel, AUTH_USER, 0 },
    { GET,    "/v1/drafts",                       api_drafts_list,      AUTH_USER,  0 },
    { GET,    "/v1/posts/{id}",                   api_post_get,         AUTH_USER,  0 },
    { PATCH,  "/v1/posts/{id}",                   api_post_patch,       AUTH_USER,  1 },
    { DELETE, "/v1/posts/{id}",                   api_post_delete,      AUTH_USER,  0 },
    { POST,   "/v1/posts/{id}/publish",           api_post_publish,     AUTH_USER,  2 },
    { POST,   "/v1/posts/{id}/like",              api_post_like,        AUTH_USER,  0 },
    { DELETE, "/v1/posts/{id}/like",              api_post_unlike,      AUTH_USER,  0 },
    { GET,    "/v1/posts/{id}/remixes",           api_post_remixes,     AUTH_USER,  0 },
    { GET,    "/v1/posts/{id}/lineage",           api_post_lineage,     AUTH_USER,  0 },
    { POST,   "/v1/events",                       api_events_post,      AUTH_USER,  1 },
    { GET,    "/v1/feed",                         api_feed_for_you,     AUTH_USER,  0 },
    { GET,    "/v1/feed/following",               api_feed_following,   AUTH_USER,  0 },
    { GET,    "/v1/feed/trending",                api_feed_trending,    AUTH_USER,  0 },
    { GET,    "/v1/me/feed-preferences",          api_feed_prefs_get,   AUTH_USER,  0 },
    { PUT,    "/v1/me/feed-preferences",          api_feed_prefs_put,   AUTH_USER,  1 },
    { GET,    "/v1/me/notifications",             api_notifications_list, AUTH_USER, 0 },
    { POST,   "/v1/me/notifications/read",        api_notifications_read, AUTH_USER, 1 },
    { POST,   "/v1/posts/{id}/reports",           api_post_report,      AUTH_USER,  1 },
    { GET,    "/v1/moderation/queue",             api_moderation_queue, AUTH_MODERATOR, 0 },
    { POST,   "/v1/moderation/queue/claim",       api_moderation_claim, AUTH_MODERATOR, 0 },
    { POST,   "/v1/moderation/cases/{id}/decision", api_moderation_decide, AUTH_MODERATOR, 1 },
    { GET,    "/v1/moderation/audit",             api_moderation_audit, AUTH_MODERATOR, 0 },
    { PUT,    "/v1/admin/users/{username}/role",  api_admin_role_put,   AUTH_ADMIN, 1 },
    { GET,    "/v1/admin/limits",                 api_admin_limits_get, AUTH_ADMIN, 0 },
    { PUT,    "/v1/admin/limits",                 api_admin_limits_put, AUTH_ADMIN, 1 },
    { GET,    "/v1/admin/policy",                 api_admin_policy_get, AUTH_ADMIN, 0 },
    { PUT,    "/v1/admin/policy",                 api_admin_policy_put, AUTH_ADMIN, 1 },
    { GET,    "/v1/media/{media_id}",             api_media_get,        AUTH_NONE,  0 },
    { GET,    "/v1/provenance/{sha256}",          api_provenance_get,   AUTH_NONE,  0 },
    { POST,   "/v1/provenance/lookup",            api_provenance_lookup, AUTH_MODERATOR, 0 },
    { GET,    "/console",                         api_console_redirect, AUTH_NONE,  0 },
    { GET,    "/console/",                        api_console_index,    AUTH_NONE,  0 },
    { GET,    "/console/{asset}",                 api_console_asset,    AUTH_NONE,  0 },
};
const int api_route_count = (int)(sizeof api_routes / sizeof api_routes[0]);

const char *api_method_name(int method)
{
    switch (method) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    default: return "OTHER";
    }
}

/* Matches one pattern against a path segment by segment; fills params on success. */
static bool match(const char *pattern, const char *path, arena *a, const char **params)
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pend = strchr(p, '}');
            const char *send = strchr(s, '/');
            if (!send) send = s + strlen(s);
            if (send == s || np >= API_MAX_PARAMS) return false;
            /* A parameter must decode to text: one holding a NUL or bytes that are not
             * UTF-8 names nothing that can exist (and would reach the database cut short, or
             * be refused there), so the path matches no route. */
            char *raw = strndup(s, (size_t)(send - s));
            size_t len = 0;
            char *dec = raw ? evhttp_uridecode(raw, 0, &len) : NULL;
            free(raw);
            bool text = dec && strlen(dec) == len && u8_check((const uint8_t *)dec, len) == NULL;
            if (text && params) params[np] = arena_strdup(a, dec);
            free(dec);
            if (!text) return false;
            np++;
            p = pend + 1;
            s = send;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return *p == '\0' && *s == '\0';
}

int api_route_match(int method, const char *path, arena *a, const char **params,
                    char *allow, size_t allowlen)
{
    bool path_known = false;
    size_t used = 0;
    if (allowlen) allow[0] = '\0';
    for (int i = 0; i < api_route_count; i++) {
        if (!match(api_routes[i].pattern, path, a, NULL)) continue;
        /* HEAD is GET without the body: every GET route answers it. */
        if (api_routes[i].method == method || (method == EVHTTP_REQ_HEAD && api_routes[i].method == GET)) {
            match(api_routes[i].pattern, path, a, params);
            return i;
        }
        path_known = true;
        if (used < allowlen) {
            int n = snprintf(allow + used, allowlen - used, "%s%s%s", used ? ", " : "",
                             api_method_name(api_routes[i].method),
                             api_routes[i].method == GET ? ", HEAD" : "");
            if (n > 0) used += (size_t)n;
        }
    }
    return path_known ? -2 : -1;
}
