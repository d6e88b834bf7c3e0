/* feed/drafts.c: the SQL of a new draft (see drafts.h). The remix fields come from the
 * parent row at insert time: remix_root is the parent's root (or the parent itself) and the
 * depth one more than the parent's, so lineage queries never walk the chain. */
#include "feed/drafts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int exec_ok(PGconn *conn, PGresult **res, const char *sql, int n, const char *const *params,
                   char *err, size_t errlen)
{
    *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(*res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return 0;
    snprintf(err, errlen, "%s", PQresultErrorMessage(*res));
    size_t len = strlen(err);
    if (len > 0 && err[len - 1] == '\n') err[len - 1] = '\0';
    return -1;
}

int feed_draft_create(PGconn *conn, const feed_draft *d, long long *post_id,
                      char *err, size_t errlen)
{
    int rc = -1;
    PGresult *res = NULL;
    char author[24], gen[24], seconds[16], parent[24], cameos[FEED_DRAFT_MAX_CAMEOS * 24 + 4];
    snprintf(author, sizeof author, "%lld", d->author_id);
    snprintf(gen, sizeof gen, "%lld", d->generation_id);
    snprintf(seconds, sizeof seconds, "%d", d->seconds);
    snprintf(parent, sizeof parent, "%lld", d->remix_of);
    size_t off = 0;
    off += (size_t)snprintf(cameos + off, sizeof cameos - off, "{");
    for (int i = 0, first = 1; i < FEED_DRAFT_MAX_CAMEOS; i++) {
        if (d->cameo_ids[i] <= 0) continue;
        off += (size_t)snprintf(cameos + off, sizeof cameos - off, "%s%lld", first ? "" : ",",
                                d->cameo_ids[i]);
        first = 0;
    }
    snprintf(cameos + off, sizeof cameos - off, "}");

    /* ON CONFLICT keeps a second finisher of the same generation from making a second
     * draft; the caller's job guard normally stops it earlier. */
    const char *insert_params[] = { author, gen, d->prompt, d->model, seconds, d->aspect, parent };
    if (exec_ok(conn, &res,
                "INSERT INTO posts (author_id, status, generation_id, prompt, model, seconds, aspect, "
                "                   caption, remix_of, remix_root, remix_depth) "
                "SELECT $1::bigint, 'draft', $2::bigint, $3, $4, $5::int, $6, '', "
                "       par.id, COALESCE(par.remix_root, par.id), COALESCE(par.remix_depth + 1, 0) "
                "FROM (SELECT 1) one LEFT JOIN posts par ON par.id = NULLIF($7::bigint, 0) "
                "ON CONFLICT (generation_id) DO NOTHING RETURNING id",
                7, insert_params, err, errlen) != 0)
        goto out;
    if (PQntuples(res) == 0) {
        PQclear(res);
        const char *p[] = { gen };
        if (exec_ok(conn, &res, "SELECT id FROM posts WHERE generation_id = $1::bigint", 1, p,
                    err, errlen) != 0)
            goto out;
        if (PQntuples(res) != 1) {
            snprintf(err, errlen, "the generation's post vanished");
            goto out;
        }
        *post_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        rc = 1;
        goto out;
    }
    *post_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    char post[24];
    snprintf(post, sizeof post, "%lld", *post_id);
    const char *edge_params[] = { post, cameos, author };
    /* Users deleted since the request are skipped rather than failing the draft. */
    if (exec_ok(conn, &res,
                "INSERT INTO post_cameos (post_id, user_id) "
                "SELECT $1::bigint, u.id FROM users u WHERE u.id = ANY($2::bigint[]) "
                "ON CONFLICT DO NOTHING",
                2, edge_params, err, errlen) != 0)
        goto out;
    PQclear(res);
    if (exec_ok(conn, &res,
                "INSERT INTO notifications (user_id, type, actor_id, post_id) "
                "SELECT u.id, 'cameo_used', $3::bigint, $1::bigint FROM users u "
                "WHERE u.id = ANY($2::bigint[]) AND u.id <> $3::bigint "
                "ON CONFLICT DO NOTHING",
                3, edge_params, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    return rc;
}
