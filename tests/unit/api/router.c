/* tests/unit/api/router.c: matching methods and paths, 404 versus 405, parameters. */
#include <criterion/criterion.h>
#include <event2/http.h>
#include <string.h>

#include "api/router.h"

Test(router, matches_and_extracts_parameters)
{
    arena *a = arena_new(0);
    const char *params[API_MAX_PARAMS] = { 0 };
    char allow[64];
    int i = api_route_match(EVHTTP_REQ_POST, "/v1/users/ana_b/follow", a, params, allow, sizeof allow);
    cr_assert_geq(i, 0);
    cr_assert_str_eq(api_routes[i].pattern, "/v1/users/{username}/follow");
    cr_assert_str_eq(params[0], "ana_b");
    i = api_route_match(EVHTTP_REQ_GET, "/v1/users/a%20b", a, params, allow, sizeof allow);
    cr_assert_geq(i, 0);
    cr_assert_str_eq(params[0], "a b");
    arena_free(a);
}

Test(router, head_is_served_by_the_get_route)
{
    arena *a = arena_new(0);
    const char *params[API_MAX_PARAMS] = { 0 };
    char allow[64];
    int i = api_route_match(EVHTTP_REQ_HEAD, "/v1/users/ana_b", a, params, allow, sizeof allow);
    cr_assert_geq(i, 0);
    cr_assert_eq(api_routes[i].method, EVHTTP_REQ_GET);
    cr_assert_str_eq(params[0], "ana_b");
    arena_free(a);
}

Test(router, not_found_and_method_not_allowed)
{
    arena *a = arena_new(0);
    const char *params[API_MAX_PARAMS] = { 0 };
    char allow[64];
    cr_assert_eq(api_route_match(EVHTTP_REQ_GET, "/v1/nope", a, params, allow, sizeof allow), -1);
    cr_assert_eq(api_route_match(EVHTTP_REQ_GET, "/v1/users//follow", a, params, allow, sizeof allow), -1);
    cr_assert_eq(api_route_match(EVHTTP_REQ_GET, "/v1/me/", a, params, allow, sizeof allow), -1);
    cr_assert_eq(api_route_match(EVHTTP_REQ_DELETE, "/v1/me", a, params, allow, sizeof allow), -2);
    cr_assert_str_eq(allow, "GET, HEAD, PATCH");
    cr_assert_eq(api_route_match(EVHTTP_REQ_HEAD, "/v1/users/ana_b/follow", a, params, allow, sizeof allow), -2);
    cr_assert_str_eq(allow, "POST, DELETE");
    arena_free(a);
}

Test(router, every_route_matches_itself)
{
    arena *a = arena_new(0);
    for (int i = 0; i < api_route_count; i++) {
        char path[256];
        const char *p = api_routes[i].pattern;
        size_t o = 0;
        while (*p) {
            if (*p == '{') { o += (size_t)snprintf(path + o, sizeof path - o, "x1"); p = strchr(p, '}') + 1; }
            else path[o++] = *p++;
        }
        path[o] = '\0';
        const char *params[API_MAX_PARAMS];
        char allow[64];
        cr_assert_eq(api_route_match(api_routes[i].method, path, a, params, allow, sizeof allow), i, "%s", path);
    }
    arena_free(a);
}
