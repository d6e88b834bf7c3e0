/* api/metrics.h: counters behind GET /metrics: requests by route and status, a latency
 * histogram by route. Lock-free (relaxed atomics): any loop thread records, /metrics
 * reads. Not for domain counters (likes, views), which live in Redis and PostgreSQL. */
#ifndef FLICK_API_METRICS_H
#define FLICK_API_METRICS_H

#include <stdint.h>

struct evbuffer;

/* route: index in api_routes, or -1 for requests that matched no route. */
void api_metrics_record(int route, int status, uint64_t elapsed_ns);
/* Appends the HTTP part of the exposition (Prometheus text format). */
void api_metrics_write(struct evbuffer *out);

#endif
