/* tests/unit/media/image.c: a moderator's provenance lookup starts from an uploaded still
 * (WebP, JPEG or PNG): each must decode to the right picture, hash close to the original,
 * and hostile bytes must be refused without a crash. Also the hash helpers themselves. */
#include <math.h>
#include <stdint.h>

#include <libswscale/swscale.h>

#include "media/image.h"
#include "media/phash.h"
#include "media/thumb.h"
#include "tests/unit/media/fixture.h"

TestSuite(image, .init = scratch_make, .fini = scratch_remove);

/* A test picture with smooth, asymmetric structure (waves and an off-centre disc), in
 * coordinates relative to its size so that scaled versions show the same thing. Symmetric
 * test cards make poor pHash subjects: their DCT coefficients cluster at the median. */
static media_image *pattern(int w, int h)
{
    media_image *img = media_image_new(w, h);
    uint8_t *px = media_image_pixels_mut(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = (double)x / w, v = (double)y / h;
            double wave = 60 * sin(7.3 * u + 3.1 * v) + 50 * cos(2.9 * u - 8.7 * v + 1.0);
            double du = u - 0.31, dv = v - 0.62;
            int disc = du * du + dv * dv < 0.02;
            uint8_t *p = px + (size_t)y * media_image_stride(img) + (size_t)x * 3;
            p[0] = (uint8_t)(disc ? 235 : 128 + wave);
            p[1] = (uint8_t)(disc ? 60 : 128 + 0.5 * wave + 40 * v);
            p[2] = (uint8_t)(disc ? 40 : 200 - 150 * u);
        }
    return img;
}

/* Encodes img with one of libavcodec's image encoders (PNG from RGB, JPEG from YUV). */
static uint8_t *encode_with(enum AVCodecID id, const media_image *img, size_t *len)
{
    const AVCodec *codec = avcodec_find_encoder(id);
    cr_assert_not_null(codec);
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    int w = media_image_width(img), h = media_image_height(img);
    enum AVPixelFormat fmt = id == AV_CODEC_ID_PNG ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUVJ420P;
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = fmt;
    enc->time_base = (AVRational){1, 25};
    if (id == AV_CODEC_ID_MJPEG) {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 4;
    }
    cr_assert_eq(avcodec_open2(enc, codec, NULL), 0);
    AVFrame *frame = av_frame_alloc();
    frame->format = fmt;
    frame->width = w;
    frame->height = h;
    cr_assert_eq(av_frame_get_buffer(frame, 0), 0);
    struct SwsContext *sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, fmt, SWS_BICUBIC,
                                            NULL, NULL, NULL);
    const uint8_t *src[1] = { media_image_pixels(img) };
    int stride[1] = { media_image_stride(img) };
    sws_scale(sws, src, stride, 0, h, frame->data, frame->linesize);
    AVPacket *pkt = av_packet_alloc();
    cr_assert_eq(avcodec_send_frame(enc, frame), 0);
    cr_assert_eq(avcodec_receive_packet(enc, pkt), 0);
    uint8_t *out = malloc((size_t)pkt->size);
    memcpy(out, pkt->data, (size_t)pkt->size);
    *len = (size_t)pkt->size;
    av_packet_free(&pkt);
    sws_freeContext(sws);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    return out;
}

static void assert_decodes_close(const uint8_t *bytes, size_t len, const media_image *orig,
                                 int max_distance, const char *what)
{
    char err[256] = "";
    media_image *img = NULL;
    cr_assert_eq(media_image_decode(bytes, len, &img, err, sizeof err), 0, "%s: %s", what, err);
    cr_assert_eq(media_image_width(img), media_image_width(orig), "%s", what);
    cr_assert_eq(media_image_height(img), media_image_height(orig), "%s", what);
    int d = media_phash_distance(media_phash64(orig), media_phash64(img));
    cr_assert_leq(d, max_distance, "%s: %d bits from the original", what, d);
    cr_log_info("%s: %d bits from the original", what, d);
    media_image_free(img);
}

Test(image, webp_jpeg_and_png_decode_to_the_same_picture)
{
    char err[256] = "";
    media_image *orig = pattern(320, 568);
    uint8_t *webp = NULL;
    size_t len;
    cr_assert_eq(media_image_encode_webp(orig, 80, &webp, &len, err, sizeof err), 0, "%s", err);
    assert_decodes_close(webp, len, orig, 4, "webp");
    free(webp);

    uint8_t *png = encode_with(AV_CODEC_ID_PNG, orig, &len);
    assert_decodes_close(png, len, orig, 0, "png");
    /* PNG is lossless: the pixels come back exactly. */
    media_image *img = NULL;
    cr_assert_eq(media_image_decode(png, len, &img, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(media_image_pixels(img), media_image_pixels(orig),
                        (size_t)media_image_stride(orig) * media_image_height(orig)), 0);
    media_image_free(img);
    free(png);

    uint8_t *jpeg = encode_with(AV_CODEC_ID_MJPEG, orig, &len);
    assert_decodes_close(jpeg, len, orig, 4, "jpeg");
    free(jpeg);
    media_image_free(orig);
}

Test(image, first_frame_of_an_animated_webp)
{
    char path[256], err[256] = "";
    media_render_params p = params_default("a red fox jumping over neon puddles");
    render_into(&p, "clip.mp4", path, sizeof path);
    media_thumbs *t = NULL;
    cr_assert_eq(media_thumbs_make(path, &t, err, sizeof err), 0, "%s", err);
    media_webp pv = media_thumbs_preview(t);
    media_image *img = NULL;
    cr_assert_eq(media_image_decode(pv.data, pv.len, &img, err, sizeof err), 0, "%s", err);
    cr_assert_eq(media_image_width(img), 240);
    /* The preview starts on the poster, so its first frame hashes near it. */
    int d = media_phash_distance(media_thumbs_phash(t), media_phash64(img));
    cr_assert_leq(d, 8, "preview's first frame is %d bits from the poster", d);
    media_image_free(img);
    media_thumbs_free(t);
}

Test(image, hostile_bytes_are_refused)
{
    char err[256];
    media_image *img = NULL;
    unsigned char noise[4096];
    srand(3);
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)rand();
    cr_assert_eq(media_image_decode(noise, sizeof noise, &img, err, sizeof err), -1);
    cr_assert_eq(media_image_decode("", 0, &img, err, sizeof err), -1);
    cr_assert_null(img);

    /* Right magic, noise after it, for each format. */
    const char *magics[] = { "RIFF\x10\x00\x00\x00WEBPVP8 ", "\xFF\xD8\xFF\xE0", "\x89PNG\r\n\x1a\n" };
    size_t magic_len[] = { 16, 4, 8 };
    for (int k = 0; k < 3; k++) {
        memcpy(noise, magics[k], magic_len[k]);
        cr_assert_eq(media_image_decode(noise, sizeof noise, &img, err, sizeof err), -1,
                     "noise after magic %d decoded", k);
    }

    /* Real files cut short. */
    media_image *orig = pattern(200, 200);
    size_t len;
    uint8_t *png = encode_with(AV_CODEC_ID_PNG, orig, &len);
    cr_assert_eq(media_image_decode(png, len / 2, &img, err, sizeof err), -1);
    free(png);
    uint8_t *webp = NULL;
    cr_assert_eq(media_image_encode_webp(orig, 80, &webp, &len, err, sizeof err), 0);
    cr_assert_eq(media_image_decode(webp, len / 2, &img, err, sizeof err), -1);
    free(webp);
    media_image_free(orig);

    /* A PNG header claiming 20000 x 20000 pixels is refused before anything that size is
     * allocated. */
    static const unsigned char big_png[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20, 8, 2, 0, 0, 0, 0x9d, 0x8a, 0x4b, 0x3c,
        0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82,
    };
    cr_assert_eq(media_image_decode(big_png, sizeof big_png, &img, err, sizeof err), -1);
}

Test(image, phash_helpers)
{
    char hex[17];
    cr_assert_eq(media_phash_distance(0, 0), 0);
    cr_assert_eq(media_phash_distance(0, UINT64_MAX), 64);
    cr_assert_eq(media_phash_distance(0x0F, 0x01), 3);
    cr_assert_str_eq(media_phash_hex(0x00ab00000000cd01ULL, hex), "00ab00000000cd01");

    media_image *a = pattern(480, 854);
    uint64_t h = media_phash64(a);
    cr_assert_eq(h, media_phash64(a), "not deterministic");
    /* Half the median split: a real picture sets about half the bits. */
    int ones = media_phash_distance(h, 0);
    cr_assert(ones >= 24 && ones <= 40, "%d bits set", ones);

    /* Scaling keeps the hash; a different picture does not. */
    char err[256] = "";
    media_image *small = NULL;
    cr_assert_eq(media_image_scale(a, 120, 213, &small, err, sizeof err), 0, "%s", err);
    int d_small = media_phash_distance(h, media_phash64(small));
    cr_assert_leq(d_small, 4, "scaled copy is %d bits away", d_small);
    media_image *flipped = media_image_new(480, 854);
    for (int y = 0; y < 854; y++)
        memcpy(media_image_pixels_mut(flipped) + (size_t)y * media_image_stride(flipped),
               media_image_pixels(a) + (size_t)(853 - y) * media_image_stride(a), 480 * 3);
    int d_flipped = media_phash_distance(h, media_phash64(flipped));
    cr_assert_geq(d_flipped, 16, "upside-down copy only %d bits away", d_flipped);
    cr_log_info("phash: scaled copy %d bits away, upside-down copy %d", d_small, d_flipped);
    /* Pictures smaller than the 32x32 reduction still hash (to something). */
    media_image *tiny = media_image_new(8, 8);
    (void)media_phash64(tiny);
    media_image_free(a);
    media_image_free(small);
    media_image_free(tiny);
    media_image_free(flipped);
}
