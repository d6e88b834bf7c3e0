/* api/auth.h: the bearer-token check in front of protected handlers. */
#ifndef FLICK_API_AUTH_H
#define FLICK_API_AUTH_H

#include "api/router.h"

/* Looks up the request's bearer token, fills r->viewer, checks the role `need`, then calls
 * handler(r). Answers 401 (no or bad token), 403 (role too low) or 503 itself instead. */
void api_auth_run(api_req *r, api_auth need, api_handler handler);

/* For routes a token opens but does not have to (media: a signed URL or a token). Without a
 * bearer token, or with an unknown one, r->viewer stays anonymous (id 0) and handler(r) runs
 * all the same; with a valid one r->viewer is filled first. Answers 503 itself when the
 * lookup fails, since the handler could not tell an unknown token from an unchecked one. */
void api_auth_optional(api_req *r, api_handler handler);

#endif
