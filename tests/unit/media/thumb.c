/* tests/unit/media/thumb.c: what the feed shows before a clip plays: WebP stills at the
 * promised widths (never upscaled), a looping animated preview, a poster that is not a black
 * frame, and a perceptual hash that survives re-encoding but tells clips apart. */
#include <math.h>
#include <stdint.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "media/image.h"
#include "media/phash.h"
#include "media/thumb.h"
#include "tests/unit/media/fixture.h"

TestSuite(thumb, .init = scratch_make, .fini = scratch_remove);

static media_thumbs *thumbs_of(const media_render_params *p, const char *name)
{
    char path[256], err[256] = "";
    render_into(p, name, path, sizeof path);
    media_thumbs *t = NULL;
    cr_assert_eq(media_thumbs_make(path, &t, err, sizeof err), 0, "%s", err);
    return t;
}

static double mean_luma(const media_image *img)
{
    const uint8_t *px = media_image_pixels(img);
    double sum = 0;
    int w = media_image_width(img), h = media_image_height(img);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = px + (size_t)y * media_image_stride(img) + (size_t)x * 3;
            sum += 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    return sum / ((double)w * h);
}

static void assert_webp_still(media_webp s, int want_w, int want_h)
{
    cr_assert_gt(s.len, 12);
    cr_assert_eq(memcmp(s.data, "RIFF", 4), 0);
    cr_assert_eq(memcmp(s.data + 8, "WEBP", 4), 0);
    int w = 0, h = 0;
    cr_assert(WebPGetInfo(s.data, s.len, &w, &h), "not decodable WebP");
    cr_assert_eq(w, want_w, "width %d, want %d", w, want_w);
    cr_assert_eq(h, want_h, "height %d, want %d", h, want_h);
    cr_assert_eq(s.width, w);
    cr_assert_eq(s.height, h);
}

Test(thumb, stills_never_upscale_a_standard_clip)
{
    media_render_params p = params_default("a red fox jumping over neon puddles");
    media_thumbs *t = thumbs_of(&p, "clip.mp4");
    /* 480 wide: the 720 slot is made at 480, so 180, 360, 480. */
    cr_assert_eq(media_thumbs_still_count(t), 3);
    int widths[3] = { 180, 360, 480 };
    for (int i = 0; i < 3; i++)
        assert_webp_still(media_thumbs_still(t, i), widths[i],
                          (int)lround(widths[i] * 854.0 / 480.0));
    media_thumbs_free(t);
}

Test(thumb, stills_of_a_wide_pro_clip_reach_720)
{
    media_render_params p = params_default("a square pro clip");
    p.quality = MEDIA_QUALITY_PRO;
    p.aspect = "1:1";
    media_thumbs *t = thumbs_of(&p, "pro.mp4");
    cr_assert_eq(media_thumbs_still_count(t), 3);
    int widths[3] = { 180, 360, 720 };
    for (int i = 0; i < 3; i++) assert_webp_still(media_thumbs_still(t, i), widths[i], widths[i]);
    media_thumbs_free(t);
}

Test(thumb, preview_is_a_looping_animation_240_wide)
{
    media_render_params p = params_default("a red fox jumping over neon puddles");
    media_thumbs *t = thumbs_of(&p, "clip.mp4");
    media_webp pv = media_thumbs_preview(t);
    cr_assert_eq(memcmp(pv.data, "RIFF", 4), 0);
    cr_assert_eq(memcmp(pv.data + 8, "WEBP", 4), 0);

    WebPData data = { pv.data, pv.len };
    WebPAnimDecoderOptions opts;
    cr_assert(WebPAnimDecoderOptionsInit(&opts));
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&data, &opts);
    cr_assert_not_null(dec);
    WebPAnimInfo info;
    cr_assert(WebPAnimDecoderGetInfo(dec, &info));
    cr_assert_eq(info.canvas_width, 240);
    cr_assert_eq(info.canvas_height, (uint32_t)lround(240 * 854.0 / 480.0));
    cr_assert_eq(info.loop_count, 0, "preview must loop forever");
    cr_assert_geq(info.frame_count, 10);

    int frames = 0, last_ts = 0, changed = 0;
    size_t size = (size_t)info.canvas_width * info.canvas_height * 4;
    uint8_t *first = malloc(size);
    while (WebPAnimDecoderHasMoreFrames(dec)) {
        uint8_t *buf;
        int ts;
        cr_assert(WebPAnimDecoderGetNext(dec, &buf, &ts));
        if (frames == 0) memcpy(first, buf, size);
        else if (memcmp(first, buf, size) != 0) changed = 1;
        cr_assert_gt(ts, last_ts);
        cr_assert_geq(ts - last_ts, 100, "faster than 10 fps");
        last_ts = ts;
        frames++;
    }
    cr_assert_geq(frames, 10);
    cr_assert_eq(frames, media_thumbs_preview_frames(t));
    cr_assert(changed, "the preview does not move");
    cr_assert_leq(last_ts, 2100, "preview longer than about 2 s: %d ms", last_ts);
    free(first);
    WebPAnimDecoderDelete(dec);
    media_thumbs_free(t);
}

Test(thumb, poster_skips_a_black_opening)
{
    media_render_params p = params_default("a red fox jumping over neon puddles");
    p.black_intro_frames = 24; /* the first second is black, watermark and badges aside */
    media_thumbs *t = thumbs_of(&p, "fade.mp4");
    cr_assert_geq(media_thumbs_poster_ms(t), 1000, "poster at %lld ms is in the black opening",
                  (long long)media_thumbs_poster_ms(t));
    cr_assert_gt(mean_luma(media_thumbs_poster(t)), 30.0);

    /* The smallest still shows the same bright picture. */
    media_webp s = media_thumbs_still(t, 0);
    media_image *img = NULL;
    char err[256] = "";
    cr_assert_eq(media_image_decode(s.data, s.len, &img, err, sizeof err), 0, "%s", err);
    cr_assert_gt(mean_luma(img), 30.0);
    media_image_free(img);
    media_thumbs_free(t);
}

Test(thumb, an_all_black_clip_still_gets_its_pictures)
{
    media_render_params p = params_default("nothing to see");
    p.black_intro_frames = 4 * 24;
    media_thumbs *t = thumbs_of(&p, "black.mp4");
    cr_assert_eq(media_thumbs_still_count(t), 3);
    cr_assert_geq(media_thumbs_preview_frames(t), 10);
    cr_assert_leq(media_thumbs_poster_ms(t), 3000);
    media_thumbs_free(t);
}

Test(thumb, phash_survives_reencoding_and_tells_clips_apart)
{
    char err[256] = "";
    media_render_params p = params_default("a red fox jumping over neon puddles");
    media_thumbs *t = thumbs_of(&p, "a.mp4");
    uint64_t h = media_thumbs_phash(t);
    cr_assert_eq(h, media_phash64(media_thumbs_poster(t)));

    /* The poster re-encoded as WebP, as a screenshot shared around would be. */
    uint8_t *webp = NULL;
    size_t len = 0;
    cr_assert_eq(media_image_encode_webp(media_thumbs_poster(t), 75, &webp, &len, err,
                                         sizeof err), 0, "%s", err);
    media_image *back = NULL;
    cr_assert_eq(media_image_decode(webp, len, &back, err, sizeof err), 0, "%s", err);
    int d_reencoded = media_phash_distance(h, media_phash64(back));
    cr_assert_leq(d_reencoded, 4, "re-encoded poster is %d bits away", d_reencoded);

    /* The 360-wide still: scaled and re-encoded. */
    media_webp s = media_thumbs_still(t, 1);
    media_image *small = NULL;
    cr_assert_eq(media_image_decode(s.data, s.len, &small, err, sizeof err), 0, "%s", err);
    int d_small = media_phash_distance(h, media_phash64(small));
    cr_assert_leq(d_small, 6, "360-wide still is %d bits away", d_small);

    media_render_params q = params_default("slow jellyfish in a deep blue sea");
    media_thumbs *u = thumbs_of(&q, "b.mp4");
    int d_other = media_phash_distance(h, media_thumbs_phash(u));
    cr_assert_geq(d_other, 16, "different clips only %d bits apart", d_other);
    cr_log_info("phash distances: re-encoded %d, 360 still %d, other prompt %d", d_reencoded,
                d_small, d_other);

    free(webp);
    media_image_free(back);
    media_image_free(small);
    media_thumbs_free(t);
    media_thumbs_free(u);
}

Test(thumb, garbage_and_truncated_input_fail_cleanly)
{
    char path[256], cut[256], err[256];
    media_thumbs *t = NULL;
    unsigned char noise[32768];
    srand(7);
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)rand();
    write_all(scratch_path("noise.mp4", path, sizeof path), noise, sizeof noise);
    cr_assert_eq(media_thumbs_make(path, &t, err, sizeof err), -1);
    cr_assert_null(t);

    media_render_params p = params_default("a clip cut short");
    render_into(&p, "full.mp4", path, sizeof path);
    size_t len;
    unsigned char *buf = read_all(path, &len);
    write_all(scratch_path("cut.mp4", cut, sizeof cut), buf, len / 3);
    /* A third of the file still holds the opening frames: either outcome is fine, as long as
     * it is an outcome (no crash, no hang) and success means real pictures. */
    if (media_thumbs_make(cut, &t, err, sizeof err) == 0) {
        cr_assert_geq(media_thumbs_still_count(t), 1);
        media_thumbs_free(t);
    }
    free(buf);
}
