/* media/image.c: RGB stills in and out (see image.h).
 *
 * WebP goes through libwebp (the library that defines the format); JPEG and PNG through
 * libavcodec's image decoders, already linked for video, rather than two more libraries.
 * Every conversion goes through swscale so colour matrices and ranges are handled once. */
#include "media/image.h"

#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>

#include "core/mem.h"
#include "media/error.h"

struct media_image {
    int width, height; /* 1..16384 each */
    int stride;        /* 3 * width: rows are packed */
    uint8_t *rgb;      /* owned, stride * height bytes */
};

media_image *media_image_new(int width, int height)
{
    if (width < 1 || height < 1 || width > 16384 || height > 16384) abort();
    media_image *img = xcalloc(1, sizeof *img);
    img->width = width;
    img->height = height;
    img->stride = width * 3;
    img->rgb = xcalloc((size_t)img->stride * (size_t)height, 1);
    return img;
}

void media_image_free(media_image *img)
{
    if (!img) return;
    free(img->rgb);
    free(img);
}

int media_image_width(const media_image *img) { return img->width; }
int media_image_height(const media_image *img) { return img->height; }
int media_image_stride(const media_image *img) { return img->stride; }
const uint8_t *media_image_pixels(const media_image *img) { return img->rgb; }
uint8_t *media_image_pixels_mut(media_image *img) { return img->rgb; }

static int size_ok(long w, long h)
{
    return w >= 1 && h >= 1 && w <= 16384 && h <= 16384 && w * h <= MEDIA_IMAGE_MAX_PIXELS;
}

/* ---- WebP ---- */

static int decode_webp(const uint8_t *bytes, size_t len, media_image **out,
                       char *err, size_t errlen)
{
    int rc = -1;
    media_image *img = NULL;
    WebPAnimDecoder *anim = NULL;
    WebPBitstreamFeatures f;

    if (WebPGetFeatures(bytes, len, &f) != VP8_STATUS_OK) {
        media_errorf(err, errlen, "corrupt WebP image");
        goto out;
    }
    if (!size_ok(f.width, f.height)) {
        media_errorf(err, errlen, "image is %dx%d, larger than allowed", f.width, f.height);
        goto out;
    }
    img = media_image_new(f.width, f.height);
    if (!f.has_animation) {
        if (!WebPDecodeRGBInto(bytes, len, img->rgb, (size_t)img->stride * img->height,
                               img->stride)) {
            media_errorf(err, errlen, "corrupt WebP image");
            goto out;
        }
    } else {
        /* The first frame of an animation stands for the whole (like a video's poster). */
        WebPAnimDecoderOptions opts;
        WebPData data = { bytes, len };
        uint8_t *rgba;
        int ts;
        WebPAnimInfo info;
        if (!WebPAnimDecoderOptionsInit(&opts)) abort();
        opts.color_mode = MODE_RGBA;
        opts.use_threads = 0;
        anim = WebPAnimDecoderNew(&data, &opts);
        if (!anim || !WebPAnimDecoderGetInfo(anim, &info) ||
            (int)info.canvas_width != f.width || (int)info.canvas_height != f.height ||
            !WebPAnimDecoderGetNext(anim, &rgba, &ts)) {
            media_errorf(err, errlen, "corrupt animated WebP image");
            goto out;
        }
        for (size_t i = 0, n = (size_t)f.width * f.height; i < n; i++)
            memcpy(img->rgb + i * 3, rgba + i * 4, 3);
    }
    *out = img;
    img = NULL;
    rc = 0;
out:
    WebPAnimDecoderDelete(anim);
    media_image_free(img);
    return rc;
}

/* ---- JPEG and PNG through libavcodec ---- */

static int decode_with_codec(enum AVCodecID id, const uint8_t *bytes, size_t len,
                             media_image **out, char *err, size_t errlen)
{
    int rc = -1, averr;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    AVDictionary *opts = NULL;

    const AVCodec *codec = avcodec_find_decoder(id);
    if (!codec) {
        media_errorf(err, errlen, "no %s decoder in this FFmpeg build", avcodec_get_name(id));
        goto out;
    }
    if (len > INT32_MAX) {
        media_errorf(err, errlen, "image too large");
        goto out;
    }
    dec = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (!dec || !pkt || !frame) abort();
    dec->thread_count = 1;
    /* Refuse oversized pictures from their headers, before allocating them. */
    av_dict_set_int(&opts, "max_pixels", MEDIA_IMAGE_MAX_PIXELS, 0);
    averr = avcodec_open2(dec, codec, &opts);
    if (averr < 0) {
        media_error_av(err, errlen, "cannot open the image decoder", averr);
        goto out;
    }
    /* av_new_packet adds the zeroed padding the decoders may read past the end. */
    if (av_new_packet(pkt, (int)len) < 0) abort();
    memcpy(pkt->data, bytes, len);
    averr = avcodec_send_packet(dec, pkt);
    if (averr >= 0) averr = avcodec_send_packet(dec, NULL);
    if (averr >= 0) averr = avcodec_receive_frame(dec, frame);
    if (averr < 0) {
        media_error_av(err, errlen, "corrupt image", averr);
        goto out;
    }
    if (!size_ok(frame->width, frame->height)) {
        media_errorf(err, errlen, "image is %dx%d, larger than allowed",
                     frame->width, frame->height);
        goto out;
    }
    rc = media_image_from_frame(frame, frame->width, frame->height, out, err, errlen);
out:
    av_dict_free(&opts);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    return rc;
}

int media_image_decode(const void *bytes, size_t len, media_image **out,
                       char *err, size_t errlen)
{
    const uint8_t *b = bytes;
    *out = NULL;
    if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return decode_webp(b, len, out, err, errlen);
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return decode_with_codec(AV_CODEC_ID_MJPEG, b, len, out, err, errlen);
    if (len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return decode_with_codec(AV_CODEC_ID_PNG, b, len, out, err, errlen);
    media_errorf(err, errlen, "not a WebP, JPEG or PNG image");
    return -1;
}

/* ---- conversions ---- */

int media_image_from_frame(const AVFrame *frame, int width, int height, media_image **out,
                           char *err, size_t errlen)
{
    int rc = -1;
    media_image *img = NULL;
    struct SwsContext *sws = NULL;

    *out = NULL;
    if (!size_ok(width, height) || frame->width < 1 || frame->height < 1) {
        media_errorf(err, errlen, "bad picture size");
        goto out;
    }
    sws = sws_getContext(frame->width, frame->height, (enum AVPixelFormat)frame->format,
                         width, height, AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL, NULL);
    if (!sws) {
        media_errorf(err, errlen, "cannot convert pixel format %s",
                     av_get_pix_fmt_name((enum AVPixelFormat)frame->format));
        goto out;
    }
    /* swscale assumes BT.601 unless told; our clips (and most HD video) say BT.709. Keep
     * its defaults for whatever the frame does not specify. */
    int *inv, *table, src_range, dst_range, brightness, contrast, saturation;
    if (sws_getColorspaceDetails(sws, &inv, &src_range, &table, &dst_range, &brightness,
                                 &contrast, &saturation) >= 0) {
        if (frame->colorspace != AVCOL_SPC_UNSPECIFIED && frame->colorspace != AVCOL_SPC_RGB)
            inv = (int *)sws_getCoefficients(frame->colorspace);
        if (frame->color_range != AVCOL_RANGE_UNSPECIFIED)
            src_range = frame->color_range == AVCOL_RANGE_JPEG;
        sws_setColorspaceDetails(sws, inv, src_range, table, dst_range, brightness,
                                 contrast, saturation);
    }
    img = media_image_new(width, height);
    uint8_t *dst[1] = { img->rgb };
    int dst_stride[1] = { img->stride };
    sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
              dst, dst_stride);
    *out = img;
    img = NULL;
    rc = 0;
out:
    sws_freeContext(sws);
    media_image_free(img);
    return rc;
}

int media_image_scale(const media_image *img, int width, int height, media_image **out,
                      char *err, size_t errlen)
{
    int rc = -1;
    struct SwsContext *sws = NULL;
    media_image *dst = NULL;

    *out = NULL;
    if (!size_ok(width, height)) {
        media_errorf(err, errlen, "bad picture size %dx%d", width, height);
        goto out;
    }
    sws = sws_getContext(img->width, img->height, AV_PIX_FMT_RGB24, width, height,
                         AV_PIX_FMT_RGB24, SWS_AREA, NULL, NULL, NULL);
    if (!sws) {
        media_errorf(err, errlen, "cannot create the scaler");
        goto out;
    }
    dst = media_image_new(width, height);
    const uint8_t *s[1] = { img->rgb };
    int ss[1] = { img->stride };
    uint8_t *d[1] = { dst->rgb };
    int ds[1] = { dst->stride };
    sws_scale(sws, s, ss, 0, img->height, d, ds);
    *out = dst;
    dst = NULL;
    rc = 0;
out:
    sws_freeContext(sws);
    media_image_free(dst);
    return rc;
}

int media_image_encode_webp(const media_image *img, int quality, uint8_t **out, size_t *len,
                            char *err, size_t errlen)
{
    uint8_t *webp = NULL;
    *out = NULL;
    *len = 0;
    size_t n = WebPEncodeRGB(img->rgb, img->width, img->height, img->stride,
                             (float)quality, &webp);
    if (n == 0) {
        media_errorf(err, errlen, "WebP encoding failed");
        return -1;
    }
    /* Hand the caller plain malloc memory so it never needs to know about WebPFree. */
    *out = xmalloc(n);
    memcpy(*out, webp, n);
    *len = n;
    WebPFree(webp);
    return 0;
}
