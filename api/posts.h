/* api/posts.h: posts as this request's viewer gets them (signed media URLs for this host). */
#ifndef FLICK_API_POSTS_H
#define FLICK_API_POSTS_H

#include "api/http.h"

/* A `post` object from post_json()'s text; never NULL (a broken row becomes null). */
json_t *api_post_object(api_req *r, const char *json_text);

/* Answers a page of posts (api_reply_page): rows of statement `index` hold post_json_for()
 * text in column 0 and the cursor payload (sort key) in column 1. */
void api_reply_post_page(api_req *r, const struct db_reply *rep, int index);

#endif
