/* tests/unit/feed/engagement.c: id strings, RFC 3339 times (checked against the C
 * library's timegm), and event batches as the array literals the INSERT reads. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed/engagement.h"

Test(engagement, id_strings)
{
    int64_t v = -1;
    cr_assert_eq(feed_id_parse("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(feed_id_parse("1234", &v), 0);
    cr_assert_eq(v, 1234);
    cr_assert_eq(feed_id_parse("9223372036854775807", &v), 0);
    cr_assert_eq(v, INT64_MAX);
    const char *bad[] = { "", "-1", "+1", "1.0", "12a", " 1", "1 ", "9223372036854775808",
                          "18446744073709551615", "99999999999999999999", "0x10" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 42;
        cr_assert_eq(feed_id_parse(bad[i], &v), -1, "accepted %s", bad[i]);
        cr_assert_eq(v, 42, "changed the output for %s", bad[i]);
    }
}

Test(engagement, times_match_timegm)
{
    srand(7);
    for (int i = 0; i < 20000; i++) {
        /* Any second from year 1 to 9999, as UTC and at a random offset. */
        struct tm tm = { 0 };
        tm.tm_year = 1 + rand() % 9999 - 1900;
        tm.tm_mon = rand() % 12;
        tm.tm_mday = 1 + rand() % 31;
        tm.tm_hour = rand() % 24;
        tm.tm_min = rand() % 60;
        tm.tm_sec = rand() % 60;
        time_t t = timegm(&tm);     /* normalises the day into the month */
        struct tm n;
        gmtime_r(&t, &n);
        if (n.tm_year + 1900 < 1 || n.tm_year + 1900 > 9999) continue;
        char text[64];
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", n.tm_year + 1900, n.tm_mon + 1,
                 n.tm_mday, n.tm_hour, n.tm_min, n.tm_sec);
        int64_t us;
        cr_assert_eq(feed_time_parse(text, &us), 0, "refused %s", text);
        cr_assert_eq(us, (int64_t)t * 1000000, "%s", text);
        /* The same instant written at an offset of -hh:mm. */
        int off = rand() % (24 * 60);
        time_t local = t - off * 60;
        struct tm l;
        gmtime_r(&local, &l);
        if (l.tm_year + 1900 < 1) continue;
        char shifted[80];
        snprintf(shifted, sizeof shifted, "%04d-%02d-%02dT%02d:%02d:%02d-%02d:%02d", l.tm_year + 1900,
                 l.tm_mon + 1, l.tm_mday, l.tm_hour, l.tm_min, l.tm_sec, off / 60, off % 60);
        cr_assert_eq(feed_time_parse(shifted, &us), 0, "refused %s", shifted);
        cr_assert_eq(us, (int64_t)t * 1000000, "%s", shifted);
    }
}

Test(engagement, time_details)
{
    int64_t us;
    cr_assert_eq(feed_time_parse("1970-01-01T00:00:00Z", &us), 0);
    cr_assert_eq(us, 0);
    cr_assert_eq(feed_time_parse("1970-01-01t00:00:01.5z", &us), 0);
    cr_assert_eq(us, 1500000);
    cr_assert_eq(feed_time_parse("1970-01-01T00:00:00.1234567Z", &us), 0);
    cr_assert_eq(us, 123456);                                       /* truncated to µs */
    cr_assert_eq(feed_time_parse("1970-01-01T02:00:00+02:00", &us), 0);
    cr_assert_eq(us, 0);
    cr_assert_eq(feed_time_parse("1969-12-31T23:59:59Z", &us), 0);
    cr_assert_eq(us, -1000000);
    int64_t next;
    cr_assert_eq(feed_time_parse("2016-12-31T23:59:60Z", &us), 0);  /* a leap second ... */
    cr_assert_eq(feed_time_parse("2017-01-01T00:00:00Z", &next), 0);
    cr_assert_eq(us, next);                                         /* ... is the next one */
    cr_assert_eq(feed_time_parse("2024-02-29T12:00:00Z", &us), 0);
    const char *bad[] = { "", "yesterday", "2026-11-29", "2026-11-29T10:00:00", "2026-11-29 10:00:00Z",
                          "2026-11-29T10:00Z", "2026-11-29T10:00:00.Z", "2026-11-29T10:00:00ZZ",
                          "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
                          "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-29T24:00:00Z",
                          "2026-11-29T10:60:00Z", "2026-11-29T10:00:61Z", "0000-01-01T00:00:00Z",
                          "2026-11-29T10:00:00+24:00", "2026-11-29T10:00:00+02:60", "2026-11-29T10:00:00+0200",
                          "26-11-29T10:00:00Z", "2026-1-29T10:00:00Z", "+2026-11-29T10:00:00Z" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(feed_time_parse(bad[i], &us), -1, "accepted %s", bad[i]);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &e);
    cr_assert_not_null(v, "%s", e.text);
    return v;
}

Test(engagement, a_batch_as_array_literals)
{
    json_t *events = parse("[{\"post_id\": \"12\", \"type\": \"view\"},"
                           " {\"post_id\": \"7\", \"type\": \"complete\", \"watch_ms\": 8000, \"at\": \"1970-01-01T00:00:02Z\"},"
                           " {\"post_id\": \"7\", \"type\": \"not_interested\", \"watch_ms\": null, \"at\": null, \"extra\": 1}]");
    feed_event_batch b;
    char err[160];
    cr_assert_eq(feed_events_parse(events, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.count, 3);
    cr_assert_str_eq(b.post_ids, "{12,7,7}");
    cr_assert_str_eq(b.types, "{view,complete,not_interested}");
    cr_assert_str_eq(b.watch_ms, "{NULL,8000,NULL}");
    cr_assert_str_eq(b.at_us, "{NULL,2000000,NULL}");
    feed_event_batch_clear(&b);
    cr_assert_null(b.post_ids);
    feed_event_batch_clear(&b);         /* twice is fine */
    json_decref(events);

    json_t *empty = json_array();
    cr_assert_eq(feed_events_parse(empty, &b, err, sizeof err), 0);
    cr_assert_eq(b.count, 0);
    cr_assert_str_eq(b.post_ids, "{}");
    cr_assert_str_eq(b.at_us, "{}");
    feed_event_batch_clear(&b);
    json_decref(empty);
}

Test(engagement, one_hundred_at_most)
{
    json_t *events = json_array();
    for (int i = 0; i < FEED_EVENTS_MAX; i++)
        json_array_append_new(events, json_pack("{s:s,s:s}", "post_id", "9223372036854775807", "type", "share"));
    feed_event_batch b;
    char err[160];
    cr_assert_eq(feed_events_parse(events, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(b.count, FEED_EVENTS_MAX);
    cr_assert_eq(strlen(b.post_ids), 2 + FEED_EVENTS_MAX * 19 + FEED_EVENTS_MAX - 1);
    feed_event_batch_clear(&b);
    json_array_append_new(events, json_pack("{s:s,s:s}", "post_id", "1", "type", "view"));
    cr_assert_eq(feed_events_parse(events, &b, err, sizeof err), -1);
    cr_assert(strstr(err, "events") && strstr(err, "100"), "%s", err);
    cr_assert_null(b.post_ids);
    json_decref(events);
}

/* The message for a batch whose event 1 is `bad` (event 0 is fine) names `field`. */
static void refused(const char *bad, const char *field)
{
    char text[512];
    snprintf(text, sizeof text, "[{\"post_id\": \"1\", \"type\": \"view\"}, %s]", bad);
    json_t *events = parse(text);
    feed_event_batch b;
    char err[160] = "";
    cr_assert_eq(feed_events_parse(events, &b, err, sizeof err), -1, "accepted %s", bad);
    cr_assert(strstr(err, field) == err, "%s: \"%s\" does not start with %s", bad, err, field);
    cr_assert_null(b.post_ids);
    json_decref(events);
}

Test(engagement, each_malformed_field_is_named_with_its_index)
{
    refused("3", "events[1] must be an object");
    refused("null", "events[1] must be an object");
    refused("{\"type\": \"view\"}", "events[1].post_id is required");
    refused("{\"post_id\": 1, \"type\": \"view\"}", "events[1].post_id");
    refused("{\"post_id\": \"x\", \"type\": \"view\"}", "events[1].post_id");
    refused("{\"post_id\": \"1\\u00002\", \"type\": \"view\"}", "events[1].post_id");
    refused("{\"post_id\": \"1\"}", "events[1].type is required");
    refused("{\"post_id\": \"1\", \"type\": \"like\"}", "events[1].type");
    refused("{\"post_id\": \"1\", \"type\": [\"view\"]}", "events[1].type");
    refused("{\"post_id\": \"1\", \"type\": \"view\", \"watch_ms\": -1}", "events[1].watch_ms");
    refused("{\"post_id\": \"1\", \"type\": \"view\", \"watch_ms\": 2147483648}", "events[1].watch_ms");
    refused("{\"post_id\": \"1\", \"type\": \"view\", \"watch_ms\": 1.5}", "events[1].watch_ms");
    refused("{\"post_id\": \"1\", \"type\": \"view\", \"watch_ms\": true}", "events[1].watch_ms");
    refused("{\"post_id\": \"1\", \"type\": \"view\", \"at\": \"now\"}", "events[1].at");
    refused("{\"post_id\": \"1\", \"type\": \"view\", \"at\": 0}", "events[1].at");

    feed_event_batch b;
    char err[160];
    json_t *obj = parse("{\"events\": 1}");
    cr_assert_eq(feed_events_parse(json_object_get(obj, "events"), &b, err, sizeof err), -1);
    cr_assert_str_eq(err, "events must be an array");
    cr_assert_eq(feed_events_parse(json_object_get(obj, "missing"), &b, err, sizeof err), -1);
    cr_assert_str_eq(err, "events is required");
    json_decref(obj);
}
