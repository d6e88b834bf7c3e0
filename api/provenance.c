/* api/provenance.c: provenance records (API.md "Provenance"): GET /v1/provenance/{sha256},
 * public, for anyone holding a file to learn where it came from; and POST
 * /v1/provenance/lookup, for moderators, which finds the clips a picture (a screenshot, a
 * re-encoded poster) is perceptually close to. Decoding the upload runs on the CPU pool. Not
 * for writing records: the generation pipeline does that when it stores a video. */
#include "api/handlers.h"

#include "api/server.h"
#include "core/log.h"
#include "media/image.h"
#include "media/phash.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Unrelated pictures are about 32 bits apart (sd 4); a re-encode or rescale of the same frame
 * a few bits. Up to 16 keeps crops and overlays findable while a chance match stays rare
 * (about 4 in 100,000 per record); the closest 20 are plenty for a person to look through. */
#define PROVENANCE_MAX_DISTANCE 16
#define PROVENANCE_MAX_ITEMS 20

/* The record's columns over `p` (a provenance row), read back by record_json. The phash is
 * stored as a signed bigint; to_hex prints its 64 bits as they are. */
#define RECORD_COLS \
    "p.sha256, p.post_id::text, p.generation_id::text, p.engine, p.model, " \
    "lpad(to_hex(p.phash), 16, '0'), api_time(p.created_at)"
#define RECORD_NCOLS 7

/* {sha256, post_id, generation_id, engine, model, phash, created_at} from row `row`. */
static json_t *record_json(const PGresult *res, int row)
{
    return json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:s}",
                     "sha256", PQgetvalue(res, row, 0),
                     "post_id", PQgetisnull(res, row, 1) ? json_null() : json_string(PQgetvalue(res, row, 1)),
                     "generation_id", PQgetvalue(res, row, 2),
                     "engine", PQgetvalue(res, row, 3),
                     "model", PQgetvalue(res, row, 4),
                     "phash", PQgetvalue(res, row, 5),
                     "created_at", PQgetvalue(res, row, 6));
}

/* ---- GET /v1/provenance/{sha256} ---- */

static void record_found(void *arg, const db_reply *rep)
{
    api_req *r = arg;
    const PGresult *res = api_db_row(r, rep, 0, "no provenance record for this hash");
    if (!res) return;
    api_reply_json(r, 200, record_json(res, 0));
}

void api_provenance_get(api_req *r)
{
    const char *given = r->params[0];
    char *sha = arena_strdup(r->arena, given);
    bool ok = strlen(sha) == 64;
    for (char *p = sha; ok && *p; p++) {
        if (*p >= 'A' && *p <= 'F') *p = (char)(*p - 'A' + 'a');
        ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
    }
    if (!ok) {
        api_reply_error(r, 400, "invalid_request", "sha256 must be 64 hexadecimal digits");
        return;
    }
    const char *params[] = { sha };
    db_exec(r->thread->db, "SELECT " RECORD_COLS " FROM provenance p WHERE p.sha256 = $1",
            1, params, record_found, r);
}

/* ---- POST /v1/provenance/lookup ---- */

typedef struct lookup {
    api_req *r;
    int rc;             /* set by the worker: 0 decoded, -1 not a picture we can read */
    uint64_t phash;
    char err[160];      /* why decoding failed, for the log */
} lookup;

/* On a pool thread: the upload is borrowed from the request, which stays alive until the
 * reply, and the reply comes only after this returns. */
static void lookup_hash(void *arg)
{
    lookup *l = arg;
    media_image *img = NULL;
    l->rc = media_image_decode(l->r->raw_body, l->r->raw_len, &img, l->err, sizeof l->err);
    if (l->rc == 0) l->phash = media_phash64(img);
    media_image_free(img);
}

static void lookup_found(void *arg, const db_reply *rep)
{
    lookup *l = arg;
    api_req *r = l->r;
    if (rep->status != DB_OK) {
        api_reply_unavailable(r);
        return;
    }
    const PGresult *res = rep->results[0];
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(items, json_pack("{s:o,s:i}", "record", record_json(res, i),
                                               "distance", atoi(PQgetvalue(res, i, RECORD_NCOLS))));
    api_reply_json(r, 200, json_pack("{s:o}", "items", items));
}

static void lookup_hashed(void *arg, int status)
{
    lookup *l = arg;
    api_req *r = l->r;
    if (status != 0) {
        api_reply_unavailable(r);
        return;
    }
    if (l->rc != 0) {
        char esc[200];
        log_msg(LOG_INFO, "lookup image not decoded", "\"request_id\":\"%s\",\"error\":\"%s\"",
                r->request_id, log_escape(l->err, esc, sizeof esc));
        api_reply_error(r, 400, "invalid_request", "the body is not a readable WebP, JPEG or PNG image");
        return;
    }
    /* bigint holds the 64 bits two's-complement; pass them as that number. */
    int64_t as_signed;
    memcpy(&as_signed, &l->phash, sizeof as_signed);
    char hash[24], max_distance[8], max_items[8];
    snprintf(hash, sizeof hash, "%lld", (long long)as_signed);
    snprintf(max_distance, sizeof max_distance, "%d", PROVENANCE_MAX_DISTANCE);
    snprintf(max_items, sizeof max_items, "%d", PROVENANCE_MAX_ITEMS);
    const char *params[] = { hash, max_distance, max_items };
    /* A scan of every record: fine for a moderator's occasional question; an index over
     * Hamming space (BK-tree, multi-index hashing) is the step when the table grows large. */
    db_exec(r->thread->db,
            "SELECT " RECORD_COLS ", p.distance FROM "
            "(SELECT q.*, bit_count((q.phash # $1::bigint)::bit(64)) AS distance FROM provenance q) p "
            "WHERE p.distance <= $2::int ORDER BY p.distance, p.created_at DESC, p.sha256 LIMIT $3::int",
            3, params, lookup_found, l);
}

/* image/webp, image/jpeg or image/png, parameters ignored. */
static bool image_type_accepted(const char *ctype)
{
    if (!ctype) return false;
    while (*ctype == ' ' || *ctype == '\t') ctype++;
    size_t n = strcspn(ctype, "; \t");
    static const char *const types[] = { "image/webp", "image/jpeg", "image/png" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i]) == n && strncasecmp(ctype, types[i], n) == 0) return true;
    return false;
}

void api_provenance_lookup(api_req *r)
{
    if (!image_type_accepted(api_header(r, "Content-Type"))) {
        api_reply_error(r, 400, "invalid_request",
                        "Content-Type must be image/webp, image/jpeg or image/png");
        return;
    }
    if (r->raw_len == 0) {
        api_reply_error(r, 400, "invalid_request", "the body must hold the image bytes");
        return;
    }
    lookup *l = arena_alloc(r->arena, sizeof *l);
    memset(l, 0, sizeof *l);
    l->r = r;
    work_submit(r->thread->server->cpu, r->thread->work, lookup_hash, lookup_hashed, l);
}
