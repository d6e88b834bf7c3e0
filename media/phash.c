/* media/phash.c: DCT perceptual hash (see phash.h).
 *
 * The 32x32 reduction is an exact area average written out here instead of a swscale call:
 * the hash must not move when a scaler's filter or SIMD path changes between FFmpeg
 * versions, or stored hashes would stop matching new ones. */
#include "media/phash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define N 32    /* side of the grey reduction */
#define K 8     /* side of the kept low-frequency block */

/* Averages n samples (rows apart by `step`) into N cells by exact area: each cell covers
 * n/N samples, counting the partly covered samples at its ends by their overlap. Exact
 * coverage matters for small pictures, where whole-pixel boxes would jitter by a pixel. */
static void area_reduce(const double *in, int n, int step, double *out, int out_step)
{
    double cell = (double)n / N;
    for (int k = 0; k < N; k++) {
        double lo = k * cell, hi = (k + 1) * cell, sum = 0;
        for (int i = (int)lo; i < n && i < hi; i++) {
            double a = i < lo ? lo : i, b = i + 1 > hi ? hi : i + 1;
            sum += in[(size_t)i * step] * (b - a);
        }
        out[(size_t)k * out_step] = sum / cell;
    }
}

/* Mean luma (BT.601 weights, 0..255) of each of the 32x32 cells tiling the picture. */
static void reduce(const media_image *img, double grey[N][N])
{
    int w = media_image_width(img), h = media_image_height(img), stride = media_image_stride(img);
    const uint8_t *px = media_image_pixels(img);
    double *luma = xmalloc((size_t)w * sizeof *luma);
    double *cols = xmalloc((size_t)h * N * sizeof *cols); /* h rows of N cells */
    for (int y = 0; y < h; y++) {
        const uint8_t *p = px + (size_t)y * stride;
        for (int x = 0; x < w; x++, p += 3)
            luma[x] = (299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000.0;
        area_reduce(luma, w, 1, cols + (size_t)y * N, 1);
    }
    for (int x = 0; x < N; x++) area_reduce(cols + x, h, N, &grey[0][x], N);
    free(luma);
    free(cols);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

uint64_t media_phash64(const media_image *img)
{
    static const double pi = 3.14159265358979323846;
    double grey[N][N], cosines[K + 1][N], rows[K + 1][N], coef[K * K], sorted[K * K];

    reduce(img, grey);
    for (int u = 0; u <= K; u++)
        for (int x = 0; x < N; x++) cosines[u][x] = cos((2 * x + 1) * u * pi / (2 * N));
    /* Separable DCT-II, computing only frequencies 0..8 of each axis: rows first ... */
    for (int u = 0; u <= K; u++)
        for (int y = 0; y < N; y++) {
            double s = 0;
            for (int x = 0; x < N; x++) s += cosines[u][x] * grey[y][x];
            rows[u][y] = s;
        }
    /* ... then columns, keeping frequencies 1..8 on both axes (no DC row or column: they
     * carry overall brightness, which says little about what the picture shows). */
    for (int v = 1; v <= K; v++)
        for (int u = 1; u <= K; u++) {
            double s = 0;
            for (int y = 0; y < N; y++) s += cosines[v][y] * rows[u][y];
            coef[(v - 1) * K + (u - 1)] = s;
        }
    memcpy(sorted, coef, sizeof coef);
    qsort(sorted, K * K, sizeof sorted[0], cmp_double);
    double median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2.0;
    uint64_t hash = 0;
    for (int i = 0; i < K * K; i++)
        if (coef[i] > median) hash |= 1ULL << i;
    return hash;
}

int media_phash_distance(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}

char *media_phash_hex(uint64_t hash, char *buf)
{
    snprintf(buf, 17, "%016llx", (unsigned long long)hash);
    return buf;
}
