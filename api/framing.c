/* api/framing.c: the strict request-framing check (see framing.h). A byte-at-a-time state
 * machine: a request head is collected whole (it is small and bounded), checked, and then
 * its body is counted through Content-Length or chunked framing to find where the next
 * request begins. */
#include "api/framing.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

enum {
    S_IDLE,             /* between requests */
    S_HEAD,             /* inside a head, collecting into head[] */
    S_BODY,             /* Content-Length body: `remaining` bytes left */
    S_CHUNK_SIZE,       /* chunked: reading a size line into head[] */
    S_CHUNK_DATA,       /* chunked: `remaining` data bytes left */
    S_CHUNK_CR,         /* chunked: expecting CR after data */
    S_CHUNK_LF,         /* chunked: expecting LF after data */
    S_TRAILER,          /* chunked: trailer lines into head[] until an empty one */
    S_DEAD              /* rejected */
};

void api_framer_init(api_framer *f)
{
    f->state = S_IDLE;
    f->head_len = 0;
    f->remaining = 0;
    f->body_seen = 0;
    f->body_limit = API_MAX_BODY_BYTES;
    f->status = 0;
    f->code = f->message = NULL;
    f->request_id[0] = '\0';
    f->path[0] = '\0';
}

int api_framer_in_request(const api_framer *f)
{
    return f->state != S_IDLE && f->state != S_DEAD;
}

static api_frame_event reject(api_framer *f, int status, const char *code, const char *msg)
{
    f->state = S_DEAD;
    f->status = status;
    f->code = code;
    f->message = msg;
    return FRAME_REJECT;
}

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Trims optional white space around a header value in place (head[] is scratch once
 * checked); returns its start. */
static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *end = '\0';
    return s;
}

/* Checks a complete head (request line + headers, CRLF-terminated lines, ending with an
 * empty line) and sets up body counting. */
static api_frame_event check_head(api_framer *f)
{
    char *p = f->head, *end = f->head + f->head_len;
    /* Request line: METHOD SP target SP HTTP/1.x */
    char *eol = memchr(p, '\n', (size_t)(end - p));
    char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p) return reject(f, 400, "invalid_request", "malformed request line");
    for (char *c = p; c < sp1; c++)
        if (!isupper((unsigned char)*c)) return reject(f, 400, "invalid_request", "malformed request method");
    /* Methods libevent does not know it answers itself, in HTML: refuse them here. */
    static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" };
    int known = 0;
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
        if ((size_t)(sp1 - p) == strlen(methods[m]) && memcmp(p, methods[m], (size_t)(sp1 - p)) == 0) known = 1;
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (!known) {
        size_t n = sp2 ? strcspn(target, "? ") : 0;
        f->path[0] = '\0';
        if (n < sizeof f->path) {
            memcpy(f->path, target, n);
            f->path[n] = '\0';
        }
        return reject(f, 405, "method_not_allowed", "unsupported request method");
    }
    if (!sp2 || sp2 == target) return reject(f, 400, "invalid_request", "malformed request line");
    if (eol - 1 - (sp2 + 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return reject(f, 400, "invalid_request", "unsupported HTTP version");
    for (char *c = target; c < sp2; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return reject(f, 400, "invalid_request", "malformed request target");
    /* Uploads of raw bytes have a larger allowance than JSON bodies. */
    static const char upload[] = "/v1/provenance/lookup";
    size_t tlen = (size_t)(sp2 - target);
    f->body_limit = (tlen >= sizeof upload - 1 && memcmp(target, upload, sizeof upload - 1) == 0 &&
                     (tlen == sizeof upload - 1 || target[sizeof upload - 1] == '?'))
                        ? API_MAX_UPLOAD_BYTES : API_MAX_BODY_BYTES;

    int n_cl = 0, n_te = 0;
    uint64_t content_length = 0;
    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == p + 1) break;        /* the empty line that ends the head */
        if (*p == ' ' || *p == '\t')
            return reject(f, 400, "invalid_request", "folded header lines are not accepted");
        char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) return reject(f, 400, "invalid_request", "malformed header line");
        for (char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return reject(f, 400, "invalid_request", "header name contains white space or control bytes");
        for (char *c = colon + 1; c < eol - 1; c++)
            if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
                return reject(f, 400, "invalid_request", "header value contains control bytes");
        size_t nlen = (size_t)(colon - p);
        char *value = trim(colon + 1, eol - 1);
        if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            if (++n_cl > 1) return reject(f, 400, "invalid_request", "duplicate Content-Length header");
            if (!*value || strlen(value) > 15)
                return reject(f, 400, "invalid_request", "invalid Content-Length header");
            for (char *c = value; *c; c++) {
                if (!isdigit((unsigned char)*c))
                    return reject(f, 400, "invalid_request", "invalid Content-Length header");
                content_length = content_length * 10 + (uint64_t)(*c - '0');
            }
        } else if (nlen == 12 && strncasecmp(p, "X-Request-Id", 12) == 0) {
            size_t vlen = strlen(value);
            if (vlen < sizeof f->request_id) memcpy(f->request_id, value, vlen + 1);
        } else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            if (++n_te > 1) return reject(f, 400, "invalid_request", "duplicate Transfer-Encoding header");
            if (strcasecmp(value, "chunked") != 0)
                return reject(f, 400, "invalid_request", "unsupported Transfer-Encoding (only chunked)");
        }
    }
    if (n_cl && n_te)
        return reject(f, 400, "invalid_request", "Content-Length together with Transfer-Encoding");

    f->head_len = 0;
    f->body_seen = 0;
    if (n_te) {
        f->state = S_CHUNK_SIZE;
        return FRAME_MORE;
    }
    if (content_length > f->body_limit)
        return reject(f, 413, "too_large", "request body is too large");
    f->remaining = content_length;
    f->state = S_BODY;
    if (content_length == 0) {
        f->state = S_IDLE;
        return FRAME_END;
    }
    return FRAME_MORE;
}

/* Parses a chunk-size line in head[] (hex digits, optional ;extension, CRLF). */
static api_frame_event check_chunk_size(api_framer *f)
{
    char *p = f->head, *end = f->head + f->head_len - 2;   /* without CRLF */
    uint64_t size = 0;
    int digits = 0;
    for (; p < end && isxdigit((unsigned char)*p); p++, digits++) {
        if (digits >= 15) return reject(f, 400, "invalid_request", "chunk size is too large");
        size = size * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
    }
    /* Chunk extensions are refused: libevent's chunk parser cannot read them. */
    if (digits == 0 || p != end)
        return reject(f, 400, "invalid_request", "malformed chunk size (extensions are not accepted)");
    f->head_len = 0;
    if (size == 0) {
        f->state = S_TRAILER;
        return FRAME_MORE;
    }
    f->body_seen += size;
    if (f->body_seen > f->body_limit)
        return reject(f, 413, "too_large", "request body is too large");
    f->remaining = size;
    f->state = S_CHUNK_DATA;
    return FRAME_MORE;
}

/* Appends one byte of a CRLF-terminated line to head[]; returns 1 when the line is
 * complete, 0 for more, -1 on a bare LF or overflow (already rejected). */
static int line_byte(api_framer *f, char c, api_frame_event *ev)
{
    if (f->head_len >= sizeof f->head) {
        *ev = reject(f, 431, "too_large", "request headers are too large");
        return -1;
    }
    f->head[f->head_len++] = c;
    if (c != '\n') return 0;
    if (f->head_len < 2 || f->head[f->head_len - 2] != '\r') {
        *ev = reject(f, 400, "invalid_request", "lines must end with CRLF");
        return -1;
    }
    return 1;
}

size_t api_framer_feed(api_framer *f, const char *data, size_t len, api_frame_event *event)
{
    size_t i = 0;
    *event = FRAME_MORE;
    while (i < len) {
        char c = data[i];
        switch (f->state) {
        case S_DEAD:
            *event = FRAME_REJECT;
            return len;
        case S_IDLE:
            f->state = S_HEAD;
            f->head_len = 0;
            f->request_id[0] = '\0';
            *event = FRAME_START;
            return i;       /* the byte is consumed by the next call, in S_HEAD */
        case S_HEAD: {
            int r = line_byte(f, c, event);
            i++;
            if (r < 0) return i;
            if (r == 1) {
                /* The head ends with an empty line: CRLF CRLF. */
                if (f->head_len == 2) {
                    *event = reject(f, 400, "invalid_request", "empty request line");
                    return i;
                }
                if (f->head_len >= 4 && memcmp(f->head + f->head_len - 4, "\r\n\r\n", 4) == 0) {
                    *event = check_head(f);
                    if (*event != FRAME_MORE) return i;
                }
            }
            break;
        }
        case S_BODY: {
            size_t take = len - i;
            if (take > f->remaining) take = (size_t)f->remaining;
            f->remaining -= take;
            i += take;
            if (f->remaining == 0) {
                f->state = S_IDLE;
                *event = FRAME_END;
                return i;
            }
            break;
        }
        case S_CHUNK_SIZE: {
            int r = line_byte(f, c, event);
            i++;
            if (r < 0) return i;
            if (r == 1 && (*event = check_chunk_size(f)) != FRAME_MORE) return i;
            break;
        }
        case S_CHUNK_DATA: {
            size_t take = len - i;
            if (take > f->remaining) take = (size_t)f->remaining;
            f->remaining -= take;
            i += take;
            if (f->remaining == 0) f->state = S_CHUNK_CR;
            break;
        }
        case S_CHUNK_CR:
        case S_CHUNK_LF:
            if (c != (f->state == S_CHUNK_CR ? '\r' : '\n')) {
                *event = reject(f, 400, "invalid_request", "malformed chunk");
                return i + 1;
            }
            i++;
            f->state = f->state == S_CHUNK_CR ? S_CHUNK_LF : S_CHUNK_SIZE;
            break;
        case S_TRAILER: {
            int r = line_byte(f, c, event);
            i++;
            if (r < 0) return i;
            if (r == 1) {
                if (f->head_len == 2) {
                    f->head_len = 0;
                    f->state = S_IDLE;
                    *event = FRAME_END;
                    return i;
                }
                if (f->head[0] == ' ' || f->head[0] == '\t' || !memchr(f->head, ':', f->head_len)) {
                    *event = reject(f, 400, "invalid_request", "malformed trailer");
                    return i;
                }
                f->head_len = 0;
            }
            break;
        }
        }
    }
    return i;
}
