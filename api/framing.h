/* api/framing.h: a strict, streaming check of HTTP/1.1 request framing, run on the raw
 * bytes of a connection before libevent's parser sees them.
 *
 * libevent's parser is lenient where request smuggling lives (duplicate Content-Length,
 * "Transfer-Encoding : chunked", folded lines, bare LF). This framer accepts only framing
 * that every parser reads the same way, enforces the header and body size limits, and
 * reports where each request starts and ends so the server can hold it to a deadline.
 * It only reads; it never answers (server.c does). */
#ifndef FLICK_API_FRAMING_H
#define FLICK_API_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#define API_MAX_HEAD_BYTES   (16 * 1024)
#define API_MAX_BODY_BYTES   (1024 * 1024)
#define API_MAX_UPLOAD_BYTES (8 * 1024 * 1024)  /* routes that take raw uploads */
#define API_MAX_REQUEST_ID   128  /* the longest X-Request-Id echoed (a trace id fits) */

typedef enum api_frame_event {
    FRAME_MORE = 0,     /* everything consumed; nothing to report */
    FRAME_START,        /* the first byte of a request arrived */
    FRAME_END,          /* a request (head and body) is complete */
    FRAME_REJECT        /* the stream is not acceptable: answer status/code/message, close */
} api_frame_event;

typedef struct api_framer {
    int state;              /* see framing.c */
    char head[API_MAX_HEAD_BYTES]; /* the current request head, as received */
    size_t head_len;        /* bytes of head[] in use */
    uint64_t remaining;     /* body bytes (or chunk bytes) still to come */
    uint64_t body_seen;     /* body bytes of this request so far */
    uint64_t body_limit;    /* for this request's path */
    int status;             /* FRAME_REJECT: HTTP status to answer */
    const char *code;       /* FRAME_REJECT: API error code */
    const char *message;    /* FRAME_REJECT: human sentence naming the problem */
    char path[256];         /* FRAME_REJECT 405: the request's path without its query
                             * ("" if longer), for the refusal's Allow */
    char request_id[API_MAX_REQUEST_ID + 1]; /* the current request's X-Request-Id once its head is read
                             * (unchecked, "" if absent or too long), for the refusal */
} api_framer;

void api_framer_init(api_framer *f);

/* Consumes bytes up to and including the first event and returns how many; *event says
 * which. Call again with the rest. After FRAME_REJECT the framer must not be fed again. */
size_t api_framer_feed(api_framer *f, const char *data, size_t len, api_frame_event *event);

/* 1 while a request has started and not yet ended. */
int api_framer_in_request(const api_framer *f);

#endif
