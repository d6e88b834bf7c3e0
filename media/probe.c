/* media/probe.c: container-level facts about a video file, and the acceptance rules for a
 * generated clip (see probe.h). Reads headers and stream info only; decoding pictures is
 * thumb.c's job. */
#include "media/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavformat/avformat.h>

#include "media/error.h"
#include "media/input.h"

/* Headers of a sane file are read in milliseconds; this only stops a hostile one. */
#define PROBE_TIMEOUT_MS 10000

/* Whether any sample of any stream ends beyond `size` bytes. */
static int index_past_end(AVFormatContext *fmt, int64_t size)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        int n = avformat_index_get_entries_count(st);
        for (int k = 0; k < n; k++) {
            const AVIndexEntry *e = avformat_index_get_entry(st, k);
            if (e && e->pos + e->size > size) return 1;
        }
    }
    return 0;
}

int media_probe_file(const char *path, media_probe_info *out, char *err, size_t errlen)
{
    int rc = -1;
    AVFormatContext *fmt = NULL;
    struct stat st;

    memset(out, 0, sizeof *out);
    if (media_input_open(path, PROBE_TIMEOUT_MS, &fmt, err, errlen) != 0) goto out;
    if (stat(path, &st) != 0) {
        media_errorf(err, errlen, "file vanished while probing");
        goto out;
    }
    out->size_bytes = (int64_t)st.st_size;
    out->truncated = index_past_end(fmt, out->size_bytes);
    snprintf(out->container, sizeof out->container, "%s", fmt->iformat->name);
    const AVDictionaryEntry *brand = av_dict_get(fmt->metadata, "major_brand", NULL, 0);
    if (brand) snprintf(out->brand, sizeof out->brand, "%s", brand->value);

    int vidx = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) out->has_audio = 1;
    if (vidx >= 0) {
        const AVStream *vs = fmt->streams[vidx];
        snprintf(out->video_codec, sizeof out->video_codec, "%s",
                 avcodec_get_name(vs->codecpar->codec_id));
        out->width = vs->codecpar->width;
        out->height = vs->codecpar->height;
        out->frames = vs->nb_frames > 0 ? vs->nb_frames : 0;
        if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
            out->duration_ms = fmt->duration / (AV_TIME_BASE / 1000);
        else if (vs->duration != AV_NOPTS_VALUE && vs->duration > 0)
            out->duration_ms = av_rescale_q(vs->duration, vs->time_base, (AVRational){1, 1000});
    } else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
        out->duration_ms = fmt->duration / (AV_TIME_BASE / 1000);
    }
    rc = 0;
out:
    media_input_close(&fmt);
    return rc;
}

static int side_ok(int px)
{
    return px >= 64 && px <= 4096 && px % 2 == 0;
}

int media_probe_check(const media_probe_info *info, int expected_seconds, int64_t max_bytes,
                      char *err, size_t errlen)
{
    /* The demuxer reports its whole family in one name; any MP4/MOV member will do. */
    if (!strstr(info->container, "mp4") && !strstr(info->container, "mov")) {
        media_errorf(err, errlen, "container is %s, not MP4",
                     info->container[0] ? info->container : "unknown");
        return -1;
    }
    if (info->truncated) {
        media_errorf(err, errlen, "file is truncated");
        return -1;
    }
    if (!info->video_codec[0]) {
        media_errorf(err, errlen, "no video stream");
        return -1;
    }
    if (strcmp(info->video_codec, "h264") != 0) {
        media_errorf(err, errlen, "video codec is %s, not H.264", info->video_codec);
        return -1;
    }
    int64_t want_ms = (int64_t)expected_seconds * 1000;
    if (info->duration_ms < want_ms - 1000 || info->duration_ms > want_ms + 1000) {
        media_errorf(err, errlen, "duration is %.2f s, expected %d s (within 1 s)",
                     (double)info->duration_ms / 1000.0, expected_seconds);
        return -1;
    }
    if (info->size_bytes <= 0 || info->size_bytes > max_bytes) {
        media_errorf(err, errlen, "file is %lld bytes, limit %lld",
                     (long long)info->size_bytes, (long long)max_bytes);
        return -1;
    }
    if (!side_ok(info->width) || !side_ok(info->height)) {
        media_errorf(err, errlen, "picture is %dx%d; each side must be even and 64..4096",
                     info->width, info->height);
        return -1;
    }
    return 0;
}
