/* api/moderation.c: reports on posts, the moderators' queue, claims, decisions and the audit
 * log (API.md "Moderation"). Handlers validate input and call the SQL functions of
 * migrations/0010_moderation.sql, where each move (report, claim, decision) is one
 * transaction with its own locking; this file only builds the answers: a `case` carries its
 * post as the moderator sees it, with signed media URLs. */
#include "api/handlers.h"

#include "api/posts.h"
#include "api/server.h"
#include "core/cursor.h"
#include "feed/moderation.h"

#include <libpq-fe.h>
#include <string.h>

/* The {id} route parameter as a decimal id; otherwise answers 404 `missing` and returns 0
 * (an id that cannot exist is as unknown as one that does not). */
static int id_param(api_req *r, const char *missing)
{
    const char *s = r->params[0];
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n) {
        api_reply_error(r, 404, "not_found", "%s", missing);
        return 0;
    }
    return 1;
}

/* A JSON value from text PostgreSQL built; null if it is broken (never NULL). */
static json_t *json_from_text(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

/* Reads the body's required `field`, which must be one of `words` (named in `words_text`),
 * and its optional `note`. Returns 0, or answers 400 naming the field and returns -1. */
static int read_choice(api_req *r, const char *field, const char *const *words, const char *words_text,
                       const char **word, const char **note)
{
    if (api_body_string(r, field, true, 40, word) ||
        api_body_string(r, "note", false, FEED_REPORT_NOTE_MAX, note))
        return -1;
    if (!feed_moderation_word_valid(words, *word)) {
        api_reply_error(r, 400, "invalid_request", "%s must be one of %s", field, words_text);
        return -1;
    }
    return 0;
}

/* Starts a page: reads ?limit= (kept in r->state for the callback) and ?cursor= into
 * *cursor (arena). Returns 1 with a cursor, 0 without, or -1 after answering 400. */
static int page_start(api_req *r, char **cursor)
{
    int *limit = arena_alloc(r->arena, sizeof *limit);
    *cursor = arena_alloc(r->arena, CURSOR_MAX_PAYLOAD + 1);
    if (api_page_limit(r, limit)) return -1;
    r->state = limit;
    return api_page_cursor(r, *cursor);
}

/* ---- reports ---- */

static void reported(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such post");
    if (!res) return;
    const char *outcome = PQgetvalue(res, 0, 0);
    if (strcmp(outcome, "not_found") == 0) {
        api_reply_error(r, 404, "not_found", "no such post");
        return;
    }
    /* A repeat of an open report answers the existing one and creates nothing. */
    api_reply_json(r, strcmp(outcome, "created") == 0 ? 201 : 200, json_from_text(PQgetvalue(res, 0, 1)));
}

void api_post_report(api_req *r)
{
    if (!id_param(r, "no such post")) return;
    const char *reason, *note;
    if (read_choice(r, "reason", feed_report_reasons, FEED_REPORT_REASONS_TEXT, &reason, &note)) return;
    const char *params[] = { r->params[0], api_viewer_id(r), r->viewer.minor ? "t" : "f",
                             api_viewer_role(r), reason, note };
    db_exec(r->thread->db,
            "SELECT outcome, report::text FROM moderation_report($1::bigint, $2::bigint, $3::boolean, $4, $5, $6)",
            6, params, reported, r);
}

/* ---- cases ---- */

/* The `case` text and its post as the viewer ($1) sees it, for a query over cases `c`. */
#define CASE_SELECT \
    "SELECT case_json(c, now())::text, post_json_for(p, $1::bigint)::text " \
    "FROM moderation_cases c JOIN posts p ON p.id = c.post_id "

/* A `case` object from row `row` of `res`: case_json() text in column `col`, its post's
 * post_json_for() text in column col + 1. Caller owns the reference. */
static json_t *case_object(api_req *r, const PGresult *res, int row, int col)
{
    json_t *c = json_from_text(PQgetvalue(res, row, col));
    if (json_is_object(c)) json_object_set_new(c, "post", api_post_object(r, PQgetvalue(res, row, col + 1)));
    return c;
}

static json_t *case_item(api_req *r, const PGresult *res, int row)
{
    return case_object(r, res, row, 0);
}

/* A page of cases: each row holds the case's text, its post's text, the cursor payload. */
static void cases_loaded(void *arg, const db_reply *rep)
{
    api_reply_page(arg, rep, 0, case_item, 2);
}

/* A page of audit entries: each row holds the entry's text, the cursor payload. */
static void audit_loaded(void *arg, const db_reply *rep)
{
    api_reply_page(arg, rep, 0, api_row_json, 1);
}

void api_moderation_queue(api_req *r)
{
    char *cursor;
    int has_cursor = page_start(r, &cursor);
    if (has_cursor < 0) return;
    const char *asof = NULL, *priority = NULL, *after = NULL;
    if (has_cursor && feed_queue_cursor_parse(cursor, &asof, &priority, &after) != 0) {
        api_reply_error(r, 400, "invalid_request", "cursor is not valid");
        return;
    }
    const char *params[] = { api_viewer_id(r), asof, priority, after,
                             arena_printf(r->arena, "%d", *(int *)r->state + 1) };
    /* Every page computes priorities as of the first page's moment, so the order holds
     * across pages (a case reported again meanwhile may move, as in any live queue). */
    db_exec(r->thread->db,
            "WITH k AS (SELECT COALESCE(timestamptz 'epoch' + $2::bigint * interval '1 microsecond', now()) AS asof), "
            "q AS (SELECT c, case_priority(c, k.asof) AS pr, k.asof FROM moderation_cases c, k WHERE c.status = 'open') "
            "SELECT case_json(q.c, q.asof)::text, post_json_for(p, $1::bigint)::text, "
            "(extract(epoch FROM q.asof) * 1000000)::bigint || '|' || q.pr || '|' || (q.c).id "
            "FROM q JOIN posts p ON p.id = (q.c).post_id "
            "WHERE $3::numeric IS NULL OR q.pr < $3::numeric OR (q.pr = $3::numeric AND (q.c).id > $4::bigint) "
            "ORDER BY q.pr DESC, (q.c).id LIMIT $5::int",
            5, params, cases_loaded, r);
}

/* Answers the case of the last statement: 200 with it, or `none` when there is no row. */
static void reply_case(api_req *r, const db_reply *rep, int none)
{
    const PGresult *res = rep->results[rep->nresults - 1];
    if (PQntuples(res) != 1) {
        if (none == 204) api_reply_empty(r, 204);
        else api_reply_error(r, 404, "not_found", "no such case");
        return;
    }
    api_reply_json(r, 200, case_object(r, res, 0, 0));
}

static void claimed(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    reply_case(r, rep, 204);
}

void api_moderation_claim(api_req *r)
{
    const char *params[] = { api_viewer_id(r) };
    db_query *q = db_query_new();
    db_query_add(q, "SELECT moderation_claim($1::bigint)", 1, params);
    /* The case the claim leased (it runs first in the same transaction). */
    db_query_add(q, CASE_SELECT "WHERE c.status = 'open' AND c.claimed_by = $1::bigint "
                    "AND c.claim_expires_at > now() ORDER BY c.id LIMIT 1", 1, params);
    db_run(r->thread->db, q, claimed, r);
}

static void decided(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no such case");
    if (!res) return;
    const char *outcome = PQgetvalue(res, 0, 0);
    if (strcmp(outcome, "own") == 0)
        api_reply_error(r, 403, "forbidden", "this case is about your own post: another moderator decides it");
    else if (strcmp(outcome, "outranked") == 0)
        api_reply_error(r, 403, "forbidden", "only an admin can ban a moderator or an admin");
    else if (strcmp(outcome, "decided") == 0)
        api_reply_error(r, 409, "conflict", "this case is already decided");
    else if (strcmp(outcome, "held") == 0)
        api_reply_error(r, 409, "conflict", "another moderator holds this case");
    else if (strcmp(outcome, "ok") == 0)
        reply_case(r, rep, 404);
    else
        api_reply_error(r, 404, "not_found", "no such case");
}

void api_moderation_decide(api_req *r)
{
    if (!id_param(r, "no such case")) return;
    const char *action, *note;
    if (read_choice(r, "action", feed_decision_actions, FEED_DECISION_ACTIONS_TEXT, &action, &note)) return;
    const char *me = api_viewer_id(r);
    db_query *q = db_query_new();
    const char *p0[] = { r->params[0], me, action, note, api_viewer_role(r) };
    /* Nobody decides a case about their own post, and only an admin bans a moderator or an
     * admin: refused before moderation_decide() changes anything. */
    db_query_add(q, "SELECT CASE WHEN p.author_id = $2::bigint THEN 'own' "
                    "            WHEN $3 = 'ban_author' AND u.role IN ('moderator', 'admin') AND $5 <> 'admin' "
                    "                 THEN 'outranked' "
                    "            ELSE moderation_decide($1::bigint, $2::bigint, $3, $4) END "
                    "FROM moderation_cases c JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = p.author_id "
                    "WHERE c.id = $1::bigint", 5, p0);
    const char *p1[] = { me, r->params[0] };
    db_query_add(q, CASE_SELECT "WHERE c.id = $2::bigint", 2, p1);
    db_run(r->thread->db, q, decided, r);
}

/* ---- the audit log ---- */

void api_moderation_audit(api_req *r)
{
    char *cursor;
    int has_cursor = page_start(r, &cursor);
    if (has_cursor < 0) return;
    size_t len = strlen(cursor);
    if (has_cursor && (len == 0 || len > 18 || strspn(cursor, "0123456789") != len)) {
        api_reply_error(r, 400, "invalid_request", "cursor is not valid");
        return;
    }
    const char *params[] = { has_cursor ? cursor : NULL, arena_printf(r->arena, "%d", *(int *)r->state + 1) };
    /* Newest first: ids grow with time (entries are only ever appended). */
    db_exec(r->thread->db,
            "SELECT audit_json(a)::text, a.id::text FROM audit_log a "
            "WHERE $1::bigint IS NULL OR a.id < $1::bigint ORDER BY a.id DESC LIMIT $2::int",
            2, params, audit_loaded, r);
}
