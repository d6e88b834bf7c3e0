/* api/media.c: GET /v1/media/{id}, the bytes of one stored file (API.md "Media"). A request
 * gets in with a signed URL or a bearer token, and only while the post that owns the file may
 * still be seen; it is answered from the file with sendfile, with ETag/304 and single byte
 * ranges (206/416) for players that seek. Not for storing media (media/store.c) or minting
 * the signed URLs (core/sign.c, when a post is rendered). */
#include "api/handlers.h"

#include "api/auth.h"
#include "api/server.h"
#include "core/log.h"
#include "core/sign.h"
#include "media/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The file's bytes never change under one id (content-addressed), so clients may keep them. */
#define MEDIA_CACHE_CONTROL "public, max-age=31536000, immutable"

typedef struct media_get {
    api_req *r;
    const char *id;         /* the {media_id} segment, digits only */
    bool signed_ok;         /* the query carried a valid, unexpired exp+sig for this id */
} media_get;

/* 1..19 digits: what a bigserial id looks like. Anything else names no media. */
static bool media_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    errno = 0;
    strtoll(s, NULL, 10);
    return errno == 0;
}

/* ---- conditional and range requests ---- */

/* If-None-Match against our entity tag (weak comparison, as RFC 9110 asks for this header):
 * "*", or any listed tag whose opaque part equals ours. */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header) return false;
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return true;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
            return true;
        while (*p && *p != ',') p++;
    }
    return false;
}

typedef enum range_kind {
    RANGE_NONE,             /* no usable Range: send everything with 200 */
    RANGE_PART,             /* one satisfiable range: 206 */
    RANGE_UNSATISFIABLE     /* 416 */
} range_kind;

/* Digits into *out, saturating far above any file size; returns the first byte after them,
 * or NULL when there is no digit. */
static const char *read_number(const char *p, int64_t *out)
{
    if (*p < '0' || *p > '9') return NULL;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*p - '0');
    *out = v;
    return p;
}

/* Reads a Range header against a file of `size` bytes. Single ranges only: "a-b", "a-",
 * "-n". A unit other than bytes is ignored (RFC 9110 requires that), and so is a list of
 * several ranges: players ask for one, and the whole file is a valid answer to any Range. A
 * bytes range that does not parse, ends before it starts, starts at or past the end, or asks
 * for the last 0 bytes is unsatisfiable. */
static range_kind parse_range(const char *h, int64_t size, int64_t *start, int64_t *len)
{
    if (!h) return RANGE_NONE;
    while (*h == ' ' || *h == '\t') h++;
    if (strncasecmp(h, "bytes=", 6) != 0) return RANGE_NONE;
    h += 6;
    if (strchr(h, ',')) return RANGE_NONE;
    while (*h == ' ' || *h == '\t') h++;
    int64_t a = 0, b = -1;
    const char *p;
    if (*h == '-') {
        int64_t n;
        p = read_number(h + 1, &n);
        if (!p || n == 0) return RANGE_UNSATISFIABLE;
        if (size == 0) return RANGE_NONE;
        a = n >= size ? 0 : size - n;
    } else {
        p = read_number(h, &a);
        if (!p || *p != '-') return RANGE_UNSATISFIABLE;
        p++;
        if (*p >= '0' && *p <= '9') p = read_number(p, &b);
        if (b >= 0 && b < a) return RANGE_UNSATISFIABLE;
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p || a >= size) return RANGE_UNSATISFIABLE;
    int64_t last = b < 0 || b >= size ? size - 1 : b;
    *start = a;
    *len = last - a + 1;
    return RANGE_PART;
}

/* ---- the handler ---- */

static void reply_unsatisfiable(api_req *r, int64_t size)
{
    char cr[48];
    snprintf(cr, sizeof cr, "bytes */%lld", (long long)size);
    api_set_header(r, "Content-Range", cr);
    api_reply_error(r, 416, "range_not_satisfiable", "the requested range cannot be served from this file (%lld bytes)",
                    (long long)size);
}

/* The post may be seen: answer from the stored file. */
static void media_send(media_get *m, const char *sha256, const char *mime)
{
    api_req *r = m->r;
    int fd = -1;
    char etag[MEDIA_SHA256_HEX + 2], path[1024];
    snprintf(etag, sizeof etag, "\"%s\"", sha256);

    /* The same tag means the same bytes: no need to touch the file. */
    if (etag_matches(api_header(r, "If-None-Match"), etag)) {
        api_set_header(r, "ETag", etag);
        api_set_header(r, "Cache-Control", MEDIA_CACHE_CONTROL);
        api_set_header(r, "Vary", "Authorization");
        api_reply_empty(r, 304);
        goto out;
    }

    /* Opening a local file does not wait on anything that can stall (no network, no lock),
     * so it happens here on the loop; the bytes themselves go out with sendfile. */
    media_store_path(r->thread->server->cfg.data_dir, sha256, path, sizeof path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char ebuf[128];
    const char *problem = NULL;
    bool missing = false;
    if (fd < 0) {
        missing = errno == ENOENT || errno == ENOTDIR;
        problem = strerror_r(errno, ebuf, sizeof ebuf);
    } else if (fstat(fd, &st) != 0) {
        problem = strerror_r(errno, ebuf, sizeof ebuf);
    } else if (!S_ISREG(st.st_mode)) {
        missing = true;
        problem = "not a regular file";
    }
    if (problem) {
        /* A row without its file is a store fault, not the client's: say so in the log. */
        log_msg(LOG_WARN, missing ? "media file missing from the store" : "cannot open a media file",
                "\"request_id\":\"%s\",\"media_id\":\"%s\",\"sha256\":\"%s\",\"error\":\"%s\"",
                r->request_id, m->id, sha256, problem);
        if (missing) api_reply_not_found(r);
        else api_reply_unavailable(r);
        goto out;
    }

    int64_t size = st.st_size, start = 0, len = size;
    const char *range = api_header(r, "Range");
    /* If-Range with anything but our tag (a date, another tag) asks for the whole file. */
    const char *if_range = api_header(r, "If-Range");
    if (if_range && strcmp(if_range, etag) != 0) range = NULL;
    range_kind kind = parse_range(range, size, &start, &len);
    if (kind == RANGE_UNSATISFIABLE) {
        reply_unsatisfiable(r, size);
        goto out;
    }
    api_set_header(r, "ETag", etag);
    api_set_header(r, "Cache-Control", MEDIA_CACHE_CONTROL);
    api_set_header(r, "Accept-Ranges", "bytes");
    /* A response that a token opened must not be handed by a shared cache to a request
     * without one. */
    api_set_header(r, "Vary", "Authorization");
    if (kind == RANGE_PART) {
        char cr[80];
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)start, (long long)(start + len - 1),
                 (long long)size);
        api_set_header(r, "Content-Range", cr);
    }
    api_reply_file(r, kind == RANGE_PART ? 206 : 200, mime, fd, start, len);
    fd = -1;    /* the reply owns it now */
out:
    if (fd >= 0) close(fd);
}

static void media_found(void *arg, const db_reply *rep)
{
    media_get *m = arg;
    if (rep->status != DB_OK) {
        api_reply_unavailable(m->r);
        return;
    }
    const PGresult *res = rep->results[0];
    if (PQntuples(res) != 1) {
        api_reply_not_found(m->r);
        return;
    }
    media_send(m, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
}

/* Runs once the optional token is checked. A valid token applies the viewer's own rules
 * (post_openable, as for the post's page). A signature was handed out in post.media to whoever could see the post at
 * the time, the author of a draft included, so it opens drafts and published posts alike,
 * but never a post taken down since (removed, hidden, a revoked cameo, a banned author). */
static void media_authorised(api_req *r)
{
    media_get *m = r->state;
    if (!m->signed_ok && r->viewer.id == 0) {
        api_reply_not_found(r);
        return;
    }
    const char *params[] = { m->id, api_viewer_id(r), r->viewer.minor ? "true" : "false",
                             api_viewer_role(r), m->signed_ok ? "true" : "false" };
    db_exec(r->thread->db,
            "SELECT m.sha256, m.mime FROM media m JOIN posts p ON p.id = m.post_id "
            "WHERE m.id = $1::bigint AND ("
            " ($2::bigint <> 0 AND post_openable(p, $2::bigint, $3::boolean, $4::text)) OR"
            " ($5::boolean AND p.status IN ('draft', 'published')"
            "  AND NOT EXISTS (SELECT 1 FROM post_cameos pc WHERE pc.post_id = p.id AND pc.revoked)"
            "  AND NOT EXISTS (SELECT 1 FROM users a WHERE a.id = p.author_id AND a.banned)))",
            5, params, media_found, m);
}

void api_media_get(api_req *r)
{
    const char *id = r->params[0];
    if (!media_id_valid(id)) {
        api_reply_not_found(r);
        return;
    }
    const core_config *cfg = &r->thread->server->cfg;
    media_get *m = arena_alloc(r->arena, sizeof *m);
    *m = (media_get){ .r = r, .id = id };
    m->signed_ok = core_sign_check(cfg->secret, cfg->has_secret_previous ? cfg->secret_previous : NULL,
                                   id, api_query(r, "exp"), api_query(r, "sig"), time(NULL));
    r->state = m;
    api_auth_optional(r, media_authorised);
}
