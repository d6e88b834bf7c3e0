/* api/metrics.c: request counters and latency histograms (see metrics.h). Status codes are
 * folded into a fixed list so the table is static and lock-free. */
#include "api/metrics.h"

#include "api/router.h"

#include <event2/buffer.h>
#include <stdatomic.h>
#include <stdio.h>

#define MAX_ROUTES 128
static const int statuses[] = { 200, 201, 202, 204, 206, 304, 400, 401, 403, 404, 405, 408,
                                409, 413, 416, 422, 429, 431, 500, 503 };
#define NSTATUS ((int)(sizeof statuses / sizeof statuses[0]))
static const double bounds_s[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25, 0.5, 1, 2.5, 5 };
#define NBUCKET ((int)(sizeof bounds_s / sizeof bounds_s[0]))

/* Slot MAX_ROUTES holds unmatched requests; status slot NSTATUS holds "other". */
static atomic_ulong counts[MAX_ROUTES + 1][NSTATUS + 1];
static atomic_ulong buckets[MAX_ROUTES + 1][NSTATUS + 1][NBUCKET + 1];   /* last: +Inf */
static atomic_ulong sum_us[MAX_ROUTES + 1][NSTATUS + 1];

static int route_slot(int route)
{
    return route >= 0 && route < api_route_count && route < MAX_ROUTES ? route : MAX_ROUTES;
}

void api_metrics_record(int route, int status, uint64_t elapsed_ns)
{
    int r = route_slot(route);
    int s = NSTATUS;
    for (int i = 0; i < NSTATUS; i++)
        if (statuses[i] == status) { s = i; break; }
    atomic_fetch_add_explicit(&counts[r][s], 1, memory_order_relaxed);
    double secs = (double)elapsed_ns / 1e9;
    int b = NBUCKET;
    for (int i = 0; i < NBUCKET; i++)
        if (secs <= bounds_s[i]) { b = i; break; }
    atomic_fetch_add_explicit(&buckets[r][s][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[r][s], elapsed_ns / 1000, memory_order_relaxed);
}

static void route_labels(int r, const char **method, const char **pattern)
{
    if (r == MAX_ROUTES) { *method = "ANY"; *pattern = "unmatched"; return; }
    *method = api_method_name(api_routes[r].method);
    *pattern = api_routes[r].pattern;
}

void api_metrics_write(struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP flick_http_requests_total HTTP requests answered, by route and status.\n"
                             "# TYPE flick_http_requests_total counter\n");
    for (int r = 0; r <= MAX_ROUTES; r++) {
        if (r < MAX_ROUTES && r >= api_route_count) continue;
        const char *m, *p;
        route_labels(r, &m, &p);
        for (int s = 0; s <= NSTATUS; s++) {
            unsigned long n = atomic_load_explicit(&counts[r][s], memory_order_relaxed);
            if (!n) continue;
            if (s < NSTATUS)
                evbuffer_add_printf(out, "flick_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %lu\n", m, p, statuses[s], n);
            else
                evbuffer_add_printf(out, "flick_http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} %lu\n", m, p, n);
        }
    }
    evbuffer_add_printf(out, "# HELP flick_http_request_duration_seconds Time from request to reply, by route and status.\n"
                             "# TYPE flick_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= MAX_ROUTES; r++) {
        if (r < MAX_ROUTES && r >= api_route_count) continue;
        const char *m, *p;
        route_labels(r, &m, &p);
        for (int s = 0; s <= NSTATUS; s++) {
            unsigned long total = 0;
            for (int b = 0; b <= NBUCKET; b++) total += atomic_load_explicit(&buckets[r][s][b], memory_order_relaxed);
            if (!total) continue;
            char labels[200];
            if (s < NSTATUS) snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"%d\"", m, p, statuses[s]);
            else snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"other\"", m, p);
            unsigned long cum = 0;
            for (int b = 0; b < NBUCKET; b++) {
                cum += atomic_load_explicit(&buckets[r][s][b], memory_order_relaxed);
                evbuffer_add_printf(out, "flick_http_request_duration_seconds_bucket{%s,le=\"%g\"} %lu\n", labels, bounds_s[b], cum);
            }
            evbuffer_add_printf(out, "flick_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %lu\n", labels, total);
            evbuffer_add_printf(out, "flick_http_request_duration_seconds_sum{%s} %.6f\n", labels,
                                (double)atomic_load_explicit(&sum_us[r][s], memory_order_relaxed) / 1e6);
            evbuffer_add_printf(out, "flick_http_request_duration_seconds_count{%s} %lu\n", labels, total);
        }
    }
}
