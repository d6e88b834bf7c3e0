/* tests/integration/worker_parts.c: the pieces the job worker is built from, one at a time:
 * the content-addressed media store, draft creation and its remix arithmetic (against the
 * test database), and the engine adapters (http against the fake engine, builtin locally):
 * job id checks, Retry-After, size limits while downloading, stopping a render. */
#include "tests/integration/worker_harness.h"

#include "feed/drafts.h"
#include "media/engine.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/time.h>

static char scratch[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static void parts_teardown(void)
{
    if (scratch[0]) nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    h_teardown();
}

TestSuite(parts, .init = h_setup, .fini = parts_teardown, .timeout = 120);

static void scratch_dir(void)
{
    strcpy(scratch, "/tmp/flick-store-test-XXXXXX");
    cr_assert_not_null(mkdtemp(scratch));
}

static int files_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

Test(parts, the_store_names_objects_by_their_sha256)
{
    scratch_dir();
    char sha[MEDIA_SHA256_HEX], again[MEDIA_SHA256_HEX], path[700], want[700], tmpdir[700], err[256];
    cr_assert_eq(media_store_put_bytes(scratch, "abc", 3, sha, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sha, SHA_ABC);
    media_store_path(scratch, sha, path, sizeof path);
    snprintf(want, sizeof want, "%s/media/ba/78/%s", scratch, SHA_ABC);
    cr_assert_str_eq(path, want);
    size_t len;
    unsigned char *buf = h_read(path, &len);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(buf, "abc", 3), 0);
    free(buf);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "objects are readable by the serving process");

    /* The same bytes again: same name, one object, no temporary file left. */
    cr_assert_eq(media_store_put_bytes(scratch, "abc", 3, again, err, sizeof err), 0);
    cr_assert_str_eq(again, sha);
    snprintf(tmpdir, sizeof tmpdir, "%s/media/ba/78", scratch);
    cr_assert_eq(files_in(tmpdir), 1);
    snprintf(tmpdir, sizeof tmpdir, "%s/media/tmp", scratch);
    cr_assert_eq(files_in(tmpdir), 0);

    /* A file moves in whole; the temporary name is gone afterwards. */
    char tmp[700];
    cr_assert_eq(media_store_tmp_path(scratch, ".mp4", tmp, sizeof tmp, err, sizeof err), 0);
    FILE *f = fopen(tmp, "wb");
    fputs("hello, store", f);
    fclose(f);
    cr_assert_eq(media_sha256_file(tmp, again, err, sizeof err), 0);
    cr_assert_eq(media_store_put_file(scratch, tmp, sha, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sha, again);
    cr_assert_neq(access(tmp, F_OK), 0);
    cr_assert_eq(media_store_put_file(scratch, tmp, sha, err, sizeof err), -1, "a missing file is an error");
    cr_assert_neq(err[0], '\0');
}

Test(parts, the_sweep_removes_only_stale_temporary_files)
{
    scratch_dir();
    char old[700], fresh[700], err[256], dir[700];
    cr_assert_eq(media_store_tmp_path(scratch, ".part", old, sizeof old, err, sizeof err), 0);
    cr_assert_eq(media_store_tmp_path(scratch, ".part", fresh, sizeof fresh, err, sizeof err), 0);
    cr_assert_str_neq(old, fresh);
    fclose(fopen(old, "wb"));
    fclose(fopen(fresh, "wb"));
    struct timeval tv[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
    cr_assert_eq(utimes(old, tv), 0);
    cr_assert_eq(media_store_sweep_tmp(scratch, 3600), 1);
    cr_assert_neq(access(old, F_OK), 0);
    cr_assert_eq(access(fresh, F_OK), 0);
    snprintf(dir, sizeof dir, "%s/media/tmp", scratch);
    cr_assert_eq(files_in(dir), 1);
}

/* A generation row to hang a draft on. */
static long long generation_for(long long user)
{
    return h_job(user, "builtin", "draft test", 4, "9:16", NULL, 0);
}

static long long draft(long long user, long long remix_of, const long long *cameos, int n, int expect_rc)
{
    feed_draft d;
    memset(&d, 0, sizeof d);
    d.author_id = user;
    d.generation_id = generation_for(user);
    d.prompt = "draft test";
    d.model = "standard";
    d.seconds = 4;
    d.aspect = "9:16";
    d.remix_of = remix_of;
    for (int i = 0; i < n; i++) d.cameo_ids[i] = cameos[i];
    long long post = 0;
    char err[256] = "";
    cr_assert_eq(feed_draft_create(h_db, &d, &post, err, sizeof err), expect_rc, "%s", err);
    cr_assert_gt(post, 0);
    /* The same generation again finds its post and writes nothing. */
    long long again = 0;
    cr_assert_eq(feed_draft_create(h_db, &d, &again, err, sizeof err), 1, "%s", err);
    cr_assert_eq(again, post);
    return post;
}

Test(parts, drafts_take_their_place_in_the_remix_graph)
{
    long long ann = h_user("ann", 0, NULL, 0), bea = h_user("bea", 1, NULL, 0);
    long long a = draft(ann, 0, NULL, 0, 0);
    long long b = draft(ann, a, NULL, 0, 0);
    long long c = draft(ann, b, NULL, 0, 0);
    long long orphan = draft(ann, 999999999999LL, NULL, 0, 0);
    const char *row = "SELECT coalesce(remix_of, 0) || '/' || coalesce(remix_root, 0) || '/' || remix_depth || '/' "
                      "|| status || '/' || caption || '/' || author_id FROM posts WHERE id = $1::bigint";
    char want[128];
    snprintf(want, sizeof want, "0/0/0/draft//%lld", ann);
    cr_assert_str_eq(h_text(row, h_id(a)), want);
    snprintf(want, sizeof want, "%lld/%lld/1/draft//%lld", a, a, ann);
    cr_assert_str_eq(h_text(row, h_id(b)), want);
    snprintf(want, sizeof want, "%lld/%lld/2/draft//%lld", b, a, ann);
    cr_assert_str_eq(h_text(row, h_id(c)), want, "the root is the chain's first post");
    snprintf(want, sizeof want, "0/0/0/draft//%lld", ann);
    cr_assert_str_eq(h_text(row, h_id(orphan)), want, "a vanished parent makes an original");

    /* Cast people get an edge; all but the author get a notification; unknown ids are skipped. */
    long long cast[] = { ann, bea, 999999999999LL };
    long long d = draft(ann, 0, cast, 3, 0);
    cr_assert_eq(h_ll("SELECT count(*) FROM post_cameos WHERE post_id = $1::bigint", h_id(d)), 2);
    cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE post_id = $1::bigint", h_id(d)), 1);
    cr_assert_eq(h_ll("SELECT user_id FROM notifications WHERE post_id = $1::bigint AND type = 'cameo_used' "
                      "AND actor_id = $2::bigint", h_id(d), h_id(ann)), bea);
}

Test(parts, engine_job_ids_are_checked_before_they_reach_a_url)
{
    cr_assert(media_engine_id_valid("video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"));
    cr_assert(media_engine_id_valid("builtin-12"));
    cr_assert_not(media_engine_id_valid(""));
    cr_assert_not(media_engine_id_valid(".."));
    cr_assert_not(media_engine_id_valid("a/b"));
    cr_assert_not(media_engine_id_valid("a?b=c"));
    cr_assert_not(media_engine_id_valid("a b"));
    char longid[200];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    cr_assert_not(media_engine_id_valid(longid));

    media_engine *e = media_engine_builtin_new();
    media_engine_status st;
    media_engine_request r = { .generation_id = 5, .prompt = "p", .seconds = 4, .aspect = "9:16", .creator = "c" };
    cr_assert_eq(media_engine_poll(e, &r, "../../etc", &st), MEDIA_ENGINE_REJECTED);
    /* A remix id stays short however long the chain it comes from. */
    char id[MEDIA_ENGINE_ID_MAX + 1];
    cr_assert_eq(media_engine_remix(e, &r, "builtin-4-remix-0123456789abcdef", id), MEDIA_ENGINE_OK);
    cr_assert(media_engine_id_valid(id));
    cr_assert_lt(strlen(id), 40);
    cr_assert_eq(strncmp(id, "builtin-5-remix-", 16), 0);
    cr_assert_str_eq(media_engine_name(e), "builtin");
    media_engine_free(e);
    media_engine_free(NULL);
}

static int stop_at_half(void *arg, int percent)
{
    int *seen = arg;
    if (percent > *seen) *seen = percent;
    return percent >= 50;
}

Test(parts, the_builtin_engine_renders_on_fetch_and_stops_when_told)
{
    scratch_dir();
    media_engine *e = media_engine_builtin_new();
    media_engine_request r = { .generation_id = 77, .prompt = "a paper boat", .quality = MEDIA_QUALITY_STANDARD,
                               .seconds = 4, .aspect = "1:1", .creator = "maker" };
    char id[MEDIA_ENGINE_ID_MAX + 1], dest[700];
    cr_assert_eq(media_engine_submit(e, &r, id), MEDIA_ENGINE_OK);
    cr_assert_str_eq(id, "builtin-77");
    media_engine_status st;
    cr_assert_eq(media_engine_poll(e, &r, id, &st), MEDIA_ENGINE_OK);
    cr_assert_eq(st.state, MEDIA_ENGINE_COMPLETED);
    snprintf(dest, sizeof dest, "%s/clip.mp4", scratch);
    int seen = 0;
    cr_assert_eq(media_engine_fetch(e, &r, id, dest, 64 << 20, stop_at_half, &seen), MEDIA_ENGINE_STOPPED);
    cr_assert_geq(seen, 50);
    cr_assert_lt(seen, 100);
    cr_assert_eq(files_in(scratch), 0, "a stopped render leaves nothing");
    /* Too small a limit for the clip: a failure, and nothing kept. */
    cr_assert_eq(media_engine_fetch(e, &r, id, dest, 1024, NULL, NULL), MEDIA_ENGINE_TOO_LARGE);
    cr_assert(strstr(media_engine_error(e), "larger than 1024"));
    cr_assert_eq(files_in(scratch), 0);
    media_engine_free(e);
}

static media_engine *http_engine(const h_fake *f, const char *key, int timeout_ms)
{
    media_engine_http_config c = { .base_url = f->url, .api_key = key, .model_standard = "m-std",
                                   .model_pro = "m-pro", .timeout_ms = timeout_ms };
    media_engine *e = media_engine_http_new(&c);
    cr_assert_not_null(e);
    return e;
}

Test(parts, the_http_engine_speaks_the_videos_api)
{
    h_fake f = h_fake_start();
    scratch_dir();
    media_engine *e = http_engine(&f, H_FAKE_KEY, 3000);
    media_engine_request r = { .generation_id = 9, .prompt = "a kite", .quality = MEDIA_QUALITY_PRO,
                               .seconds = 8, .aspect = "16:9", .creator = "c" };
    char id[MEDIA_ENGINE_ID_MAX + 1], dest[700];
    cr_assert_eq(media_engine_submit(e, &r, id), MEDIA_ENGINE_OK, "%s", media_engine_error(e));
    json_t *st = h_fake_stats(&f);
    json_t *sub = json_object_get(st, "last_submit");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "model")), "m-pro");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "seconds")), "8");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "size")), "1280x720");
    json_decref(st);

    media_engine_status s;
    long long until = h_now_ms() + 10000;
    do {
        cr_assert_eq(media_engine_poll(e, &r, id, &s), MEDIA_ENGINE_OK, "%s", media_engine_error(e));
        cr_assert(s.progress >= 0 && s.progress <= 100);
        h_sleep_ms(100);
    } while (s.state != MEDIA_ENGINE_COMPLETED && h_now_ms() < until);
    cr_assert_eq(s.state, MEDIA_ENGINE_COMPLETED);
    cr_assert_eq(s.progress, 100);

    snprintf(dest, sizeof dest, "%s/clip.mp4", scratch);
    cr_assert_eq(media_engine_fetch(e, &r, id, dest, 64 << 20, NULL, NULL), MEDIA_ENGINE_OK, "%s", media_engine_error(e));
    size_t len;
    unsigned char *mp4 = h_read(dest, &len);
    cr_assert_eq(memcmp(mp4 + 4, "ftyp", 4), 0);
    free(mp4);
    /* Declared larger than allowed: refused before the body, nothing kept. */
    cr_assert_eq(media_engine_fetch(e, &r, id, dest, 1000, NULL, NULL), MEDIA_ENGINE_TOO_LARGE);
    cr_assert_neq(access(dest, F_OK), 0);

    /* 429 carries its Retry-After to the worker's backoff. */
    h_fake_mode(&f, "{\"mode\": \"429\", \"count\": 1, \"retry_after\": 7}");
    cr_assert_eq(media_engine_poll(e, &r, id, &s), MEDIA_ENGINE_RETRY);
    cr_assert_eq(media_engine_retry_after_s(e), 7);
    cr_assert_eq(media_engine_poll(e, &r, id, &s), MEDIA_ENGINE_OK);
    cr_assert_eq(media_engine_retry_after_s(e), 0);
    cr_assert_str_eq(media_engine_error(e), "");

    /* An unknown job is a refusal, which the worker answers by submitting again. */
    cr_assert_eq(media_engine_poll(e, &r, "video_unknown", &s), MEDIA_ENGINE_REJECTED);
    cr_assert(strstr(media_engine_error(e), "404"));

    /* The remix call names its source. */
    char rid[MEDIA_ENGINE_ID_MAX + 1];
    cr_assert_eq(media_engine_remix(e, &r, id, rid), MEDIA_ENGINE_OK, "%s", media_engine_error(e));
    cr_assert_str_neq(rid, id);
    cr_assert_eq(h_fake_count(&f, "remix"), 1);
    media_engine_free(e);

    /* Nobody listening: a transient failure, quickly. */
    h_fake dead = f;
    snprintf(dead.url, sizeof dead.url, "http://127.0.0.1:1");
    e = http_engine(&dead, "k", 1000);
    cr_assert_eq(media_engine_submit(e, &r, id), MEDIA_ENGINE_RETRY);
    media_engine_free(e);
    media_engine_http_config bad = { .base_url = "file:///etc/passwd", .api_key = "k", .timeout_ms = 1000 };
    cr_assert_null(media_engine_http_new(&bad));
}
