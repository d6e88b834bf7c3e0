/* feed/engagement.h: engagement input as clients send it (POST /v1/events), checked and
 * turned into the arrays one INSERT ... unnest() stores; ids and RFC 3339 times. Pure: no
 * database, no clock. Which events are kept (visible
 * posts only) and how counters follow is SQL's part (api/engagement.c, migrations/0009). */
#ifndef FLICK_FEED_ENGAGEMENT_H
#define FLICK_FEED_ENGAGEMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEED_EVENTS_MAX 100

/* Parses an id string (what every id in the API is: decimal digits, 1..19 of them, at most
 * INT64_MAX) into *out. Returns 0, or -1 if `s` is not one. */
int feed_id_parse(const char *s, int64_t *out);

/* Parses an RFC 3339 date-time ("2026-11-29T10:00:00Z", "...T10:00:00.5+02:00"; 'T'/'Z' in
 * either case) into microseconds since the Unix epoch, UTC. Fractions beyond microseconds
 * are truncated; a leap second (:60) counts as the next second. Returns 0, or -1 if it is
 * not one (bad shape, a field out of range, a day the month lacks, year 0). */
int feed_time_parse(const char *s, int64_t *us);

/* A checked batch of events as PostgreSQL array literals, index i of each being event i:
 * post_ids "{1,2}" (bigint[]), types "{view,share}" (text[]), watch_ms "{1200,NULL}"
 * (int[]), at_us "{...,NULL}" (bigint[], microseconds since the epoch, NULL when absent;
 * the database clamps a time in the future to its now()). Strings owned by the batch. */
typedef struct feed_event_batch {
    int count;                  /* events in the batch, 0..FEED_EVENTS_MAX */
    char *post_ids;
    char *types;
    char *watch_ms;
    char *at_us;
} feed_event_batch;

/* Checks `events` (the body's "events" value, borrowed; NULL when absent) and fills *out.
 * Returns 0, or -1 with a message naming the field and index ("events[3].type must be one
 * of ...") in err (errlen bytes) and *out left empty; nothing of a bad batch is kept. */
int feed_events_parse(const json_t *events, feed_event_batch *out, char *err, size_t errlen);

/* Frees the strings of a batch (a zeroed or emptied one is fine) and empties it. */
void feed_event_batch_clear(feed_event_batch *b);

#endif
