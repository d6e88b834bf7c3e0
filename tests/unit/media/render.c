/* tests/unit/media/render.c: the builtin engine's clips are what the product promises:
 * real H.264 in a faststart MP4 of the requested size and length, 24 fps, carrying the
 * provenance comment, and a pure function of the prompt (same prompt, same frames). */
#include <stdint.h>
#include <sys/stat.h>

#include "media/probe.h"
#include "tests/unit/media/fixture.h"

TestSuite(render, .init = scratch_make, .fini = scratch_remove);

/* Offset of the first top-level box of `type`, or -1. */
static long find_box(const unsigned char *buf, size_t len, const char *type)
{
    size_t off = 0;
    while (off + 8 <= len) {
        uint64_t size = (uint64_t)buf[off] << 24 | buf[off + 1] << 16 | buf[off + 2] << 8 |
                        buf[off + 3];
        if (memcmp(buf + off + 4, type, 4) == 0) return (long)off;
        if (size == 1 && off + 16 <= len) {
            size = 0;
            for (int i = 0; i < 8; i++) size = size << 8 | buf[off + 8 + i];
        }
        if (size < 8) return -1;
        off += size;
    }
    return -1;
}

Test(render, picture_sizes_per_aspect_and_quality)
{
    struct { const char *aspect; media_quality q; int w, h; } cases[] = {
        { "9:16", MEDIA_QUALITY_STANDARD, 480, 854 }, { "16:9", MEDIA_QUALITY_STANDARD, 854, 480 },
        { "1:1", MEDIA_QUALITY_STANDARD, 480, 480 },  { "9:16", MEDIA_QUALITY_PRO, 720, 1280 },
        { "16:9", MEDIA_QUALITY_PRO, 1280, 720 },     { "1:1", MEDIA_QUALITY_PRO, 720, 720 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w = 0, h = 0;
        cr_assert_eq(media_render_size(cases[i].aspect, cases[i].q, &w, &h), 0);
        cr_assert_eq(w, cases[i].w, "%s: width %d", cases[i].aspect, w);
        cr_assert_eq(h, cases[i].h, "%s: height %d", cases[i].aspect, h);
    }
    int w, h;
    cr_assert_eq(media_render_size("4:3", MEDIA_QUALITY_STANDARD, &w, &h), -1);
}

Test(render, standard_clip_is_faststart_h264_with_provenance)
{
    char path[256], err[256] = "";
    media_render_params p = params_default("a red fox jumping over neon puddles");
    render_into(&p, "clip.mp4", path, sizeof path);

    size_t len;
    unsigned char *buf = read_all(path, &len);
    cr_assert_gt(len, 1000);
    cr_assert_eq(memcmp(buf + 4, "ftyp", 4), 0, "no ftyp box at offset 4");
    long moov = find_box(buf, len, "moov"), mdat = find_box(buf, len, "mdat");
    cr_assert_gt(moov, 0);
    cr_assert_gt(mdat, 0);
    cr_assert_lt(moov, mdat, "moov must precede mdat (faststart)");
    free(buf);

    media_probe_info info;
    cr_assert_eq(media_probe_file(path, &info, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(info.video_codec, "h264");
    cr_assert_eq(info.width, 480);
    cr_assert_eq(info.height, 854);
    cr_assert_leq(llabs(info.duration_ms - 4000), 1000, "duration %lld", info.duration_ms);
    cr_assert_eq(info.frames, 96);
    cr_assert_eq(info.has_audio, 0);
    cr_assert_eq(info.size_bytes, (int64_t)len);
    cr_assert_eq(info.truncated, 0);
    cr_assert_eq(media_probe_check(&info, 4, 50 << 20, err, sizeof err), 0, "%s", err);

    decoded_clip d = decode_clip(path, 0);
    cr_assert_eq(d.frames, 96, "decoded %d frames", d.frames);
    cr_assert_str_eq(d.comment, "flick-provenance:123");
    free(d.luma);
    cr_assert_eq(scratch_count(), 1, "temporary files left behind");
}

Test(render, pro_landscape_size_and_length)
{
    char path[256], err[256] = "";
    media_render_params p = params_default("city lights in the rain");
    p.quality = MEDIA_QUALITY_PRO;
    p.aspect = "16:9";
    p.cameos[0] = p.cameos[1] = NULL;
    render_into(&p, "pro.mp4", path, sizeof path);
    media_probe_info info;
    cr_assert_eq(media_probe_file(path, &info, err, sizeof err), 0, "%s", err);
    cr_assert_eq(info.width, 1280);
    cr_assert_eq(info.height, 720);
    cr_assert_eq(info.frames, 96);
    cr_assert_eq(media_probe_check(&info, 4, 50 << 20, err, sizeof err), 0, "%s", err);
}

Test(render, same_prompt_same_frames_other_prompt_other_frames)
{
    char a[256], a2[256], b[256];
    media_render_params p = params_default("a red fox jumping over neon puddles");
    render_into(&p, "a.mp4", a, sizeof a);
    render_into(&p, "a2.mp4", a2, sizeof a2);
    media_render_params q = params_default("slow jellyfish in a deep blue sea");
    render_into(&q, "b.mp4", b, sizeof b);

    decoded_clip da = decode_clip(a, 30), da2 = decode_clip(a2, 30), db = decode_clip(b, 30);
    cr_assert_not_null(da.luma);
    cr_assert_not_null(da2.luma);
    cr_assert_not_null(db.luma);
    size_t n = (size_t)da.width * da.height;
    cr_assert_eq(memcmp(da.luma, da2.luma, n), 0, "same prompt, different frame 30");

    /* "Visibly different": the average luma difference is large, not a few noisy pixels. */
    uint64_t diff = 0;
    for (size_t i = 0; i < n; i++) diff += (uint64_t)abs((int)da.luma[i] - (int)db.luma[i]);
    cr_assert_gt(diff / n, 10, "prompts look alike: mean luma difference %llu",
                 (unsigned long long)(diff / n));

    /* Byte-identical files: a retried job reproduces the same SHA-256. */
    size_t la, la2;
    unsigned char *ba = read_all(a, &la), *ba2 = read_all(a2, &la2);
    cr_assert_eq(la, la2);
    cr_assert_eq(memcmp(ba, ba2, la), 0, "same parameters, different bytes");
    free(ba);
    free(ba2);
    free(da.luma);
    free(da2.luma);
    free(db.luma);
}

Test(render, watermark_moves)
{
    /* Same scene, different creator: the pixels that differ are the watermark's, and they
     * are in different places at the start and at the end of the clip. */
    char a[256], b[256];
    media_render_params p = params_default("a quiet beach");
    p.cameos[0] = p.cameos[1] = NULL;
    render_into(&p, "a.mp4", a, sizeof a);
    p.creator = "mallory_the_long_name";
    render_into(&p, "b.mp4", b, sizeof b);
    long rows[2];
    int picks[2] = { 0, 95 };
    for (int k = 0; k < 2; k++) {
        decoded_clip da = decode_clip(a, picks[k]), db = decode_clip(b, picks[k]);
        long sum = 0, count = 0;
        for (int y = 0; y < da.height; y++)
            for (int x = 0; x < da.width; x++) {
                size_t i = (size_t)y * da.width + x;
                if (abs((int)da.luma[i] - (int)db.luma[i]) > 40) { sum += y; count++; }
            }
        cr_assert_gt(count, 100, "no watermark pixels found in frame %d", picks[k]);
        rows[k] = sum / count;
        free(da.luma);
        free(db.luma);
    }
    cr_assert_gt(labs(rows[0] - rows[1]), 40, "watermark rows %ld and %ld", rows[0], rows[1]);
}

Test(render, bad_parameters_fail_and_leave_nothing)
{
    char path[256], err[256];
    scratch_path("x.mp4", path, sizeof path);
    media_render_params p = params_default("anything");
    p.seconds = 5;
    cr_assert_eq(media_render_clip(&p, path, err, sizeof err), -1);
    cr_assert(strstr(err, "seconds"), "%s", err);
    p = params_default("anything");
    p.aspect = "4:3";
    cr_assert_eq(media_render_clip(&p, path, err, sizeof err), -1);
    cr_assert(strstr(err, "aspect"), "%s", err);
    p = params_default("anything");
    p.creator = "";
    cr_assert_eq(media_render_clip(&p, path, err, sizeof err), -1);
    p = params_default("");
    cr_assert_eq(media_render_clip(&p, path, err, sizeof err), -1);
    p = params_default("anything");
    p.font_path = "/nonexistent/font.ttf";
    cr_assert_eq(media_render_clip(&p, path, err, sizeof err), -1);
    cr_assert(strstr(err, "font"), "%s", err);
    cr_assert_eq(scratch_count(), 0);
}

static int cancel_at_half(void *arg, int percent)
{
    int *seen = arg;
    cr_assert_gt(percent, *seen, "progress must increase");
    *seen = percent;
    return percent >= 50;
}

Test(render, progress_reports_and_cancel_leaves_nothing)
{
    char path[256], err[256] = "";
    int seen = -1;
    scratch_path("c.mp4", path, sizeof path);
    media_render_params p = params_default("a cancelled clip");
    p.progress = cancel_at_half;
    p.progress_arg = &seen;
    cr_assert_eq(media_render_clip(&p, path, err, sizeof err), -1);
    cr_assert(strstr(err, "cancel"), "%s", err);
    cr_assert_eq(seen, 50);
    cr_assert_eq(scratch_count(), 0, "canceled render left files");
}
