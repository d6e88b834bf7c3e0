/* tests/unit/media/probe.c: probing must survive whatever an engine sends (garbage, cut
 * downloads, things that are not files) without crashing or hanging, and the acceptance
 * rules must refuse clips of the wrong length, size, codec or shape. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "media/probe.h"
#include "tests/unit/media/fixture.h"

TestSuite(probe, .init = scratch_make, .fini = scratch_remove);

static media_probe_info good_info(void)
{
    media_probe_info i;
    memset(&i, 0, sizeof i);
    strcpy(i.container, "mov,mp4,m4a,3gp,3g2,mj2");
    strcpy(i.video_codec, "h264");
    i.width = 480;
    i.height = 854;
    i.duration_ms = 4000;
    i.size_bytes = 300000;
    return i;
}

Test(probe, check_accepts_a_good_clip_and_names_each_broken_rule)
{
    char err[256];
    media_probe_info i = good_info();
    cr_assert_eq(media_probe_check(&i, 4, 1 << 20, err, sizeof err), 0, "%s", err);
    i.duration_ms = 4900;
    cr_assert_eq(media_probe_check(&i, 4, 1 << 20, err, sizeof err), 0, "within 1 s: %s", err);

    i = good_info();
    i.duration_ms = 5200;
    cr_assert_eq(media_probe_check(&i, 4, 1 << 20, err, sizeof err), -1);
    cr_assert(strstr(err, "duration"), "%s", err);
    i = good_info();
    cr_assert_eq(media_probe_check(&i, 8, 1 << 20, err, sizeof err), -1);
    cr_assert(strstr(err, "duration"), "%s", err);

    i = good_info();
    cr_assert_eq(media_probe_check(&i, 4, 299999, err, sizeof err), -1);
    cr_assert(strstr(err, "bytes"), "%s", err);

    struct { const char *field; void (*spoil)(media_probe_info *); } cases[] = {
        { "codec", NULL }, { "container", NULL }, { "odd", NULL }, { "tiny", NULL },
        { "huge", NULL }, { "novideo", NULL }, { "truncated", NULL },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        i = good_info();
        const char *f = cases[k].field;
        if (!strcmp(f, "codec")) strcpy(i.video_codec, "hevc");
        if (!strcmp(f, "container")) strcpy(i.container, "matroska,webm");
        if (!strcmp(f, "odd")) i.width = 481;
        if (!strcmp(f, "tiny")) i.height = 32;
        if (!strcmp(f, "huge")) i.width = 8192;
        if (!strcmp(f, "novideo")) i.video_codec[0] = '\0';
        if (!strcmp(f, "truncated")) i.truncated = 1;
        err[0] = '\0';
        cr_assert_eq(media_probe_check(&i, 4, 1 << 20, err, sizeof err), -1, "%s accepted", f);
        cr_assert_neq(err[0], '\0', "%s: no reason given", f);
    }
}

Test(probe, random_garbage_is_refused)
{
    char path[256], err[256];
    unsigned char buf[65536];
    srand(42);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)rand();
    write_all(scratch_path("garbage.mp4", path, sizeof path), buf, sizeof buf);
    media_probe_info info;
    err[0] = '\0';
    cr_assert_eq(media_probe_file(path, &info, err, sizeof err), -1);
    cr_assert_neq(err[0], '\0');

    /* A plausible ftyp box followed by noise reaches deeper into the demuxer. */
    memcpy(buf, "\x00\x00\x00\x18" "ftypisom\x00\x00\x02\x00" "isomavc1", 24);
    memcpy(buf + 24, "\x00\x00\x10\x00" "moov", 8);
    write_all(path, buf, sizeof buf);
    int rc = media_probe_file(path, &info, err, sizeof err);
    if (rc == 0)
        cr_assert_eq(media_probe_check(&info, 4, 1 << 20, err, sizeof err), -1,
                     "noise passed as a clip");

    write_all(path, "", 0);
    cr_assert_eq(media_probe_file(path, &info, err, sizeof err), -1);
}

Test(probe, truncated_clip_is_refused)
{
    char path[256], cut[256], err[256];
    media_render_params p = params_default("a clip cut short");
    render_into(&p, "full.mp4", path, sizeof path);
    size_t len;
    unsigned char *buf = read_all(path, &len);
    media_probe_info info;

    /* Cut inside the header (the moov box right after ftyp): nothing to read. */
    write_all(scratch_path("head.mp4", cut, sizeof cut), buf, 600);
    cr_assert_eq(media_probe_file(cut, &info, err, sizeof err), -1);

    /* Cut in the media data: the (faststart) header survives, the samples do not. */
    write_all(scratch_path("half.mp4", cut, sizeof cut), buf, len * 6 / 10);
    int rc = media_probe_file(cut, &info, err, sizeof err);
    if (rc == 0) {
        cr_assert_eq(info.truncated, 1);
        cr_assert_eq(media_probe_check(&info, 4, 50 << 20, err, sizeof err), -1);
        cr_assert(strstr(err, "truncated"), "%s", err);
    }
    free(buf);
}

Test(probe, things_that_are_not_regular_files_are_refused_at_once)
{
    char path[256], err[256];
    media_probe_info info;
    cr_assert_eq(media_probe_file("/nonexistent/clip.mp4", &info, err, sizeof err), -1);
    cr_assert_eq(media_probe_file(scratch, &info, err, sizeof err), -1, "a directory");
    cr_assert_eq(media_probe_file("/dev/zero", &info, err, sizeof err), -1, "a device");
    /* A FIFO with no writer would block an open(2) forever. */
    cr_assert_eq(mkfifo(scratch_path("fifo", path, sizeof path), 0600), 0);
    cr_assert_eq(media_probe_file(path, &info, err, sizeof err), -1, "a FIFO");
}

Test(probe, a_name_with_a_colon_is_a_file_not_a_protocol)
{
    char path[256], err[256] = "";
    media_render_params p = params_default("colons in names");
    render_into(&p, "http:clip.mp4", path, sizeof path);
    media_probe_info info;
    cr_assert_eq(media_probe_file(path, &info, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(info.video_codec, "h264");
}
