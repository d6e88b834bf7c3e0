/* media/phash.c: DCT perceptual hash (see phash.h).
 *
 * The 32x32 reduction averages whole boxes of source pixels by hand instead of calling
 * swscale: the hash must not move when a scaler's filter or SIMD path changes between
 * FFmpeg versions, or stored hashes would stop matching new ones. */
#include "media/phash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 32    /* side of the grey reduction */
#define K 8     /* side of the kept low-frequency block */

/* Mean luma (BT.601 weights, 0..255) of each of the 32x32 boxes tiling the picture. */
static void reduce(const media_image *img, double grey[N][N])
{
    int w = media_image_width(img), h = media_image_height(img), stride = media_image_stride(img);
    const uint8_t *px = media_image_pixels(img);
    for (int by = 0; by < N; by++) {
        int y0 = by * h / N, y1 = (by + 1) * h / N;
        if (y1 <= y0) y1 = y0 + 1; /* pictures under 32 pixels reuse rows */
        if (y1 > h) { y0 = h - 1; y1 = h; }
        for (int bx = 0; bx < N; bx++) {
            int x0 = bx * w / N, x1 = (bx + 1) * w / N;
            if (x1 <= x0) x1 = x0 + 1;
            if (x1 > w) { x0 = w - 1; x1 = w; }
            uint64_t sum = 0;
            for (int y = y0; y < y1; y++) {
                const uint8_t *p = px + (size_t)y * stride + (size_t)x0 * 3;
                for (int x = x0; x < x1; x++, p += 3)
                    sum += 299u * p[0] + 587u * p[1] + 114u * p[2];
            }
            grey[by][bx] = (double)sum / 1000.0 / (double)((y1 - y0) * (x1 - x0));
        }
    }
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
