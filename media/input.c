/* media/input.c: careful libavformat opening of untrusted files (see input.h).
 *
 * The limits are the point of this file: forcing the MP4 demuxer keeps the other few hundred
 * demuxers (and their bugs) away from untrusted bytes, "file" as the only protocol stops a
 * crafted reference from fetching URLs, and the deadline stops a file that makes the demuxer
 * seek back and forth from holding a worker forever. */
#include "media/input.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/time.h>

#include "core/mem.h"
#include "media/error.h"

/* Enough to find the moov box of a faststart file and the first frames of a plain one. */
#define PROBE_BYTES      (5 * 1024 * 1024)
#define ANALYZE_US       (5 * 1000 * 1000)
#define MAX_STREAMS      "8"

typedef struct deadline {
    int64_t at_us;   /* av_gettime_relative() value after which I/O is interrupted */
} deadline;

static int deadline_passed(void *opaque)
{
    const deadline *d = opaque;
    return av_gettime_relative() > d->at_us;
}

int media_input_open(const char *path, int timeout_ms, AVFormatContext **out,
                     char *err, size_t errlen)
{
    int rc = -1, averr;
    AVFormatContext *fmt = NULL;
    AVDictionary *opts = NULL;
    char *url = NULL;
    deadline *dl = NULL;
    struct stat st;

    *out = NULL;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        media_errorf(err, errlen, "not a readable regular file");
        goto out;
    }
    const AVInputFormat *mp4 = av_find_input_format("mp4");
    if (!mp4) {
        media_errorf(err, errlen, "this FFmpeg build has no MP4 demuxer");
        goto out;
    }
    fmt = avformat_alloc_context();
    if (!fmt) abort();
    dl = xmalloc(sizeof *dl);
    dl->at_us = av_gettime_relative() + (int64_t)timeout_ms * 1000;
    fmt->interrupt_callback.callback = deadline_passed;
    fmt->interrupt_callback.opaque = dl;

    av_dict_set(&opts, "protocol_whitelist", "file", 0);
    av_dict_set(&opts, "format_whitelist", "mov,mp4,m4a,3gp,3g2,mj2", 0);
    av_dict_set_int(&opts, "probesize", PROBE_BYTES, 0);
    av_dict_set_int(&opts, "analyzeduration", ANALYZE_US, 0);
    av_dict_set(&opts, "max_streams", MAX_STREAMS, 0);
    /* "file:" so that a name with a colon is never taken for another protocol. */
    size_t n = strlen(path) + 6;
    url = xmalloc(n);
    snprintf(url, n, "file:%s", path);

    /* On failure avformat_open_input frees fmt but not our deadline, hence dl stays ours
     * until the open has succeeded. */
    averr = avformat_open_input(&fmt, url, mp4, &opts);
    if (averr < 0) {
        fmt = NULL;
        media_error_av(err, errlen, "not a readable MP4/MOV file", averr);
        goto out;
    }
    dl = NULL; /* now released by media_input_close through interrupt_callback.opaque */
    averr = avformat_find_stream_info(fmt, NULL);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot read stream info", averr);
        goto out;
    }
    *out = fmt;
    fmt = NULL;
    rc = 0;
out:
    media_input_close(&fmt);
    av_dict_free(&opts);
    free(url);
    free(dl);
    return rc;
}

void media_input_close(AVFormatContext **fmt)
{
    if (!fmt || !*fmt) return;
    void *dl = (*fmt)->interrupt_callback.opaque;
    avformat_close_input(fmt);
    free(dl);
}

int media_input_open_video_decoder(AVFormatContext *fmt, int *stream_index,
                                   AVCodecContext **out, char *err, size_t errlen)
{
    int rc = -1, averr;
    const AVCodec *codec = NULL;
    AVCodecContext *dec = NULL;
    AVDictionary *opts = NULL;

    *out = NULL;
    int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (idx < 0 || !codec) {
        media_errorf(err, errlen, idx == AVERROR_DECODER_NOT_FOUND
                                      ? "no decoder for the video stream"
                                      : "no video stream");
        goto out;
    }
    dec = avcodec_alloc_context3(codec);
    if (!dec) abort();
    averr = avcodec_parameters_to_context(dec, fmt->streams[idx]->codecpar);
    if (averr < 0) {
        media_error_av(err, errlen, "bad video stream parameters", averr);
        goto out;
    }
    dec->pkt_timebase = fmt->streams[idx]->time_base;
    /* One thread: a worker runs several jobs side by side, one core each. */
    dec->thread_count = 1;
    av_dict_set_int(&opts, "max_pixels", MEDIA_INPUT_MAX_PIXELS, 0);
    averr = avcodec_open2(dec, codec, &opts);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot open the video decoder", averr);
        goto out;
    }
    *stream_index = idx;
    *out = dec;
    dec = NULL;
    rc = 0;
out:
    avcodec_free_context(&dec);
    av_dict_free(&opts);
    return rc;
}
