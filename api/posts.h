/* api/posts.h: posts as this request's viewer gets them (signed media URLs for this host). */
#ifndef FLICK_API_POSTS_H
#define FLICK_API_POSTS_H

#include "api/http.h"

/* A `post` object from post_json()'s text; never NULL (a broken row becomes null). */
json_t *api_post_object(api_req *r, const char *json_text);

/* Answers a page of posts: rows of `res` hold post_json() text in column 0 and the cursor
 * payload (sort key) in column 1; `limit` rows are shown, one more means a next page. */
void api_reply_post_page(api_req *r, const void *pgresult, int limit);

#endif
