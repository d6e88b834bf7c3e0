/* tests/unit/media/fixture.h: shared set-up for the media/ unit tests: a scratch directory
 * per test, a rendered clip in it, and an independent libavformat/libavcodec decoder to check
 * what media/ wrote without trusting media/'s own reading code.
 *
 * Included by each test file (each is its own binary); everything here is static inline. */
#ifndef FLICK_TESTS_UNIT_MEDIA_FIXTURE_H
#define FLICK_TESTS_UNIT_MEDIA_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "media/avlog.h"
#include "media/render.h"

static char scratch[64];

/* .init of every test: a fresh directory, FFmpeg chatter routed to the JSON log. */
static inline void scratch_make(void)
{
    media_avlog_install();
    strcpy(scratch, "/tmp/flick-media-test-XXXXXX");
    cr_assert_not_null(mkdtemp(scratch));
}

/* Names in the scratch directory (for "nothing left behind" checks). */
static inline int scratch_count(void)
{
    int n = 0;
    DIR *d = opendir(scratch);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* .fini of every test: removes the directory and what is in it. */
static inline void scratch_remove(void)
{
    DIR *d = opendir(scratch);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(scratch);
}

static inline char *scratch_path(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", scratch, name);
    return buf;
}

/* The parameters most tests use: 4 s, standard 9:16, two cameos, a provenance comment. */
static inline media_render_params params_default(const char *prompt)
{
    media_render_params p;
    memset(&p, 0, sizeof p);
    p.prompt = prompt;
    p.seconds = 4;
    p.aspect = "9:16";
    p.quality = MEDIA_QUALITY_STANDARD;
    p.creator = "alice";
    p.cameos[0] = "bob";
    p.cameos[1] = "zoé";
    p.comment = "flick-provenance:123";
    return p;
}

/* Renders p into the scratch directory as `name`; the test fails if rendering does. */
static inline const char *render_into(const media_render_params *p, const char *name,
                                      char *buf, size_t len)
{
    char err[256] = "";
    scratch_path(name, buf, len);
    int rc = media_render_clip(p, buf, err, sizeof err);
    cr_assert_eq(rc, 0, "render failed: %s", err);
    return buf;
}

static inline unsigned char *read_all(const char *path, size_t *len)
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

static inline void write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* What a plain decode of a clip finds. */
typedef struct decoded_clip {
    int frames;           /* frames the decoder produced */
    int width, height;
    char comment[128];    /* the container's "comment" tag, "" if absent */
    unsigned char *luma;  /* malloc'd copy of frame `pick`'s Y plane (width*height), or NULL */
} decoded_clip;

/* Decodes every frame of the video stream of `path`, keeping frame number `pick`'s luma. */
static inline decoded_clip decode_clip(const char *path, int pick)
{
    decoded_clip out;
    memset(&out, 0, sizeof out);
    AVFormatContext *fmt = NULL;
    cr_assert_eq(avformat_open_input(&fmt, path, NULL, NULL), 0);
    cr_assert_geq(avformat_find_stream_info(fmt, NULL), 0);
    const AVDictionaryEntry *c = av_dict_get(fmt->metadata, "comment", NULL, 0);
    if (c) snprintf(out.comment, sizeof out.comment, "%s", c->value);
    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    cr_assert_geq(idx, 0);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, fmt->streams[idx]->codecpar);
    cr_assert_eq(avcodec_open2(dec, codec, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int eof = 0;
    while (!eof) {
        if (av_read_frame(fmt, pkt) < 0) {
            avcodec_send_packet(dec, NULL);
            eof = 1;
        } else {
            if (pkt->stream_index == idx) avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(dec, frame) == 0) {
            if (out.frames == pick) {
                out.width = frame->width;
                out.height = frame->height;
                out.luma = malloc((size_t)frame->width * frame->height);
                for (int y = 0; y < frame->height; y++)
                    memcpy(out.luma + (size_t)y * frame->width,
                           frame->data[0] + (size_t)y * frame->linesize[0], frame->width);
            }
            out.frames++;
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return out;
}

#endif
