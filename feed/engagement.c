/* feed/engagement.c: checking a batch of engagement events and writing it as the array
 * literals of one INSERT ... unnest(); id strings and RFC 3339 times. */
#include "feed/engagement.h"

#include "core/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The event types of API.md; the events table's CHECK holds the same list. */
static const char *const event_types[] = { "view", "complete", "skip", "share", "not_interested" };
#define N_EVENT_TYPES (sizeof event_types / sizeof event_types[0])

int feed_id_parse(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');   /* 19 digits fit in 64 unsigned bits */
    }
    if (v > INT64_MAX) return -1;
    *out = (int64_t)v;
    return 0;
}

/* Reads exactly n decimal digits at *p into *v and advances *p. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int feed_time_parse(const char *s, int64_t *us)
{
    const char *p = s;
    int year, mon, day, hour, min, sec, frac = 0, off = 0;
    if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) || *p++ != '-' ||
        digits(&p, 2, &day) || (*p != 'T' && *p != 't'))
        return -1;
    p++;
    if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6) frac = frac * 10 + (*p - '0');
        if (n == 0) return -1;
        for (; n < 6; n++) frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0') return -1;
    if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
        hour > 23 || min > 59 || sec > 60)
        return -1;
    int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - off;
    *us = secs * 1000000 + frac;
    return 0;
}

void feed_event_batch_clear(feed_event_batch *b)
{
    free(b->post_ids);
    free(b->types);
    free(b->watch_ms);
    free(b->at_us);
    memset(b, 0, sizeof *b);
}

/* An array literal being written: "{a,b,...}". */
typedef struct literal {
    char *buf;
    size_t len, cap;
} literal;

static void lit_reserve(literal *l, size_t extra)
{
    if (l->len + extra + 1 > l->cap) {
        l->cap = (l->len + extra + 1) * 2;
        l->buf = xrealloc(l->buf, l->cap);
    }
}

static void lit_add(literal *l, const char *item)
{
    size_t n = strlen(item);
    lit_reserve(l, n + 1);
    l->buf[l->len] = l->len == 0 ? '{' : ',';
    memcpy(l->buf + l->len + 1, item, n);
    l->len += n + 1;
    l->buf[l->len] = '\0';
}

/* Closes the literal and hands its buffer over: "{}" when nothing was added. */
static char *lit_end(literal *l)
{
    lit_reserve(l, 2);
    if (l->len == 0) l->buf[l->len++] = '{';
    l->buf[l->len++] = '}';
    l->buf[l->len] = '\0';
    return l->buf;
}

/* Checks event i; on success appends its values to the four literals. */
static int event_parse(const json_t *ev, int i, literal out[4], char *err, size_t errlen)
{
    if (!json_is_object(ev)) {
        snprintf(err, errlen, "events[%d] must be an object", i);
        return -1;
    }
    const json_t *pid = json_object_get(ev, "post_id");
    int64_t id;
    if (!pid || json_is_null(pid)) {
        snprintf(err, errlen, "events[%d].post_id is required", i);
        return -1;
    }
    if (!json_is_string(pid) || strlen(json_string_value(pid)) != json_string_length(pid) ||
        feed_id_parse(json_string_value(pid), &id) != 0) {
        snprintf(err, errlen, "events[%d].post_id must be an id string", i);
        return -1;
    }
    const json_t *type = json_object_get(ev, "type");
    if (!type || json_is_null(type)) {
        snprintf(err, errlen, "events[%d].type is required", i);
        return -1;
    }
    const char *t = json_is_string(type) ? json_string_value(type) : NULL;
    size_t k = 0;
    while (t && k < N_EVENT_TYPES && strcmp(t, event_types[k]) != 0) k++;
    if (!t || k == N_EVENT_TYPES) {
        snprintf(err, errlen, "events[%d].type must be one of view, complete, skip, share, not_interested", i);
        return -1;
    }
    const json_t *watch = json_object_get(ev, "watch_ms");
    char watch_text[24] = "NULL";
    if (watch && !json_is_null(watch)) {
        if (!json_is_integer(watch) || json_integer_value(watch) < 0 || json_integer_value(watch) > INT32_MAX) {
            snprintf(err, errlen, "events[%d].watch_ms must be a whole number from 0 to %d", i, INT32_MAX);
            return -1;
        }
        snprintf(watch_text, sizeof watch_text, "%" JSON_INTEGER_FORMAT, json_integer_value(watch));
    }
    const json_t *at = json_object_get(ev, "at");
    char at_text[24] = "NULL";
    if (at && !json_is_null(at)) {
        int64_t us;
        if (!json_is_string(at) || strlen(json_string_value(at)) != json_string_length(at) ||
            feed_time_parse(json_string_value(at), &us) != 0) {
            snprintf(err, errlen, "events[%d].at must be an RFC 3339 date-time", i);
            return -1;
        }
        snprintf(at_text, sizeof at_text, "%" PRId64, us);
    }
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%" PRId64, id);
    lit_add(&out[0], id_text);
    lit_add(&out[1], event_types[k]);
    lit_add(&out[2], watch_text);
    lit_add(&out[3], at_text);
    return 0;
}

int feed_events_parse(const json_t *events, feed_event_batch *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!events || json_is_null(events)) {
        snprintf(err, errlen, "events is required");
        return -1;
    }
    if (!json_is_array(events)) {
        snprintf(err, errlen, "events must be an array");
        return -1;
    }
    size_t n = json_array_size(events);
    if (n > FEED_EVENTS_MAX) {
        snprintf(err, errlen, "events holds %zu events; at most %d are allowed in one batch", n, FEED_EVENTS_MAX);
        return -1;
    }
    literal lits[4] = { { 0 } };
    for (size_t i = 0; i < n; i++) {
        if (event_parse(json_array_get(events, i), (int)i, lits, err, errlen) != 0) {
            for (int j = 0; j < 4; j++) free(lits[j].buf);
            return -1;
        }
    }
    out->count = (int)n;
    out->post_ids = lit_end(&lits[0]);
    out->types = lit_end(&lits[1]);
    out->watch_ms = lit_end(&lits[2]);
    out->at_us = lit_end(&lits[3]);
    return 0;
}
