/* api/router.h: the table of every route flickd answers, and matching a method and path
 * against it. openapi.yaml describes exactly these routes (a test holds the two equal). */
#ifndef FLICK_API_ROUTER_H
#define FLICK_API_ROUTER_H

#include <stddef.h>

#include "api/http.h"

typedef enum api_auth {
    AUTH_NONE = 0,      /* public */
    AUTH_USER,          /* any signed-in user */
    AUTH_MODERATOR,     /* moderator or admin */
    AUTH_ADMIN          /* admin only */
} api_auth;

typedef void (*api_handler)(api_req *r);

typedef struct api_route {
    int method;             /* one EVHTTP_REQ_* */
    const char *pattern;    /* "/v1/users/{username}/follow": {x} matches one segment */
    api_handler handler;
    api_auth auth;
    int body;               /* 1: a JSON object body is required; 2: optional (absent
                               means {}); 0: the raw body, if any, is the handler's */
} api_route;

extern const api_route api_routes[];
extern const int api_route_count;

/* Finds the route for method+path. Returns its index with params[] set to the {x}
 * segments (arena memory, percent-decoded), or -1 when no route has this path (404), or
 * -2 when the path exists for other methods (405; `allow` gets "GET, POST"). */
int api_route_match(int method, const char *path, arena *a, const char **params,
                    char *allow, size_t allowlen);

/* "GET", "POST", ... */
const char *api_method_name(int method);

#endif
