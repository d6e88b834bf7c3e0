/* media/thumb.c: poster choice, WebP stills and the animated preview (see thumb.h).
 *
 * One decoding pass in the usual case: frames are scored as they come, the first good one
 * becomes the poster, and the preview is collected from there on. Only when the first 3 s
 * hold no good frame (a long fade, a black clip) is the file read a second time, to collect
 * the preview from the best frame seen. */
#include "media/thumb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include "core/mem.h"
#include "media/error.h"
#include "media/input.h"
#include "media/phash.h"

#define DECODE_TIMEOUT_MS 60000
#define POSTER_WINDOW_MS  3000  /* the poster comes from the opening seconds */
#define PREVIEW_STEP_MS   100   /* 10 fps */
#define PREVIEW_FRAMES    20    /* 2 s */
#define STILL_QUALITY     80
#define PREVIEW_QUALITY   70

/* A frame is a good poster when its brightness is neither near black nor near white and it
 * has some contrast (grey 0..255 measured on a 64x64 reduction). */
#define STAT_SIDE 64
#define MIN_MEAN  24.0
#define MAX_MEAN  232.0
#define MIN_STDDEV 12.0

static const int still_widths[MEDIA_THUMB_MAX_STILLS] = { 180, 360, 720 };

typedef struct owned_webp {
    int width, height;
    uint8_t *data;   /* malloc'd */
    size_t len;
} owned_webp;

struct media_thumbs {
    int nstills;
    owned_webp stills[MEDIA_THUMB_MAX_STILLS]; /* widths strictly increasing */
    owned_webp preview;
    int preview_frames;
    media_image *poster;    /* full size, owned */
    int64_t poster_ms;
    uint64_t phash;
};

/* ---- reading frames ---- */

typedef struct reader {
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    int stream;
    int64_t start_pts;  /* the stream's first timestamp, so times count from 0 */
    int draining;       /* the end of input was sent to the decoder */
} reader;

static void reader_close(reader *r)
{
    avcodec_free_context(&r->dec);
    av_packet_free(&r->pkt);
    media_input_close(&r->fmt);
    memset(r, 0, sizeof *r);
}

static int reader_open(reader *r, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (media_input_open(path, DECODE_TIMEOUT_MS, &r->fmt, err, errlen) != 0 ||
        media_input_open_video_decoder(r->fmt, &r->stream, &r->dec, err, errlen) != 0) {
        reader_close(r);
        return -1;
    }
    r->pkt = av_packet_alloc();
    if (!r->pkt) abort();
    int64_t st = r->fmt->streams[r->stream]->start_time;
    r->start_pts = st == AV_NOPTS_VALUE ? 0 : st;
    return 0;
}

/* The next decoded frame into f. Returns 1, 0 at the end, or -1 with err. Packets the
 * decoder rejects as invalid are skipped: one damaged packet should not cost the poster. */
static int reader_next(reader *r, AVFrame *f, char *err, size_t errlen)
{
    for (;;) {
        int averr = avcodec_receive_frame(r->dec, f);
        if (averr >= 0) return 1;
        if (averr == AVERROR_EOF) return 0;
        if (averr != AVERROR(EAGAIN)) {
            media_error_av(err, errlen, "video decoding failed", averr);
            return -1;
        }
        if (r->draining) return 0;
        averr = av_read_frame(r->fmt, r->pkt);
        if (averr == AVERROR_EOF) {
            r->draining = 1;
            avcodec_send_packet(r->dec, NULL);
            continue;
        }
        if (averr < 0) {
            media_error_av(err, errlen, "cannot read the video", averr);
            return -1;
        }
        if (r->pkt->stream_index == r->stream) {
            averr = avcodec_send_packet(r->dec, r->pkt);
            if (averr < 0 && averr != AVERROR_INVALIDDATA) {
                av_packet_unref(r->pkt);
                media_error_av(err, errlen, "video decoding failed", averr);
                return -1;
            }
        }
        av_packet_unref(r->pkt);
    }
}

static int64_t frame_ms(const reader *r, const AVFrame *f)
{
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) ts = f->pts;
    if (ts == AV_NOPTS_VALUE) return 0;
    return av_rescale_q(ts - r->start_pts, r->fmt->streams[r->stream]->time_base,
                        (AVRational){1, 1000});
}

/* Display size: coded size corrected by the sample aspect ratio, so anamorphic video is
 * not squeezed in its stills. */
static void display_size(const AVFrame *f, int *w, int *h)
{
    *w = f->width;
    *h = f->height;
    AVRational sar = f->sample_aspect_ratio;
    if (sar.num > 0 && sar.den > 0 && sar.num != sar.den) {
        long dw = (long)f->width * sar.num / sar.den;
        if (dw >= 16 && dw <= 16384) *w = (int)dw;
    }
}

/* ---- poster choice ---- */

typedef struct poster_pick {
    struct SwsContext *grey;   /* frame → 64x64 grey, cached across frames */
    uint8_t pixels[STAT_SIDE * STAT_SIDE];
} poster_pick;

/* How good a poster f would be: 0 if it cannot be measured; sets *good when it passes. */
static double poster_score(poster_pick *pp, const AVFrame *f, int *good)
{
    *good = 0;
    pp->grey = sws_getCachedContext(pp->grey, f->width, f->height, (enum AVPixelFormat)f->format,
                                    STAT_SIDE, STAT_SIDE, AV_PIX_FMT_GRAY8, SWS_AREA,
                                    NULL, NULL, NULL);
    if (!pp->grey) return 0;
    uint8_t *dst[1] = { pp->pixels };
    int dst_stride[1] = { STAT_SIDE };
    sws_scale(pp->grey, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst,
              dst_stride);
    double sum = 0, sq = 0;
    for (int i = 0; i < STAT_SIDE * STAT_SIDE; i++) {
        sum += pp->pixels[i];
        sq += (double)pp->pixels[i] * pp->pixels[i];
    }
    double n = STAT_SIDE * STAT_SIDE, mean = sum / n;
    double var = sq / n - mean * mean;
    double stddev = var > 0 ? sqrt(var) : 0;
    *good = mean >= MIN_MEAN && mean <= MAX_MEAN && stddev >= MIN_STDDEV;
    /* For the fallback: contrast, discounted as the frame nears black or white (a black
     * frame with a bright watermark has contrast but is no poster). */
    double dark = mean / MIN_MEAN, light = (255.0 - mean) / (255.0 - MAX_MEAN);
    return stddev * (dark < 1 ? dark : 1) * (light < 1 ? light : 1) + 1e-3;
}

/* ---- the animated preview ---- */

typedef struct preview {
    WebPAnimEncoder *enc;
    WebPConfig config;
    int width, height;
    int frames;
    int64_t next_ms;   /* the next frame taken is the first at or after this time */
} preview;

static int preview_init(preview *p, int src_w, int src_h, int64_t start_ms,
                        char *err, size_t errlen)
{
    WebPAnimEncoderOptions opts;
    memset(p, 0, sizeof *p);
    p->width = src_w < MEDIA_THUMB_PREVIEW_WIDTH ? src_w : MEDIA_THUMB_PREVIEW_WIDTH;
    p->height = (int)lround((double)p->width * src_h / src_w);
    if (p->height < 1) p->height = 1;
    p->next_ms = start_ms;
    if (!WebPAnimEncoderOptionsInit(&opts) || !WebPConfigInit(&p->config)) abort();
    opts.anim_params.loop_count = 0; /* forever */
    p->config.quality = PREVIEW_QUALITY;
    p->config.method = 2; /* a preview is made once per clip; speed over the last percent */
    p->enc = WebPAnimEncoderNew(p->width, p->height, &opts);
    if (!p->enc || !WebPValidateConfig(&p->config)) {
        media_errorf(err, errlen, "cannot create the WebP animation encoder");
        return -1;
    }
    return 0;
}

/* Offers a decoded frame at time t; takes it if it is due. Returns 1 once the preview is
 * complete, 0 to keep going, -1 with err. */
static int preview_offer(preview *p, const AVFrame *f, int64_t t, char *err, size_t errlen)
{
    int rc = -1;
    media_image *img = NULL;
    WebPPicture pic;
    int pic_ready = 0;

    if (t < p->next_ms) return 0;
    if (media_image_from_frame(f, p->width, p->height, &img, err, errlen) != 0) goto out;
    if (!WebPPictureInit(&pic)) abort();
    pic.width = p->width;
    pic.height = p->height;
    pic.use_argb = 1; /* what the animation encoder works in */
    pic_ready = 1;
    if (!WebPPictureImportRGB(&pic, media_image_pixels(img), media_image_stride(img)) ||
        !WebPAnimEncoderAdd(p->enc, &pic, p->frames * PREVIEW_STEP_MS, &p->config)) {
        media_errorf(err, errlen, "WebP animation encoding failed: %s",
                     WebPAnimEncoderGetError(p->enc));
        goto out;
    }
    p->frames++;
    p->next_ms += PREVIEW_STEP_MS;
    rc = p->frames >= PREVIEW_FRAMES;
out:
    if (pic_ready) WebPPictureFree(&pic);
    media_image_free(img);
    return rc;
}

static int preview_finish(preview *p, owned_webp *out, char *err, size_t errlen)
{
    WebPData data;
    WebPDataInit(&data);
    if (!WebPAnimEncoderAdd(p->enc, NULL, p->frames * PREVIEW_STEP_MS, NULL) ||
        !WebPAnimEncoderAssemble(p->enc, &data)) {
        media_errorf(err, errlen, "WebP animation assembly failed: %s",
                     WebPAnimEncoderGetError(p->enc));
        WebPDataClear(&data);
        return -1;
    }
    out->width = p->width;
    out->height = p->height;
    out->data = xmalloc(data.size);
    memcpy(out->data, data.bytes, data.size);
    out->len = data.size;
    WebPDataClear(&data);
    return 0;
}

static void preview_release(preview *p)
{
    WebPAnimEncoderDelete(p->enc);
    p->enc = NULL;
}

/* ---- stills ---- */

static int make_stills(media_thumbs *t, char *err, size_t errlen)
{
    int rc = -1;
    media_image *scaled = NULL;
    int src_w = media_image_width(t->poster), src_h = media_image_height(t->poster);

    for (int i = 0; i < MEDIA_THUMB_MAX_STILLS; i++) {
        int w = still_widths[i] < src_w ? still_widths[i] : src_w;
        if (t->nstills > 0 && t->stills[t->nstills - 1].width >= w) continue; /* clamped twin */
        int h = (int)lround((double)w * src_h / src_w);
        if (h < 1) h = 1;
        const media_image *src = t->poster;
        if (w != src_w || h != src_h) {
            if (media_image_scale(t->poster, w, h, &scaled, err, errlen) != 0) goto out;
            src = scaled;
        }
        owned_webp *s = &t->stills[t->nstills];
        if (media_image_encode_webp(src, STILL_QUALITY, &s->data, &s->len, err, errlen) != 0)
            goto out;
        s->width = w;
        s->height = h;
        t->nstills++;
        media_image_free(scaled);
        scaled = NULL;
    }
    rc = 0;
out:
    media_image_free(scaled);
    return rc;
}

/* ---- the whole job ---- */

int media_thumbs_make(const char *mp4_path, media_thumbs **out, char *err, size_t errlen)
{
    int rc = -1, got, found = 0, disp_w = 0, disp_h = 0;
    double best_score = -1;
    reader r;
    preview pv;
    poster_pick pp;
    media_thumbs *t = xcalloc(1, sizeof *t);
    AVFrame *frame = av_frame_alloc(), *best = av_frame_alloc();

    if (!frame || !best) abort();
    memset(&pv, 0, sizeof pv);
    memset(&pp, 0, sizeof pp);
    *out = NULL;
    if (reader_open(&r, mp4_path, err, errlen) != 0) goto out;

    /* Pass 1: the poster. */
    while ((got = reader_next(&r, frame, err, errlen)) == 1) {
        int64_t ms = frame_ms(&r, frame);
        if (ms > POSTER_WINDOW_MS && best_score >= 0) break;
        int good;
        double score = poster_score(&pp, frame, &good);
        if (good || score > best_score) {
            av_frame_unref(best);
            if (av_frame_ref(best, frame) < 0) abort();
            best_score = score;
            t->poster_ms = ms;
        }
        av_frame_unref(frame);
        if (good) {
            found = 1;
            break;
        }
    }
    if (got < 0) goto out;
    if (best_score < 0) {
        media_errorf(err, errlen, "no decodable video frame");
        goto out;
    }
    display_size(best, &disp_w, &disp_h);
    if (media_image_from_frame(best, disp_w, disp_h, &t->poster, err, errlen) != 0) goto out;
    t->phash = media_phash64(t->poster);

    /* The preview, from the poster on. Without a good frame the reader has gone past the
     * best one, so it starts again from the top. */
    if (preview_init(&pv, disp_w, disp_h, t->poster_ms, err, errlen) != 0) goto out;
    int done = 0;
    if (found) {
        done = preview_offer(&pv, best, t->poster_ms, err, errlen);
    } else {
        reader_close(&r);
        if (reader_open(&r, mp4_path, err, errlen) != 0) goto out;
    }
    while (done == 0 && (got = reader_next(&r, frame, err, errlen)) == 1) {
        done = preview_offer(&pv, frame, frame_ms(&r, frame), err, errlen);
        av_frame_unref(frame);
    }
    if (done < 0 || got < 0) goto out;
    if (pv.frames == 0) {
        media_errorf(err, errlen, "no frames for the preview");
        goto out;
    }
    t->preview_frames = pv.frames;
    if (preview_finish(&pv, &t->preview, err, errlen) != 0) goto out;
    if (make_stills(t, err, errlen) != 0) goto out;

    *out = t;
    t = NULL;
    rc = 0;
out:
    preview_release(&pv);
    sws_freeContext(pp.grey);
    av_frame_free(&frame);
    av_frame_free(&best);
    reader_close(&r);
    media_thumbs_free(t);
    return rc;
}

void media_thumbs_free(media_thumbs *t)
{
    if (!t) return;
    for (int i = 0; i < t->nstills; i++) free(t->stills[i].data);
    free(t->preview.data);
    media_image_free(t->poster);
    free(t);
}

static media_webp view(const owned_webp *w)
{
    media_webp v = { w->width, w->height, w->data, w->len };
    return v;
}

int media_thumbs_still_count(const media_thumbs *t) { return t->nstills; }

media_webp media_thumbs_still(const media_thumbs *t, int i)
{
    if (i < 0 || i >= t->nstills) abort(); /* a caller bug, not bad input */
    return view(&t->stills[i]);
}

media_webp media_thumbs_preview(const media_thumbs *t) { return view(&t->preview); }
int media_thumbs_preview_frames(const media_thumbs *t) { return t->preview_frames; }
const media_image *media_thumbs_poster(const media_thumbs *t) { return t->poster; }
int64_t media_thumbs_poster_ms(const media_thumbs *t) { return t->poster_ms; }
uint64_t media_thumbs_phash(const media_thumbs *t) { return t->phash; }
