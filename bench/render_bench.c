/* bench/render_bench.c: the generation pipeline's CPU work, measured in-process for
 * bench/media.sh. Two commands; every result is one line of space-separated fields (the
 * first names the line), so the script can read them with awk.
 *
 *   render_bench render DIR CLIPS SECONDS
 *       Renders CLIPS clips of SECONDS s (9:16, each with its own prompt) at the standard
 *       and then the pro size with media_render_clip, into DIR/<quality>-<n>.mp4. Prints
 *         clip QUALITY N WIDTH HEIGHT WALL_S CPU_S BYTES
 *       per clip and per size
 *         render QUALITY WIDTH HEIGHT CLIPS SECONDS WALL_PER_CLIP_S CPU_PER_CLIP_S
 *       with the medians over the clips of wall and CPU seconds per second of clip. CPU is
 *       the process's CPU time (every thread, the encoder's included).
 *
 *   render_bench thumbs CLIP DIR REPS CWEBP
 *       Makes the thumbnail set of CLIP (media_thumbs_make: poster choice, 3 WebP stills,
 *       animated preview), scales its poster to the stills' sizes exactly as thumb.c does and
 *       writes them as DIR/still-<width>.ppm. Then, after one unmeasured warm-up round, REPS
 *       interleaved rounds of:
 *         a. media_thumbs_make(CLIP), the whole set;
 *         b. media_image_encode_webp(quality 80) of the 3 scaled pictures, stills alone;
 *         c. `CWEBP -q 80 -quiet -v DIR/still-<w>.ppm -o DIR/cwebp-<w>.webp`, the 3 run one
 *            after the other, timed from the first fork to the last exit (process start,
 *            reading the PPM and writing the file included); -v makes cwebp print its own
 *            "Time to read input" (parsing the PPM and, as cwebp reads straight into YUV for
 *            a lossy encode, the RGB to YUV conversion) and "Time to encode picture" (the
 *            encode, writing the file as it goes), each summed over the 3.
 *       Prints the medians over the rounds:
 *         thumbs WIDTH HEIGHT REPS SET_WALL SET_CPU STILLS_WALL STILLS_CPU CWEBP_WALL
 *                CWEBP_CPU CWEBP_ENCODE NSTILLS PREVIEW_FRAMES CWEBP_READ_PLUS_ENCODE
 *       and per still
 *         still WIDTH HEIGHT OUR_BYTES CWEBP_BYTES IDENTICAL(0/1)
 *       CWEBP_CPU is user + system time of the 3 cwebp processes (wait4). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "media/image.h"
#include "media/render.h"
#include "media/thumb.h"

#define MAX_REPS 101
#define STILL_QUALITY 80  /* thumb.c's */

static const int still_widths[MEDIA_THUMB_MAX_STILLS] = { 180, 360, 720 }; /* thumb.c's */

static const char *prompts[] = {
    "a corgi surfing a wave at sunset",
    "neon city streets in the rain at night",
    "paper boats drifting on a mountain lake",
    "a hot air balloon over lavender fields",
    "a robot painting a mural in an alley",
    "fireflies in a pine forest at dusk",
    "a lighthouse in a winter storm",
    "koi fish circling in a stone pond",
    "a desert caravan under a full moon",
};
#define NPROMPTS (int)(sizeof prompts / sizeof prompts[0])

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int positive(const char *s, int max)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= max ? (int)v : -1;
}

static void die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "render_bench: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(1);
}

/* ---- render ---- */

static int cmd_render(const char *dir, int clips, int seconds)
{
    static const struct { media_quality q; const char *name; } sizes[] = {
        { MEDIA_QUALITY_STANDARD, "standard" }, { MEDIA_QUALITY_PRO, "pro" },
    };
    char err[512], path[4096];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        double wall_per[MAX_REPS], cpu_per[MAX_REPS];
        int w, h;
        media_render_size("9:16", sizes[s].q, &w, &h);
        for (int i = 0; i < clips; i++) {
            media_render_params p;
            memset(&p, 0, sizeof p);
            p.prompt = prompts[i % NPROMPTS];
            p.seconds = seconds;
            p.aspect = "9:16";
            p.quality = sizes[s].q;
            p.creator = "bench";
            p.comment = "flick-provenance:bench";
            snprintf(path, sizeof path, "%s/%s-%d.mp4", dir, sizes[s].name, i + 1);
            double w0 = now_wall(), c0 = now_cpu();
            if (media_render_clip(&p, path, err, sizeof err) != 0) die("render %s: %s", path, err);
            double wall = now_wall() - w0, cpu = now_cpu() - c0;
            struct stat st;
            if (stat(path, &st) != 0) die("cannot stat %s%s", path, "");
            printf("clip %s %d %d %d %.4f %.4f %lld\n", sizes[s].name, i + 1, w, h, wall, cpu,
                   (long long)st.st_size);
            fflush(stdout);
            wall_per[i] = wall / seconds;
            cpu_per[i] = cpu / seconds;
        }
        printf("render %s %d %d %d %d %.4f %.4f\n", sizes[s].name, w, h, clips, seconds,
               median(wall_per, clips), median(cpu_per, clips));
        fflush(stdout);
    }
    return 0;
}

/* ---- thumbs ---- */

static void write_ppm(const media_image *img, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write %s: %s", path, strerror(errno));
    int w = media_image_width(img), h = media_image_height(img), stride = media_image_stride(img);
    const uint8_t *px = media_image_pixels(img);
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    for (int y = 0; y < h; y++)
        if (fwrite(px + (size_t)y * stride, 3, (size_t)w, f) != (size_t)w) die("short write to %s%s", path, "");
    if (fclose(f) != 0) die("cannot write %s: %s", path, strerror(errno));
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* Runs cwebp on one PPM (the caller times the three), adding its user + system time to *cpu
 * and its own read and encode times to *read and *encode. */
static void run_cwebp(const char *cwebp, const char *in, const char *out, double *cpu,
                      double *read_s, double *encode)
{
    int fds[2];
    if (pipe(fds) != 0) die("pipe: %s%s", strerror(errno), "");
    pid_t pid = fork();
    if (pid < 0) die("fork: %s%s", strerror(errno), "");
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        execl(cwebp, cwebp, "-q", "80", "-quiet", "-v", in, "-o", out, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char text[4096];
    size_t n = 0;
    ssize_t got;
    while ((got = read(fds[0], text + n, sizeof text - 1 - n)) > 0) n += (size_t)got;
    close(fds[0]);
    text[n] = 0;
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) die("wait4: %s%s", strerror(errno), "");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("cwebp failed on %s: %s", in, text);
    *cpu += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6;
    const char *t = strstr(text, "Time to encode picture:"), *r = strstr(text, "Time to read input:");
    double enc, rd;
    if (!t || sscanf(t, "Time to encode picture: %lfs", &enc) != 1 ||
        !r || sscanf(r, "Time to read input: %lfs", &rd) != 1)
        die("no read or encode time in cwebp -v output: %s%s", text, "");
    *encode += enc;
    *read_s += rd;
}

static int cmd_thumbs(const char *clip, const char *dir, int reps, const char *cwebp)
{
    char err[512], path[4096], out[4096];
    media_thumbs *t = NULL;
    if (media_thumbs_make(clip, &t, err, sizeof err) != 0) die("thumbs of %s: %s", clip, err);

    /* The stills' pictures, as make_stills in thumb.c makes them. */
    const media_image *poster = media_thumbs_poster(t);
    int src_w = media_image_width(poster), src_h = media_image_height(poster);
    media_image *scaled[MEDIA_THUMB_MAX_STILLS] = { NULL };
    int sw[MEDIA_THUMB_MAX_STILLS], sh[MEDIA_THUMB_MAX_STILLS], nstills = 0;
    for (int i = 0; i < MEDIA_THUMB_MAX_STILLS; i++) {
        int w = still_widths[i] < src_w ? still_widths[i] : src_w;
        if (nstills > 0 && sw[nstills - 1] >= w) continue;
        int h = (int)lround((double)w * src_h / src_w);
        if (h < 1) h = 1;
        if (media_image_scale(poster, w, h, &scaled[nstills], err, sizeof err) != 0)
            die("scale: %s%s", err, "");
        sw[nstills] = w;
        sh[nstills] = h;
        snprintf(path, sizeof path, "%s/still-%d.ppm", dir, w);
        write_ppm(scaled[nstills], path);
        nstills++;
    }
    if (nstills != media_thumbs_still_count(t)) die("still count differs from thumb.c's%s%s", "", "");
    int preview_frames = media_thumbs_preview_frames(t);

    /* Our still bytes, to compare with cwebp's output. */
    uint8_t *ours[MEDIA_THUMB_MAX_STILLS] = { NULL };
    size_t ours_len[MEDIA_THUMB_MAX_STILLS] = { 0 };

    double set_wall[MAX_REPS], set_cpu[MAX_REPS], st_wall[MAX_REPS], st_cpu[MAX_REPS];
    double cw_wall[MAX_REPS], cw_cpu[MAX_REPS], cw_enc[MAX_REPS], cw_inproc[MAX_REPS];
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up, not counted */
        media_thumbs *t2 = NULL;
        double w0 = now_wall(), c0 = now_cpu();
        if (media_thumbs_make(clip, &t2, err, sizeof err) != 0) die("thumbs of %s: %s", clip, err);
        double sw_ = now_wall() - w0, sc_ = now_cpu() - c0;
        media_thumbs_free(t2);

        double stw = 0, stc = 0;
        for (int i = 0; i < nstills; i++) {
            uint8_t *buf;
            size_t len;
            double a = now_wall(), b = now_cpu();
            if (media_image_encode_webp(scaled[i], STILL_QUALITY, &buf, &len, err, sizeof err) != 0)
                die("encode: %s%s", err, "");
            stw += now_wall() - a;
            stc += now_cpu() - b;
            free(ours[i]);
            ours[i] = buf;
            ours_len[i] = len;
        }

        double cpu = 0, enc = 0, rd = 0, a = now_wall();
        for (int i = 0; i < nstills; i++) {
            snprintf(path, sizeof path, "%s/still-%d.ppm", dir, sw[i]);
            snprintf(out, sizeof out, "%s/cwebp-%d.webp", dir, sw[i]);
            run_cwebp(cwebp, path, out, &cpu, &rd, &enc);
        }
        double cww = now_wall() - a;
        if (r < 0) continue;
        set_wall[r] = sw_;
        set_cpu[r] = sc_;
        st_wall[r] = stw;
        st_cpu[r] = stc;
        cw_wall[r] = cww;
        cw_cpu[r] = cpu;
        cw_enc[r] = enc;
        cw_inproc[r] = rd + enc;
    }
    printf("thumbs %d %d %d %.4f %.4f %.4f %.4f %.4f %.4f %.4f %d %d %.4f\n", src_w, src_h, reps,
           median(set_wall, reps), median(set_cpu, reps), median(st_wall, reps),
           median(st_cpu, reps), median(cw_wall, reps), median(cw_cpu, reps),
           median(cw_enc, reps), nstills, preview_frames, median(cw_inproc, reps));
    for (int i = 0; i < nstills; i++) {
        size_t len = 0;
        snprintf(out, sizeof out, "%s/cwebp-%d.webp", dir, sw[i]);
        uint8_t *theirs = read_file(out, &len);
        if (!theirs) die("cannot read %s%s", out, "");
        int same = len == ours_len[i] && memcmp(theirs, ours[i], len) == 0;
        printf("still %d %d %zu %zu %d\n", sw[i], sh[i], ours_len[i], len, same);
        free(theirs);
    }
    for (int i = 0; i < nstills; i++) {
        free(ours[i]);
        media_image_free(scaled[i]);
    }
    media_thumbs_free(t);
    return 0;
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR);
    if (argc == 5 && strcmp(argv[1], "render") == 0) {
        int clips = positive(argv[3], MAX_REPS), seconds = positive(argv[4], 12);
        if (clips < 0 || (seconds != 4 && seconds != 8 && seconds != 12))
            die("CLIPS must be 1..%s and SECONDS 4, 8 or 12%s", "101", "");
        return cmd_render(argv[2], clips, seconds);
    }
    if (argc == 6 && strcmp(argv[1], "thumbs") == 0) {
        int reps = positive(argv[4], MAX_REPS);
        if (reps < 0) die("REPS must be 1..%s%s", "101", "");
        return cmd_thumbs(argv[2], argv[3], reps, argv[5]);
    }
    fprintf(stderr, "usage: render_bench render DIR CLIPS SECONDS\n"
                    "       render_bench thumbs CLIP DIR REPS CWEBP\n");
    return 2;
}
