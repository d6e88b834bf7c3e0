/* tests/unit/api/framing.c: the strict request framer: what it lets through, where it says
 * requests start and end, and what it refuses (the smuggling shapes libevent accepts). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/framing.h"

/* Feeds `s` in pieces of `step` bytes; counts events; returns the last event. */
static api_frame_event feed(api_framer *f, const char *s, size_t step, int *starts, int *ends)
{
    api_frame_event last = FRAME_MORE;
    size_t len = strlen(s);
    for (size_t off = 0; off < len;) {
        size_t n = len - off < step ? len - off : step;
        while (n > 0) {
            api_frame_event ev;
            size_t used = api_framer_feed(f, s + off, n, &ev);
            off += used;
            n -= used;
            if (ev == FRAME_START) (*starts)++;
            if (ev == FRAME_END) (*ends)++;
            if (ev == FRAME_REJECT) return FRAME_REJECT;
            if (ev != FRAME_MORE) last = ev;
        }
    }
    return last;
}

static api_framer fr;

static void expect_ok(const char *s, int requests)
{
    for (size_t step = 1; step <= strlen(s); step = step * 3 + 1) {
        int starts = 0, ends = 0;
        api_framer_init(&fr);
        cr_assert_neq(feed(&fr, s, step, &starts, &ends), FRAME_REJECT, "rejected at step %zu: %s", step, fr.message);
        cr_assert_eq(starts, requests, "step %zu: %d starts", step, starts);
        cr_assert_eq(ends, requests, "step %zu: %d ends", step, ends);
        cr_assert_eq(api_framer_in_request(&fr), 0);
    }
}

static void expect_reject(const char *s, int status)
{
    int starts = 0, ends = 0;
    api_framer_init(&fr);
    cr_assert_eq(feed(&fr, s, 7, &starts, &ends), FRAME_REJECT, "accepted: %s", s);
    cr_assert_eq(fr.status, status, "status %d for %s", fr.status, s);
    cr_assert_not_null(fr.message);
}

Test(framing, plain_and_pipelined_requests)
{
    expect_ok("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    expect_ok("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\nHost: y\r\n\r\n", 2);
    expect_ok("POST /v1/auth/login HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET / HTTP/1.1\r\n\r\n", 2);
}

Test(framing, chunked_bodies_end_where_they_should)
{
    expect_ok("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\n{}\r\na\r\n0123456789\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 2);
    expect_ok("POST /x HTTP/1.1\r\ntransfer-encoding:  Chunked \r\n\r\n0\r\nTrailer: x\r\n\r\n", 1);
}

Test(framing, refuses_ambiguous_length)
{
    expect_reject("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400);
}

Test(framing, refuses_disguised_transfer_encoding)
{
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nX: a\r\n\tTransfer-Encoding: chunked\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTrans\x01" "fer-Encoding: chunked\r\n\r\n", 400);
}

Test(framing, refuses_bare_lf_and_bad_lines)
{
    expect_reject("GET / HTTP/1.1\nHost: x\n\n", 400);
    expect_reject("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);
    expect_reject("GET / HTTP/2.0\r\n\r\n", 400);
    expect_reject("get / HTTP/1.1\r\n\r\n", 400);
    expect_reject("\r\nGET / HTTP/1.1\r\n\r\n", 400);
    expect_reject("GET /\x80 HTTP/1.1\r\n\r\n", 400);
    expect_reject("BREW /pot HTTP/1.1\r\n\r\n", 405);
    expect_reject("CONNECT x:443 HTTP/1.1\r\n\r\n", 405);
}

Test(framing, refuses_malformed_chunks)
{
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\n", 400);
}

Test(framing, limits_head_and_body_sizes)
{
    expect_reject("POST /v1/me HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413);
    int starts = 0, ends = 0;
    api_framer_init(&fr);
    cr_assert_neq(feed(&fr, "POST /v1/provenance/lookup HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 64,
                       &starts, &ends), FRAME_REJECT);
    cr_assert_eq(api_framer_in_request(&fr), 1);
    expect_reject("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413);

    static char big[API_MAX_HEAD_BYTES + 100];
    strcpy(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + strlen(big), 'a', API_MAX_HEAD_BYTES);
    expect_reject(big, 431);
}

Test(framing, keeps_the_refused_requests_id)
{
    expect_reject("POST /v1/me HTTP/1.1\r\nX-Request-Id:  ab-1 \r\nContent-Length: 99999999\r\n\r\n", 413);
    cr_assert_str_eq(fr.request_id, "ab-1");
    /* Each request starts without one; a value too long to keep is not kept. */
    expect_reject("GET / HTTP/1.1\r\nX-Request-Id: first\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413);
    cr_assert_str_eq(fr.request_id, "");
    char head[400];
    snprintf(head, sizeof head, "POST / HTTP/1.1\r\nX-Request-Id: %0*d\r\nContent-Length: 99999999\r\n\r\n",
             API_MAX_REQUEST_ID, 7);
    expect_reject(head, 413);
    cr_assert_eq(strlen(fr.request_id), API_MAX_REQUEST_ID, "the longest kept");
    snprintf(head, sizeof head, "POST / HTTP/1.1\r\nX-Request-Id: %0*d\r\nContent-Length: 99999999\r\n\r\n",
             API_MAX_REQUEST_ID + 1, 7);
    expect_reject(head, 413);
    cr_assert_str_eq(fr.request_id, "");
}

Test(framing, keeps_the_path_of_an_unknown_method)
{
    expect_reject("PROPFIND /v1/posts/7/like?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 405);
    cr_assert_str_eq(fr.path, "/v1/posts/7/like");
    expect_reject("PROPFIND /v1/me HTTP/1.1\r\n\r\n", 405);
    cr_assert_str_eq(fr.path, "/v1/me");
    char head[400];
    snprintf(head, sizeof head, "PROPFIND /%0300d HTTP/1.1\r\n\r\n", 1);
    expect_reject(head, 405);
    cr_assert_str_eq(fr.path, "");
}
