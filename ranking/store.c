/* ranking/store.c: key names and value encodings of store.h. */
#include "ranking/store.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rank_signal_fields[RANK_SIGNAL_NFIELDS] = { "completes", "skips", "ni", "v", "vt" };

void rank_post_key(int64_t post_id, char *out, size_t len)
{
    snprintf(out, len, "rank:{post:%lld}", (long long)post_id);
}

void rank_snapshot_key(int64_t viewer, const char *snap, char *out, size_t len)
{
    snprintf(out, len, "rank:{feed:%lld}:%s", (long long)viewer, snap);
}

static double field(const redisReply *r, int i)
{
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING || e->len > 40) return 0;
    char buf[48];
    memcpy(buf, e->str, e->len);
    buf[e->len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    return *end == '\0' ? v : 0;
}

void rank_signals_from_reply(const redisReply *reply, double now, rank_signals *s)
{
    s->completes = s->skips = s->not_interested = s->velocity = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != RANK_SIGNAL_NFIELDS) return;
    s->completes = field(reply, 0);
    s->skips = field(reply, 1);
    s->not_interested = field(reply, 2);
    s->velocity = rank_velocity_now(field(reply, 3), field(reply, 4), now);
}

char *rank_snapshot_format(int64_t last_author, const int64_t *ids, int n)
{
    size_t cap = 24 + (size_t)(n > 0 ? n : 0) * 21, used = 0;
    char *s = xmalloc(cap);
    used += (size_t)snprintf(s, cap, "%lld;", (long long)last_author);
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(s + used, cap - used, i ? ",%lld" : "%lld", (long long)ids[i]);
    return s;
}

/* One decimal id from [p, end) into *out; returns the position after it, or NULL. */
static const char *number(const char *p, const char *end, int64_t *out)
{
    int64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 18) v = v * 10 + (*p++ - '0');
    if (p == start || (p < end && *p >= '0' && *p <= '9')) return NULL;
    *out = v;
    return p;
}

int rank_snapshot_parse(const char *text, size_t len, int64_t *last_author, int64_t **ids)
{
    const char *p = text, *end = text + len;
    *ids = NULL;
    if (!(p = number(p, end, last_author)) || p == end || *p++ != ';') return -1;
    int n = 0, cap = 0;
    int64_t *out = NULL;
    while (p < end && n < RANK_SNAPSHOT_MAX_IDS) {
        if (n > 0 && *p++ != ',') goto bad;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            out = xrealloc(out, (size_t)cap * sizeof *out);
        }
        if (!(p = number(p, end, &out[n]))) goto bad;
        n++;
    }
    if (p != end) goto bad;
    *ids = out;
    return n;
bad:
    free(out);
    return -1;
}
