/* feed/posts.c: the `post` object's JSON from a FEED_POST_COLS row (see posts.h). */
#include "feed/posts.h"

json_t *feed_post_row_json(const PGresult *res, int row)
{
    json_t *published = PQgetisnull(res, row, 6) ? json_null() : json_string(PQgetvalue(res, row, 6));
    return json_pack("{s:s,s:o,s:s,s:s,s:b,s:s,s:s,s:o}",
                     "id", PQgetvalue(res, row, 0),
                     "author", feed_user_json(res, row, 7),
                     "status", PQgetvalue(res, row, 1),
                     "visibility", PQgetvalue(res, row, 2),
                     "restricted", PQgetvalue(res, row, 3)[0] == 't',
                     "caption", PQgetvalue(res, row, 4),
                     "created_at", PQgetvalue(res, row, 5),
                     "published_at", published);
}
