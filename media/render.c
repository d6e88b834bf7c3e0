/* media/render.c: draws the builtin engine's frames and encodes them (see render.h).
 *
 * Frames are drawn in RGB (scene.c, then the overlays here), converted to BT.709 yuv420p by
 * swscale and encoded by libx264 through libavcodec into an MP4 muxed with +faststart, so a
 * phone can start playing before the whole file has arrived. */
#include "media/render.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "core/mem.h"
#include "media/canvas.h"
#include "media/error.h"
#include "media/scene.h"
#include "media/text.h"

#define DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
/* A fixed thread count, not "auto": x264's output depends on it, and a clip must come out
 * byte-identical on every worker machine. */
#define ENCODER_THREADS "2"
#define ENCODER_PRESET "veryfast"
#define ENCODER_CRF "23"

int media_render_size(const char *aspect, media_quality quality, int *width, int *height)
{
    int s = quality == MEDIA_QUALITY_PRO ? 720 : 480;
    int l = (s * 16 + 9) / 18 * 2; /* s * 16/9 rounded to the nearest even number */
    if (!aspect) return -1;
    if (strcmp(aspect, "9:16") == 0) { *width = s; *height = l; return 0; }
    if (strcmp(aspect, "16:9") == 0) { *width = l; *height = s; return 0; }
    if (strcmp(aspect, "1:1") == 0) { *width = s; *height = s; return 0; }
    return -1;
}

/* ---- overlays: the creator's watermark and the cameo badges ---- */

typedef struct badge {
    media_text_mask initial;   /* the username's first letter, for the disc */
    media_text_mask name;      /* "@username", beside the disc */
    int ink_x, ink_y, ink_w, ink_h; /* inked part of `initial`, for true centring */
    uint32_t color;            /* disc fill, from the username's hash */
} badge;

typedef struct overlay {
    int width, height, shortside;
    int margin;
    media_text_mask mark;      /* "@creator" */
    float mark_phase_x, mark_phase_y; /* where on its bouncing path the watermark starts */
    int nbadges;
    badge badges[MEDIA_RENDER_MAX_CAMEOS];
    int badge_d;               /* badge disc diameter */
} overlay;

static void ink_bounds(const media_text_mask *m, int *x, int *y, int *w, int *h)
{
    int x0 = m->width, y0 = m->height, x1 = -1, y1 = -1;
    for (int r = 0; r < m->height; r++)
        for (int c = 0; c < m->width; c++)
            if (m->alpha[(size_t)r * m->width + c] > 64) {
                if (c < x0) x0 = c;
                if (c > x1) x1 = c;
                if (r < y0) y0 = r;
                if (r > y1) y1 = r;
            }
    if (x1 < 0) { *x = 0; *y = 0; *w = m->width; *h = m->height; return; }
    *x = x0; *y = y0; *w = x1 - x0 + 1; *h = y1 - y0 + 1;
}

static void overlay_release(overlay *o)
{
    media_text_mask_release(&o->mark);
    for (int i = 0; i < o->nbadges; i++) {
        media_text_mask_release(&o->badges[i].initial);
        media_text_mask_release(&o->badges[i].name);
    }
    o->nbadges = 0;
}

static int overlay_init(overlay *o, const media_render_params *p, int width, int height,
                        char *err, size_t errlen)
{
    int rc = -1;
    media_font *font = NULL;
    char text[160];

    memset(o, 0, sizeof *o);
    o->width = width;
    o->height = height;
    o->shortside = width < height ? width : height;
    o->margin = o->shortside / 32;
    o->badge_d = o->shortside * 2 / 15;
    if (media_font_open(p->font_path ? p->font_path : DEFAULT_FONT, &font, err, errlen) != 0)
        goto out;

    snprintf(text, sizeof text, "@%s", p->creator);
    int px = o->shortside / 16;
    if (media_font_render(font, text, px, &o->mark, err, errlen) != 0) goto out;
    int room = width - 2 * o->margin;
    if (o->mark.width > room) {
        /* A long name is drawn smaller rather than cropped: the whole name must show. */
        px = px * room / o->mark.width;
        media_text_mask_release(&o->mark);
        if (media_font_render(font, text, px > 6 ? px : 6, &o->mark, err, errlen) != 0) goto out;
    }
    uint64_t h = media_scene_hash(p->creator);
    o->mark_phase_x = (float)(h & 0xffff) / 65536.0f * 2.0f;
    o->mark_phase_y = (float)((h >> 16) & 0xffff) / 65536.0f * 2.0f;

    for (int i = 0; i < MEDIA_RENDER_MAX_CAMEOS; i++) {
        const char *who = p->cameos[i];
        if (!who || !*who) continue;
        badge *b = &o->badges[o->nbadges++];
        char initial[8];
        media_text_initial(who, initial);
        if (media_font_render(font, initial, o->badge_d / 2, &b->initial, err, errlen) != 0)
            goto out;
        ink_bounds(&b->initial, &b->ink_x, &b->ink_y, &b->ink_w, &b->ink_h);
        snprintf(text, sizeof text, "@%s", who);
        if (media_font_render(font, text, o->badge_d * 3 / 10, &b->name, err, errlen) != 0)
            goto out;
        b->color = media_scene_color(media_scene_hash(who));
    }
    rc = 0;
out:
    media_font_free(font);
    if (rc != 0) overlay_release(o);
    return rc;
}

/* Bounces between 0 and 1 and back: a triangle wave of period 2 in u. */
static float bounce(float u)
{
    float f = u - 2.0f * floorf(u / 2.0f);
    return f <= 1.0f ? f : 2.0f - f;
}

static void overlay_draw(const overlay *o, media_canvas *c, double seconds)
{
    int m = o->margin;
    for (int i = 0; i < o->nbadges; i++) {
        const badge *b = &o->badges[i];
        float r = (float)o->badge_d / 2.0f;
        float cx = (float)m + r, cy = (float)m + r + (float)i * ((float)o->badge_d + (float)m);
        media_canvas_disc(c, cx, cy, r, b->color, 255);
        media_canvas_ring(c, cx, cy, r, r / 8.0f, 0xFFFFFF, 255);
        media_canvas_mask(c, (int)(cx - (float)b->ink_w / 2.0f) - b->ink_x,
                          (int)(cy - (float)b->ink_h / 2.0f) - b->ink_y, b->initial.alpha,
                          b->initial.width, b->initial.height, b->initial.width, 0xFFFFFF, 255);
        float pad = (float)b->name.height / 4.0f;
        float lx = cx + r + (float)m / 2.0f, ly = cy - (float)b->name.height / 2.0f;
        media_canvas_box(c, lx, ly, (float)b->name.width + 2.0f * pad, (float)b->name.height,
                         (float)b->name.height / 2.0f, 0x000000, 110);
        media_canvas_mask(c, (int)(lx + pad), (int)ly, b->name.alpha, b->name.width,
                          b->name.height, b->name.width, 0xFFFFFF, 255);
    }

    /* The watermark drifts across the whole frame, bouncing off the margins, so cropping
     * any fixed corner cannot remove it. */
    float range_x = (float)(o->width - o->mark.width - 2 * m);
    float range_y = (float)(o->height - o->mark.height - 2 * m);
    if (range_x < 1.0f) range_x = 1.0f;
    if (range_y < 1.0f) range_y = 1.0f;
    float speed = (float)o->shortside * 0.2f; /* pixels per second along each axis */
    float t = (float)seconds;
    int x = m + (int)(range_x * bounce(o->mark_phase_x + t * speed / range_x));
    int y = m + (int)(range_y * bounce(o->mark_phase_y + t * speed * 0.7f / range_y));
    int shadow = o->shortside / 240 + 1;
    media_canvas_mask(c, x + shadow, y + shadow, o->mark.alpha, o->mark.width, o->mark.height,
                      o->mark.width, 0x000000, 150);
    media_canvas_mask(c, x, y, o->mark.alpha, o->mark.width, o->mark.height, o->mark.width,
                      0xFFFFFF, 230);
}

/* ---- encoder: RGB canvas → yuv420p → libx264 → MP4 ---- */

typedef struct encoder {
    AVFormatContext *fmt;     /* owns the output file once avio_open succeeded */
    AVCodecContext *codec;
    AVStream *stream;         /* owned by fmt */
    AVFrame *frame;           /* reused for every picture */
    AVPacket *pkt;
    struct SwsContext *sws;
    int64_t next_pts;         /* in 1/24 s */
} encoder;

static void encoder_free(encoder *e)
{
    if (e->fmt && e->fmt->pb) avio_closep(&e->fmt->pb);
    avformat_free_context(e->fmt);
    avcodec_free_context(&e->codec);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    sws_freeContext(e->sws);
    memset(e, 0, sizeof *e);
}

static int encoder_open(encoder *e, const char *path, int width, int height,
                        const char *comment, char *err, size_t errlen)
{
    int rc = -1, averr;
    AVDictionary *mux_opts = NULL;
    char url[4096];

    memset(e, 0, sizeof *e);
    snprintf(url, sizeof url, "file:%s", path);
    const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
    if (!x264) {
        media_errorf(err, errlen, "this FFmpeg build has no libx264 encoder");
        goto out;
    }
    /* The muxer needs the name, not just an open handle: +faststart reopens the file to
     * move the index to the front. */
    averr = avformat_alloc_output_context2(&e->fmt, NULL, "mp4", url);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot create the MP4 muxer", averr);
        goto out;
    }
    e->stream = avformat_new_stream(e->fmt, NULL);
    e->codec = avcodec_alloc_context3(x264);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->stream || !e->codec || !e->frame || !e->pkt) abort();

    AVCodecContext *cc = e->codec;
    cc->width = width;
    cc->height = height;
    cc->time_base = (AVRational){1, MEDIA_RENDER_FPS};
    cc->framerate = (AVRational){MEDIA_RENDER_FPS, 1};
    cc->pix_fmt = AV_PIX_FMT_YUV420P;
    cc->gop_size = 2 * MEDIA_RENDER_FPS; /* a keyframe every 2 s keeps seeking cheap */
    cc->max_b_frames = 2;
    cc->color_range = AVCOL_RANGE_MPEG;
    cc->colorspace = AVCOL_SPC_BT709;
    cc->color_primaries = AVCOL_PRI_BT709;
    cc->color_trc = AVCOL_TRC_BT709;
    if (e->fmt->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(cc->priv_data, "preset", ENCODER_PRESET, 0);
    av_opt_set(cc->priv_data, "crf", ENCODER_CRF, 0);
    av_opt_set(cc->priv_data, "profile", "high", 0);
    av_opt_set(cc, "threads", ENCODER_THREADS, 0);
    averr = avcodec_open2(cc, x264, NULL);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot open the H.264 encoder", averr);
        goto out;
    }
    averr = avcodec_parameters_from_context(e->stream->codecpar, cc);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot set stream parameters", averr);
        goto out;
    }
    e->stream->time_base = cc->time_base;
    e->stream->avg_frame_rate = cc->framerate;
    if (comment) av_dict_set(&e->fmt->metadata, "comment", comment, 0);

    averr = avio_open(&e->fmt->pb, url, AVIO_FLAG_WRITE);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot open the output file", averr);
        goto out;
    }
    /* faststart: the muxer rewrites the file at the end so moov precedes mdat. */
    av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    averr = avformat_write_header(e->fmt, &mux_opts);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot write the MP4 header", averr);
        goto out;
    }

    e->frame->format = cc->pix_fmt;
    e->frame->width = width;
    e->frame->height = height;
    e->frame->color_range = cc->color_range;
    e->frame->colorspace = cc->colorspace;
    averr = av_frame_get_buffer(e->frame, 0);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot allocate a frame", averr);
        goto out;
    }
    e->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height,
                            AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    if (!e->sws) {
        media_errorf(err, errlen, "cannot create the colour converter");
        goto out;
    }
    /* Full-range RGB in, BT.709 limited-range YUV out, matching the tags set above. */
    const int *bt709 = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(e->sws, bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
    rc = 0;
out:
    av_dict_free(&mux_opts);
    return rc;
}

/* Sends one picture (NULL: flush at the end) and writes every packet that comes out. */
static int encoder_send(encoder *e, const AVFrame *frame, char *err, size_t errlen)
{
    int averr = avcodec_send_frame(e->codec, frame);
    if (averr < 0) {
        media_error_av(err, errlen, "encoder refused a frame", averr);
        return -1;
    }
    for (;;) {
        averr = avcodec_receive_packet(e->codec, e->pkt);
        if (averr == AVERROR(EAGAIN) || averr == AVERROR_EOF) return 0;
        if (averr < 0) {
            media_error_av(err, errlen, "encoding failed", averr);
            return -1;
        }
        /* Every frame lasts 1/24 s; saying so makes the last one count in the duration. */
        if (e->pkt->duration == 0) e->pkt->duration = 1;
        av_packet_rescale_ts(e->pkt, e->codec->time_base, e->stream->time_base);
        e->pkt->stream_index = e->stream->index;
        averr = av_interleaved_write_frame(e->fmt, e->pkt); /* takes the packet's data */
        if (averr < 0) {
            media_error_av(err, errlen, "cannot write to the MP4 file", averr);
            return -1;
        }
    }
}

static int encoder_add(encoder *e, const media_canvas *c, char *err, size_t errlen)
{
    int averr = av_frame_make_writable(e->frame);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot reuse the frame", averr);
        return -1;
    }
    const uint8_t *src[1] = { c->rgb };
    const int src_stride[1] = { c->stride };
    sws_scale(e->sws, src, src_stride, 0, c->height, e->frame->data, e->frame->linesize);
    e->frame->pts = e->next_pts++;
    return encoder_send(e, e->frame, err, errlen);
}

static int encoder_finish(encoder *e, char *err, size_t errlen)
{
    if (encoder_send(e, NULL, err, errlen) != 0) return -1;
    int averr = av_write_trailer(e->fmt);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot finish the MP4 file", averr);
        return -1;
    }
    averr = avio_closep(&e->fmt->pb);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot close the MP4 file", averr);
        return -1;
    }
    return 0;
}

/* ---- the file: temporary name, sync, rename ---- */

static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Makes `tmp` durable and gives it the name `final`, then syncs the directory so the
 * rename itself survives a crash. */
static int publish(const char *tmp, const char *final, char *err, size_t errlen)
{
    if (sync_path(tmp, O_RDONLY) != 0 || rename(tmp, final) != 0) {
        media_errorf(err, errlen, "cannot move the clip into place");
        return -1;
    }
    char dir[4096];
    const char *slash = strrchr(final, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - final) + (slash == final), final);
    (void)sync_path(dir, O_RDONLY | O_DIRECTORY); /* best effort: some filesystems refuse */
    return 0;
}

static int check_params(const media_render_params *p, int *width, int *height,
                        char *err, size_t errlen)
{
    if (!p->prompt || !*p->prompt) {
        media_errorf(err, errlen, "prompt is empty");
        return -1;
    }
    if (p->seconds != 4 && p->seconds != 8 && p->seconds != 12) {
        media_errorf(err, errlen, "seconds must be 4, 8 or 12");
        return -1;
    }
    if (media_render_size(p->aspect, p->quality, width, height) != 0) {
        media_errorf(err, errlen, "aspect must be 9:16, 16:9 or 1:1");
        return -1;
    }
    if (!p->creator || !*p->creator) {
        media_errorf(err, errlen, "creator username is required for the watermark");
        return -1;
    }
    return 0;
}

int media_render_clip(const media_render_params *p, const char *out_path,
                      char *err, size_t errlen)
{
    int rc = -1, width, height, last_percent = -1;
    char *tmp = NULL;
    int tmp_made = 0;
    encoder enc;
    overlay ov;
    media_scene *scene = NULL;
    media_canvas *canvas = NULL;

    memset(&enc, 0, sizeof enc);
    memset(&ov, 0, sizeof ov);
    if (check_params(p, &width, &height, err, errlen) != 0) goto out;
    if (overlay_init(&ov, p, width, height, err, errlen) != 0) goto out;

    size_t n = strlen(out_path) + 16;
    tmp = xmalloc(n);
    snprintf(tmp, n, "%s.tmp-XXXXXX", out_path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        media_errorf(err, errlen, "cannot create a temporary file next to the output");
        goto out;
    }
    tmp_made = 1;
    (void)fchmod(fd, 0644); /* mkstemp's 0600 would hide the clip from a static file server */
    close(fd);
    if (encoder_open(&enc, tmp, width, height, p->comment, err, errlen) != 0) goto out;

    scene = media_scene_new(p->prompt, width, height);
    canvas = media_canvas_new(width, height);
    int frames = p->seconds * MEDIA_RENDER_FPS;
    for (int i = 0; i < frames; i++) {
        double t = (double)i / MEDIA_RENDER_FPS;
        if (i < p->black_intro_frames) media_canvas_fill(canvas, 0x000000);
        else media_scene_draw(scene, canvas, t);
        overlay_draw(&ov, canvas, t);
        if (encoder_add(&enc, canvas, err, errlen) != 0) goto out;
        int percent = (i + 1) * 100 / frames;
        if (p->progress && percent != last_percent) {
            last_percent = percent;
            if (p->progress(p->progress_arg, percent) != 0) {
                media_errorf(err, errlen, "render canceled");
                goto out;
            }
        }
    }
    if (encoder_finish(&enc, err, errlen) != 0) goto out;
    if (publish(tmp, out_path, err, errlen) != 0) goto out;
    tmp_made = 0;
    rc = 0;
out:
    encoder_free(&enc);
    overlay_release(&ov);
    media_scene_free(scene);
    media_canvas_free(canvas);
    if (tmp_made) unlink(tmp);
    free(tmp);
    return rc;
}
