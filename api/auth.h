/* api/auth.h: the bearer-token check in front of protected handlers. */
#ifndef FLICK_API_AUTH_H
#define FLICK_API_AUTH_H

#include "api/router.h"

/* Looks up the request's bearer token, fills r->viewer, checks the role `need`, then calls
 * handler(r). Answers 401 (no or bad token), 403 (role too low) or 503 itself instead. */
void api_auth_run(api_req *r, api_auth need, api_handler handler);

#endif
