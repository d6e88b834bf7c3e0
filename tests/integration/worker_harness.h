/* tests/integration/worker_harness.h: what the generation-job tests share: `flickd work`
 * and the fake engine as child processes (killed with the test if it dies), blocking SQL
 * against the test database, fixture clips made by tests/tools/render_clip, and independent
 * checks (libavformat, libwebpdemux, libsodium) of the bytes the worker stored.
 *
 * Needs FLICK_DATABASE_URL, FLICK_BIN, FLICK_VAR and FLICK_DATA_DIR as scripts/test.sh
 * exports them (tests skip without the database). Everything here is static inline. */
#ifndef FLICK_TESTS_INTEGRATION_WORKER_HARNESS_H
#define FLICK_TESTS_INTEGRATION_WORKER_HARNESS_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <webp/demux.h>

#include "media/store.h"

#define H_MAX_CHILDREN 16
#define H_MAX_USERS 32

static PGconn *h_db;
static pid_t h_children[H_MAX_CHILDREN];
static long long h_users[H_MAX_USERS];
static int h_nusers;
static char h_root[512];        /* the repository: dirname(dirname(FLICK_BIN)) */
static char h_build[512];       /* the build folder holding flickd */

static inline long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void h_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static inline const char *h_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- SQL ---- */

/* Runs sql with text parameters (NULL-terminated list); the test fails on an error. */
static inline PGresult *h_q(const char *sql, ...)
{
    const char *params[16];
    int n = 0;
    va_list ap;
    va_start(ap, sql);
    for (const char *p; n < 16 && (p = va_arg(ap, const char *));) params[n++] = p;
    va_end(ap);
    PGresult *res = PQexecParams(h_db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(res));
    return res;
}

/* The first column of the first row as a number (0 for NULL or no row). */
#define h_ll(...) h_ll_((h_q(__VA_ARGS__, NULL)))
static inline long long h_ll_(PGresult *res)
{
    long long v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return v;
}

/* ... as a string into a static buffer ("" for NULL or no row). */
#define h_text(...) h_text_((h_q(__VA_ARGS__, NULL)))
static inline const char *h_text_(PGresult *res)
{
    static char buf[4][1024];
    static int slot;
    char *out = buf[slot++ % 4];
    snprintf(out, 1024, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return out;
}

#define h_exec(...) PQclear(h_q(__VA_ARGS__, NULL))

static inline const char *h_id(long long v)
{
    static char buf[8][24];
    static int slot;
    char *out = buf[slot++ % 8];
    snprintf(out, 24, "%lld", v);
    return out;
}

/* A new user named prefix_<random>; with_cameo: has a cameo row (consent given). */
static inline long long h_user(const char *prefix, int with_cameo, char *name_out, size_t len)
{
    char name[31], hex[9];
    unsigned char raw[4];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    snprintf(name, sizeof name, "%.12s_%s", prefix, hex);
    long long id = h_ll("INSERT INTO users (username, password_hash, birth_year) VALUES ($1, 'x', 1990) RETURNING id",
                        name);
    if (with_cameo) h_exec("INSERT INTO cameos (user_id, permission) VALUES ($1::bigint, 'everyone')", h_id(id));
    if (h_nusers < H_MAX_USERS) h_users[h_nusers++] = id;
    if (name_out) snprintf(name_out, len, "%s", name);
    return id;
}

/* Inserts a queued generation as the API does; cameos: a bigint[] literal like "{1,2}". */
static inline long long h_job(long long user, const char *engine, const char *prompt, int seconds,
                              const char *aspect, const char *cameos, long long remix_of)
{
    char secs[8];
    snprintf(secs, sizeof secs, "%d", seconds);
    return h_ll("INSERT INTO generations (user_id, prompt, model, seconds, aspect, cameo_ids, remix_of, engine) "
                "VALUES ($1::bigint, $2, 'standard', $3::int, $4, $5::bigint[], NULLIF($6::bigint, 0), $7) "
                "RETURNING id",
                h_id(user), prompt, secs, aspect, cameos ? cameos : "{}", h_id(remix_of), engine);
}

static inline const char *h_status(long long gen)
{
    return h_text("SELECT status FROM generations WHERE id = $1::bigint", h_id(gen));
}

/* Waits until the job is in one of the space-separated statuses; returns it. */
static inline const char *h_wait_status(long long gen, const char *statuses, int timeout_s)
{
    long long until = h_now_ms() + timeout_s * 1000LL;
    char want[128];
    for (;;) {
        const char *st = h_status(gen);
        snprintf(want, sizeof want, " %s ", statuses);
        char probe[40];
        snprintf(probe, sizeof probe, " %s ", st);
        if (strstr(want, probe)) return st;
        if (h_now_ms() > until)
            cr_assert_fail("generation %lld still %s after %d s (waiting for %s; error %s)", gen, st, timeout_s,
                           statuses, h_text("SELECT coalesce(error_code, '') || ' ' || coalesce(error_message, '') "
                                            "FROM generations WHERE id = $1::bigint", h_id(gen)));
        h_sleep_ms(100);
    }
}

/* ---- child processes ---- */

static inline void h_track(pid_t pid)
{
    for (int i = 0; i < H_MAX_CHILDREN; i++)
        if (!h_children[i]) {
            h_children[i] = pid;
            return;
        }
    cr_assert_fail("too many child processes");
}

static inline void h_untrack(pid_t pid)
{
    for (int i = 0; i < H_MAX_CHILDREN; i++)
        if (h_children[i] == pid) h_children[i] = 0;
}

/* Starts argv with extra NAME=VALUE settings (NULL-terminated), output to log. The child
 * dies with the test process, so a crashed test never leaves a worker claiming jobs. */
static inline pid_t h_spawn(const char *const *argv, const char *const *env, const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    h_track(pid);
    return pid;
}

/* Sends sig and waits up to timeout_s; returns the wait status (the test fails on timeout). */
static inline int h_stop(pid_t pid, int sig, int timeout_s)
{
    int status = 0;
    kill(pid, sig);
    long long until = h_now_ms() + timeout_s * 1000LL;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (h_now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            h_untrack(pid);
            cr_assert_fail("process %d did not exit within %d s of signal %d", (int)pid, timeout_s, sig);
        }
        h_sleep_ms(50);
    }
    h_untrack(pid);
    return status;
}

/* SIGTERM, and the process must exit 0 (a sanitizer report would make it fail). */
static inline void h_stop_clean(pid_t pid, const char *log)
{
    int st = h_stop(pid, SIGTERM, 30);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "flickd did not exit cleanly (status 0x%x); see %s", st, log);
}

static inline void h_log_path(const char *name, char *out, size_t len)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/worker-tests", h_env("FLICK_VAR"));
    mkdir(dir, 0755);
    static int seq;
    snprintf(out, len, "%s/%s-%d-%d.log", dir, name, (int)getpid(), ++seq);
}

/* `flickd <role>` with the test settings plus extra (NULL-terminated NAME=VALUE list). */
static inline pid_t h_flickd(const char *role, const char *const *extra, char *log, size_t loglen)
{
    static char envbuf[24][600];
    const char *env[24];
    int n = 0;
    /* Quick retries and polls, so fault tests take seconds; the lease is overridden by the
     * tests that depend on it. */
    const char *defaults[] = { "FLICK_WORKERS=2", "FLICK_JOB_BACKOFF_MS=50", "FLICK_JOB_MAX_ATTEMPTS=3",
                               "FLICK_ENGINE_TIMEOUT_MS=1500", "FLICK_ENGINE_POLL_MS=100",
                               "FLICK_JOB_POLL_MS=200", "FLICK_LOG_LEVEL=info", NULL };
    for (int i = 0; defaults[i]; i++) snprintf(envbuf[n], sizeof envbuf[n], "%s", defaults[i]), env[n] = envbuf[n], n++;
    for (int i = 0; extra && extra[i] && n < 23; i++)
        snprintf(envbuf[n], sizeof envbuf[n], "%s", extra[i]), env[n] = envbuf[n], n++;
    env[n] = NULL;
    h_log_path(role, log, loglen);
    const char *argv[] = { h_env("FLICK_BIN"), role, NULL };
    return h_spawn(argv, env, log);
}

/* ---- fixtures and the fake engine ---- */

/* A clip rendered once per test run by tests/tools/render_clip (cached under FLICK_VAR). */
static inline const char *h_fixture(int seconds, const char *aspect, char *out, size_t len)
{
    char dir[600], tool[600], secs[8], log[700];
    snprintf(dir, sizeof dir, "%s/worker-fixtures", h_env("FLICK_VAR"));
    mkdir(dir, 0755);
    snprintf(out, len, "%s/clip-%d-%c.mp4", dir, seconds, aspect[0]);
    if (access(out, R_OK) == 0) return out;
    snprintf(tool, sizeof tool, "%s/tests/tools/render_clip", h_build);
    snprintf(secs, sizeof secs, "%d", seconds);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.%d", out, (int)getpid());
    snprintf(log, sizeof log, "%s/render.log", dir);
    const char *argv[] = { tool, tmp, secs, aspect, "standard", "made-elsewhere", NULL };
    pid_t pid = h_spawn(argv, NULL, log);
    int st;
    waitpid(pid, &st, 0);
    h_untrack(pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (wait status 0x%x); see %s", tool, st, log);
    cr_assert_eq(rename(tmp, out), 0);
    return out;
}

typedef struct h_fake {
    pid_t pid;
    int port;
    char url[64];
} h_fake;

#define H_FAKE_KEY "fake-key-123"

/* The fake engine serving a 4 s 9:16 clip (and an 8 s one for wrong_duration). */
static inline h_fake h_fake_start(void)
{
    h_fake f;
    char clip[700], alt[700], script[700], portfile[720], log[700];
    h_fixture(4, "9:16", clip, sizeof clip);
    h_fixture(8, "1:1", alt, sizeof alt);
    snprintf(script, sizeof script, "%s/tests/tools/fake_engine.py", h_root);
    h_log_path("fake-engine", log, sizeof log);
    snprintf(portfile, sizeof portfile, "%s.port", log);
    unlink(portfile);
    const char *argv[] = { "/usr/bin/python3", script, "--clip", clip, "--alt-clip", alt, "--key", H_FAKE_KEY,
                           "--port-file", portfile, NULL };
    f.pid = h_spawn(argv, NULL, log);
    f.port = 0;
    for (int i = 0; i < 200 && !f.port; i++) {
        FILE *fp = fopen(portfile, "r");
        if (fp) {
            if (fscanf(fp, "%d", &f.port) != 1) f.port = 0;
            fclose(fp);
        }
        if (!f.port) h_sleep_ms(50);
    }
    cr_assert_gt(f.port, 0, "the fake engine did not start; see %s", log);
    snprintf(f.url, sizeof f.url, "http://127.0.0.1:%d", f.port);
    return f;
}

static inline size_t h_curl_sink(char *p, size_t s, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, old + s * n + 1);
    memcpy(*buf + old, p, s * n);
    (*buf)[old + s * n] = '\0';
    return s * n;
}

/* A request to a local URL; returns the status, body into *body (malloc'd) if wanted. */
static inline long h_http(const char *method, const char *url, const char *json, char **body)
{
    CURL *c = curl_easy_init();
    char *buf = NULL;
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, h_curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    if (json) curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (body) *body = buf;
    else free(buf);
    return status;
}

/* Tells the fake engine how to behave, e.g. {"mode": "500", "count": 2}. */
static inline void h_fake_mode(const h_fake *f, const char *json)
{
    char url[128];
    snprintf(url, sizeof url, "%s/_mode", f->url);
    cr_assert_eq(h_http("POST", url, json, NULL), 204, "cannot set the fake engine's mode");
}

/* The fake engine's counters; caller decrefs. */
static inline json_t *h_fake_stats(const h_fake *f)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof url, "%s/_stats", f->url);
    cr_assert_eq(h_http("GET", url, NULL, &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    cr_assert_not_null(j);
    return j;
}

static inline long long h_fake_count(const h_fake *f, const char *what)
{
    json_t *s = h_fake_stats(f);
    long long v = json_integer_value(json_object_get(s, what));
    json_decref(s);
    return v;
}

/* ---- the bytes ---- */

static inline unsigned char *h_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Reads a stored object and checks that its name is the SHA-256 of its bytes. */
static inline unsigned char *h_stored(const char *sha, size_t *len, char *path, size_t pathlen)
{
    media_store_path(h_env("FLICK_DATA_DIR"), sha, path, pathlen);
    unsigned char *buf = h_read(path, len);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(digest, buf, *len);
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    cr_assert_str_eq(hex, sha, "stored object %s holds other bytes", path);
    return buf;
}

/* What an independent decode of an MP4 finds. */
typedef struct h_clip {
    int frames, width, height;
    long long duration_ms;
    char comment[128];
} h_clip;

static inline h_clip h_decode(const char *path)
{
    h_clip out;
    memset(&out, 0, sizeof out);
    AVFormatContext *fmt = NULL;
    cr_assert_eq(avformat_open_input(&fmt, path, NULL, NULL), 0, "cannot open %s", path);
    cr_assert_geq(avformat_find_stream_info(fmt, NULL), 0);
    const AVDictionaryEntry *c = av_dict_get(fmt->metadata, "comment", NULL, 0);
    if (c) snprintf(out.comment, sizeof out.comment, "%s", c->value);
    out.duration_ms = fmt->duration / 1000;
    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    cr_assert_geq(idx, 0);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, fmt->streams[idx]->codecpar);
    cr_assert_eq(avcodec_open2(dec, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    for (int eof = 0; !eof;) {
        if (av_read_frame(fmt, pkt) < 0) {
            avcodec_send_packet(dec, NULL);
            eof = 1;
        } else {
            if (pkt->stream_index == idx) avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(dec, frame) == 0) {
            out.width = frame->width;
            out.height = frame->height;
            out.frames++;
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return out;
}

/* Frames of a WebP (1 for a still), checking the RIFF....WEBP signature. */
static inline int h_webp_frames(const unsigned char *buf, size_t len, int *width, int *height)
{
    cr_assert(len > 12 && memcmp(buf, "RIFF", 4) == 0 && memcmp(buf + 8, "WEBP", 4) == 0, "not a WebP file");
    WebPData data = { buf, len };
    WebPDemuxer *d = WebPDemux(&data);
    cr_assert_not_null(d, "libwebpdemux cannot read the file");
    int frames = (int)WebPDemuxGetI(d, WEBP_FF_FRAME_COUNT);
    if (width) *width = (int)WebPDemuxGetI(d, WEBP_FF_CANVAS_WIDTH);
    if (height) *height = (int)WebPDemuxGetI(d, WEBP_FF_CANVAS_HEIGHT);
    WebPDemuxDelete(d);
    return frames;
}

/* Everything a finished job must have produced, exactly once. Returns the post id. */
static inline long long h_check_published(long long gen, long long user, int seconds, int exact_frames)
{
    char g[24], p[24];
    snprintf(g, sizeof g, "%lld", gen);
    cr_assert_str_eq(h_status(gen), "succeeded");
    cr_assert_eq(h_ll("SELECT count(*) FROM posts WHERE generation_id = $1::bigint", g), 1, "one post per job");
    long long post = h_ll("SELECT id FROM posts WHERE generation_id = $1::bigint", g);
    snprintf(p, sizeof p, "%lld", post);
    cr_assert_eq(h_ll("SELECT post_id FROM generations WHERE id = $1::bigint", g), post);
    cr_assert_eq(h_ll("SELECT progress FROM generations WHERE id = $1::bigint", g), 100);
    cr_assert_eq(h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND finished_at IS NOT NULL "
                      "AND lease_owner IS NULL AND error_code IS NULL", g), 1);
    cr_assert_eq(h_ll("SELECT count(*) FROM posts p JOIN generations g ON g.id = p.generation_id "
                      "WHERE p.id = $1::bigint AND p.status = 'draft' AND p.author_id = $2::bigint "
                      "AND p.caption = '' AND p.prompt = g.prompt AND p.model = g.model "
                      "AND p.seconds = g.seconds AND p.aspect = g.aspect", p, h_id(user)), 1,
                 "the draft copies the request");

    /* The video: content-addressed, H.264 MP4 of the right length, tagged. */
    cr_assert_eq(h_ll("SELECT count(*) FROM media WHERE post_id = $1::bigint AND kind = 'video'", p), 1);
    char sha[65], path[700], want[64];
    snprintf(sha, sizeof sha, "%s", h_text("SELECT sha256 FROM media WHERE post_id = $1::bigint AND kind = 'video'", p));
    size_t len;
    unsigned char *mp4 = h_stored(sha, &len, path, sizeof path);
    cr_assert_eq(memcmp(mp4 + 4, "ftyp", 4), 0, "no ftyp box");
    free(mp4);
    cr_assert_eq(h_ll("SELECT bytes FROM media WHERE post_id = $1::bigint AND kind = 'video'", p), (long long)len);
    cr_assert_str_eq(h_text("SELECT mime FROM media WHERE post_id = $1::bigint AND kind = 'video'", p), "video/mp4");
    h_clip c = h_decode(path);
    snprintf(want, sizeof want, "flick-provenance:%lld", gen);
    cr_assert_str_eq(c.comment, want);
    if (exact_frames) cr_assert_eq(c.frames, seconds * 24, "decoded %d frames", c.frames);
    cr_assert(llabs(c.frames * 1000LL / 24 - seconds * 1000LL) <= 1000, "decoded %d frames for %d s", c.frames, seconds);
    cr_assert_eq(h_ll("SELECT width FROM media WHERE post_id = $1::bigint AND kind = 'video'", p), c.width);
    cr_assert_eq(h_ll("SELECT height FROM media WHERE post_id = $1::bigint AND kind = 'video'", p), c.height);
    long long dur = h_ll("SELECT duration_ms FROM media WHERE post_id = $1::bigint AND kind = 'video'", p);
    cr_assert(llabs(dur - seconds * 1000LL) <= 1000, "duration_ms %lld", dur);

    /* Posters: WebP stills, narrowest first, never wider than the clip. */
    PGresult *res = h_q("SELECT sha256, width, height, bytes, mime FROM media "
                        "WHERE post_id = $1::bigint AND kind = 'poster' ORDER BY width", p, NULL);
    int n = PQntuples(res);
    cr_assert(n >= 1 && n <= 3, "%d posters", n);
    for (int i = 0; i < n; i++) {
        int w = atoi(PQgetvalue(res, i, 1)), hgt = atoi(PQgetvalue(res, i, 2)), fw, fh;
        cr_assert_leq(w, c.width, "a poster is wider than the clip");
        cr_assert_str_eq(PQgetvalue(res, i, 4), "image/webp");
        unsigned char *webp = h_stored(PQgetvalue(res, i, 0), &len, path, sizeof path);
        cr_assert_eq(h_webp_frames(webp, len, &fw, &fh), 1);
        cr_assert_eq(fw, w);
        cr_assert_eq(fh, hgt);
        cr_assert_eq(atoll(PQgetvalue(res, i, 3)), (long long)len);
        free(webp);
    }
    cr_assert_eq(atoi(PQgetvalue(res, 0, 1)), 180, "the smallest poster is 180 wide");
    cr_assert_eq(atoi(PQgetvalue(res, n - 1, 1)), c.width < 720 ? c.width : 720);
    PQclear(res);

    /* The preview: an animated WebP loop. */
    cr_assert_eq(h_ll("SELECT count(*) FROM media WHERE post_id = $1::bigint AND kind = 'preview' "
                      "AND mime = 'image/webp'", p), 1);
    unsigned char *prev = h_stored(h_text("SELECT sha256 FROM media WHERE post_id = $1::bigint AND kind = 'preview'", p),
                                   &len, path, sizeof path);
    int frames = h_webp_frames(prev, len, NULL, NULL);
    cr_assert_gt(frames, 3, "the preview has %d frames", frames);
    free(prev);

    /* Provenance: the delivered MP4's hash, this post and job, once. */
    cr_assert_eq(h_ll("SELECT count(*) FROM provenance WHERE generation_id = $1::bigint", g), 1);
    cr_assert_eq(h_ll("SELECT count(*) FROM provenance pr JOIN generations g ON g.id = pr.generation_id "
                      "WHERE pr.generation_id = $1::bigint AND pr.sha256 = $2 AND pr.post_id = $3::bigint "
                      "AND pr.engine = g.engine AND pr.model = g.model", g, sha, p), 1);
    return post;
}

/* A job that did not succeed left nothing behind for users. */
static inline void h_check_unpublished(long long gen)
{
    char g[24];
    snprintf(g, sizeof g, "%lld", gen);
    cr_assert_eq(h_ll("SELECT count(*) FROM posts WHERE generation_id = $1::bigint", g), 0, "a draft was made");
    cr_assert_eq(h_ll("SELECT count(*) FROM provenance WHERE generation_id = $1::bigint", g), 0);
    cr_assert_eq(h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND post_id IS NULL", g), 1);
}

/* ---- suite set-up ---- */

static inline void h_setup(void)
{
    const char *url = h_env("FLICK_DATABASE_URL");
    if (!url || !h_env("FLICK_BIN") || !h_env("FLICK_VAR") || !h_env("FLICK_DATA_DIR"))
        cr_skip_test("FLICK_DATABASE_URL, FLICK_BIN, FLICK_VAR and FLICK_DATA_DIR are needed");
    cr_assert_neq(sodium_init(), -1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char bin[512];
    snprintf(bin, sizeof bin, "%s", h_env("FLICK_BIN"));
    snprintf(h_build, sizeof h_build, "%s", dirname(bin));
    snprintf(bin, sizeof bin, "%s", h_build);
    snprintf(h_root, sizeof h_root, "%s", dirname(bin));
    h_db = PQconnectdb(url);
    cr_assert_eq(PQstatus(h_db), CONNECTION_OK, "%s", PQerrorMessage(h_db));
    h_nusers = 0;
    memset(h_children, 0, sizeof h_children);
}

/* Kills what the test started and cancels its users' unfinished jobs, so no later test's
 * worker picks them up. */
static inline void h_teardown(void)
{
    for (int i = 0; i < H_MAX_CHILDREN; i++)
        if (h_children[i]) {
            kill(h_children[i], SIGKILL);
            waitpid(h_children[i], NULL, 0);
            h_children[i] = 0;
        }
    if (!h_db) return;
    for (int i = 0; i < h_nusers; i++)
        PQclear(PQexecParams(h_db, "UPDATE generations SET status = 'canceled' "
                                   "WHERE user_id = $1::bigint AND status IN ('queued', 'running')",
                             1, NULL, (const char *const[]){ h_id(h_users[i]) }, NULL, NULL, 0));
    PQfinish(h_db);
    h_db = NULL;
}

#endif
