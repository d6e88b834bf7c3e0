/* api/notifications.c: my notifications and marking them read (API.md "Notifications").
 * Rows are written where their cause happens (likes, follows, publishing a remix, the
 * worker's drafts, moderation decisions); which ones a recipient is shown is
 * notification_visible()'s rule (migrations/0009). */
#include "api/handlers.h"
#include "api/server.h"
#include "core/cursor.h"
#include "core/db.h"
#include "feed/engagement.h"

#include <libpq-fe.h>
#include <string.h>

static void notifications_loaded(void *arg, const db_reply *rep)
{
    api_reply_page(arg, rep, 0, api_row_json, 1);
}

/* Newest first; the cursor holds the id of the last one shown. */
void api_notifications_list(api_req *r)
{
    int *limit = arena_alloc(r->arena, sizeof *limit);
    char *cursor = arena_alloc(r->arena, CURSOR_MAX_PAYLOAD + 1);
    if (api_page_limit(r, limit) || api_page_cursor(r, cursor) < 0) return;
    r->state = limit;
    int64_t after;
    if (cursor[0] && feed_id_parse(cursor, &after) != 0) {
        api_reply_error(r, 400, "invalid_request", "cursor is not valid");
        return;
    }
    const char *p[] = { api_viewer_id(r), r->viewer.minor ? "t" : "f", api_viewer_role(r),
                        cursor[0] ? cursor : NULL, arena_printf(r->arena, "%d", *limit + 1) };
    db_exec(r->thread->db,
            "SELECT notification_json(n)::text, n.id::text FROM notifications n "
            "WHERE n.user_id = $1::bigint AND ($4::bigint IS NULL OR n.id < $4::bigint) "
            "AND notification_visible(n, $1::bigint, $2::boolean, $3) "
            "ORDER BY n.id DESC LIMIT $5::int", 5, p, notifications_loaded, r);
}

static void marked(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) api_reply_unavailable(r);
    else api_reply_empty(r, 204);
}

/* Marks every notification of mine with id <= up_to_id read, hidden ones included. */
void api_notifications_read(api_req *r)
{
    const char *up_to;
    int64_t id;
    if (api_body_string(r, "up_to_id", true, 0, &up_to)) return;
    if (feed_id_parse(up_to, &id) != 0) {
        api_reply_error(r, 400, "invalid_request", "up_to_id must be an id string");
        return;
    }
    const char *p[] = { api_viewer_id(r), up_to };
    db_exec(r->thread->db, "UPDATE notifications SET read = true "
                           "WHERE user_id = $1::bigint AND id <= $2::bigint AND NOT read",
            2, p, marked, r);
}
