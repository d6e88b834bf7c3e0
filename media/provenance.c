/* media/provenance.c: reading and writing the MP4 `comment` tag (see provenance.h). The
 * stamp is a stream copy through libavformat: demux with media/input.h's limits, mux into an
 * MP4 with +faststart, so the result is what a phone plays progressively and the stored
 * SHA-256 is that of exactly the file we deliver. */
#include "media/provenance.h"

#include "media/error.h"
#include "media/input.h"

#include <libavutil/mathematics.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A clip is a few MB on a local disk; this bounds a hostile index that seeks back and forth. */
#define IO_TIMEOUT_MS 30000

char *media_provenance_comment(long long generation_id, char *buf, size_t len)
{
    snprintf(buf, len, MEDIA_PROVENANCE_PREFIX "%lld", generation_id);
    return buf;
}

int media_provenance_read(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
    AVFormatContext *fmt = NULL;
    buf[0] = '\0';
    if (media_input_open(path, IO_TIMEOUT_MS, &fmt, err, errlen) != 0) return -1;
    const AVDictionaryEntry *c = av_dict_get(fmt->metadata, "comment", NULL, 0);
    if (c) snprintf(buf, len, "%s", c->value);
    media_input_close(&fmt);
    return 0;
}

int media_provenance_stamp(const char *src, const char *dst, const char *comment,
                           char *err, size_t errlen)
{
    int rc = -1, averr, opened = 0;
    AVFormatContext *in = NULL, *out = NULL;
    AVDictionary *opts = NULL;
    AVPacket *pkt = NULL;
    int *map = NULL;
    char url[4096];

    snprintf(url, sizeof url, "file:%s", dst);
    if (media_input_open(src, IO_TIMEOUT_MS, &in, err, errlen) != 0) goto out;
    /* The muxer reopens the file by name for +faststart, hence a name rather than a handle. */
    averr = avformat_alloc_output_context2(&out, NULL, "mp4", url);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot create the MP4 muxer", averr);
        goto out;
    }
    map = calloc(in->nb_streams, sizeof *map);
    if (!map) abort();
    int kept = 0;
    for (unsigned i = 0; i < in->nb_streams; i++) {
        const AVCodecParameters *par = in->streams[i]->codecpar;
        map[i] = -1;
        /* Data and subtitle tracks could smuggle anything; a clip is pictures and sound. */
        if (par->codec_type != AVMEDIA_TYPE_VIDEO && par->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        AVStream *os = avformat_new_stream(out, NULL);
        if (!os) abort();
        averr = avcodec_parameters_copy(os->codecpar, par);
        if (averr < 0) {
            media_error_av(err, errlen, "cannot copy stream parameters", averr);
            goto out;
        }
        os->codecpar->codec_tag = 0;
        os->time_base = in->streams[i]->time_base;
        os->avg_frame_rate = in->streams[i]->avg_frame_rate;
        map[i] = kept++;
    }
    if (kept == 0) {
        media_errorf(err, errlen, "no audio or video stream to copy");
        goto out;
    }
    av_dict_set(&out->metadata, "comment", comment, 0);
    averr = avio_open(&out->pb, url, AVIO_FLAG_WRITE);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot open the output file", averr);
        goto out;
    }
    opened = 1;
    av_dict_set(&opts, "movflags", "+faststart", 0);
    averr = avformat_write_header(out, &opts);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot write the MP4 header", averr);
        goto out;
    }
    pkt = av_packet_alloc();
    if (!pkt) abort();
    for (;;) {
        averr = av_read_frame(in, pkt);
        if (averr == AVERROR_EOF) break;
        if (averr < 0) {
            media_error_av(err, errlen, "cannot read the clip", averr);
            goto out;
        }
        int si = pkt->stream_index;
        if (si < 0 || (unsigned)si >= in->nb_streams || map[si] < 0) {
            av_packet_unref(pkt);
            continue;
        }
        av_packet_rescale_ts(pkt, in->streams[si]->time_base, out->streams[map[si]]->time_base);
        pkt->stream_index = map[si];
        pkt->pos = -1;
        averr = av_interleaved_write_frame(out, pkt);   /* takes the packet's reference */
        if (averr < 0) {
            media_error_av(err, errlen, "cannot write the clip", averr);
            goto out;
        }
    }
    averr = av_write_trailer(out);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot finish the MP4", averr);
        goto out;
    }
    rc = 0;
out:
    av_packet_free(&pkt);
    av_dict_free(&opts);
    if (out) {
        if (opened) avio_closep(&out->pb);
        avformat_free_context(out);
    }
    media_input_close(&in);
    free(map);
    if (rc != 0) unlink(dst);
    return rc;
}
