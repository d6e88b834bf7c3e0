/* tests/integration/worker_faults.c: `flickd work` against the http engine adapter and a
 * fake engine that misbehaves on command. A job either ends as one tagged, stored,
 * published draft, or as `failed` with the error code a client can act on and nothing
 * published: transient faults (429, 5xx, garbage, truncated or oversized downloads,
 * redirects) are retried with backoff up to FLICK_JOB_MAX_ATTEMPTS (3 here); refusals
 * (4xx) end at once; clips that are not acceptable are `invalid_media`, at once when they
 * arrived whole (wrong length, not an MP4), after the retries when the download was cut
 * off for being too large. */
#include "tests/integration/worker_harness.h"

TestSuite(faults, .init = h_setup, .fini = h_teardown, .timeout = 120);

static h_fake fake;
static pid_t worker;
static char worker_log[700];

/* The fake engine in `mode` (a /_mode body, NULL for normal) and a worker pointed at it;
 * extra: more NAME=VALUE settings for the worker. */
static void start(const char *mode, const char *const *extra)
{
    fake = h_fake_start();
    if (mode) h_fake_mode(&fake, mode);
    static char url[128], key[128];
    snprintf(url, sizeof url, "FLICK_ENGINE_URL=%s", fake.url);
    snprintf(key, sizeof key, "FLICK_ENGINE_KEY=%s", H_FAKE_KEY);
    const char *env[12] = { url, key };
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 11; i++) env[n++] = extra[i];
    env[n] = NULL;
    worker = h_flickd("work", env, worker_log, sizeof worker_log);
}

static void stop(void) { h_stop_clean(worker, worker_log); }

/* Runs one http job to a failure and checks how it failed. */
static void expect_failure(const char *code, int attempts)
{
    long long user = h_user("fault", 0, NULL, 0);
    long long gen = h_job(user, "http", "a storm over the harbour", 4, "9:16", NULL, 0);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "failed");
    cr_assert_str_eq(h_text("SELECT error_code FROM generations WHERE id = $1::bigint", h_id(gen)), code);
    cr_assert_neq(h_text("SELECT error_message FROM generations WHERE id = $1::bigint", h_id(gen))[0], '\0',
                  "a failure says why");
    if (attempts) cr_assert_eq(h_ll("SELECT attempts FROM generations WHERE id = $1::bigint", h_id(gen)), attempts);
    cr_assert_eq(h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND finished_at IS NOT NULL "
                      "AND lease_owner IS NULL", h_id(gen)), 1);
    h_check_unpublished(gen);
}

Test(faults, http_clip_is_tagged_stored_and_published_and_remixed_through_the_engine)
{
    start(NULL, NULL);
    /* Casting yourself needs no cameo of your own; you get no notification about it. */
    long long ana = h_user("ana", 0, NULL, 0), ben = h_user("ben", 1, NULL, 0);
    char cameos[64];
    snprintf(cameos, sizeof cameos, "{%lld,%lld}", ana, ben);
    long long gen = h_job(ana, "http", "lanterns drifting over a lake", 4, "9:16", cameos, 0);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "succeeded");
    long long post = h_check_published(gen, ana, 4, 0);

    /* What the engine was asked, and how. */
    json_t *st = h_fake_stats(&fake);
    json_t *sub = json_object_get(st, "last_submit");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "model")), "sora-2");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "seconds")), "4");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "size")), "480x854");
    cr_assert_str_eq(json_string_value(json_object_get(sub, "prompt")), "lanterns drifting over a lake");
    cr_assert_eq(json_integer_value(json_object_get(st, "unauthorized")), 0);
    cr_assert_eq(json_integer_value(json_object_get(st, "submit")), 1);
    json_decref(st);

    /* The fake's clip says "made-elsewhere": the stored one says ours, and is what we hash. */
    cr_assert_eq(h_ll("SELECT count(*) FROM post_cameos WHERE post_id = $1::bigint", h_id(post)), 2);
    cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE post_id = $1::bigint AND type = 'cameo_used' "
                      "AND actor_id = $2::bigint", h_id(post), h_id(ana)), 1);
    cr_assert_eq(h_ll("SELECT user_id FROM notifications WHERE post_id = $1::bigint", h_id(post)), ben);

    /* A remix of a clip of the same engine and shape goes through the engine's remix call. */
    long long remix = h_job(ana, "http", "the same lake at dawn", 4, "9:16", NULL, post);
    cr_assert_str_eq(h_wait_status(remix, "succeeded failed", 90), "succeeded");
    long long rpost = h_check_published(remix, ana, 4, 0);
    cr_assert_eq(h_fake_count(&fake, "remix"), 1);
    cr_assert_eq(h_fake_count(&fake, "submit"), 1);
    st = h_fake_stats(&fake);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(st, "remix_sources"), 0)),
                     h_text("SELECT engine_job_id FROM generations WHERE id = $1::bigint", h_id(gen)));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "last_remix"), "prompt")),
                     "the same lake at dawn");
    json_decref(st);
    cr_assert_eq(h_ll("SELECT count(*) FROM posts WHERE id = $1::bigint AND remix_of = $2::bigint "
                      "AND remix_root = $2::bigint AND remix_depth = 1", h_id(rpost), h_id(post)), 1);
    /* Same bytes from the engine, different generation: different tag, different file. */
    cr_assert_str_neq(h_text("SELECT sha256 FROM provenance WHERE generation_id = $1::bigint", h_id(gen)),
                      h_text("SELECT sha256 FROM provenance WHERE generation_id = $1::bigint", h_id(remix)));
    stop();
}

Test(faults, server_errors_are_retried_then_the_job_succeeds)
{
    start("{\"mode\": \"500\", \"count\": 2}", NULL);
    long long user = h_user("retry", 0, NULL, 0);
    long long gen = h_job(user, "http", "retry me", 4, "9:16", NULL, 0);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "succeeded");
    cr_assert_eq(h_ll("SELECT attempts FROM generations WHERE id = $1::bigint", h_id(gen)), 2);
    h_check_published(gen, user, 4, 0);
    stop();
}

Test(faults, a_poll_error_keeps_the_engine_job)
{
    start("{\"mode\": \"500\", \"count\": 1, \"only\": \"poll\"}", NULL);
    long long user = h_user("poll", 0, NULL, 0);
    long long gen = h_job(user, "http", "poll me", 4, "9:16", NULL, 0);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "succeeded");
    cr_assert_eq(h_fake_count(&fake, "submit"), 1, "the engine job was paid for twice");
    stop();
}

Test(faults, endless_rate_limiting_fails_with_engine_failed)
{
    start("{\"mode\": \"429\"}", NULL);
    expect_failure("engine_failed", 3);
    cr_assert_eq(h_fake_count(&fake, "submit"), 3);
    stop();
}

Test(faults, a_hanging_engine_fails_with_engine_timeout)
{
    start("{\"mode\": \"hang\"}", (const char *const[]){ "FLICK_ENGINE_TIMEOUT_MS=700", NULL });
    expect_failure("engine_timeout", 3);
    stop();
}

Test(faults, a_stalled_download_is_a_timeout_and_keeps_the_engine_job)
{
    start("{\"mode\": \"hang\", \"only\": \"content\"}", (const char *const[]){ "FLICK_ENGINE_TIMEOUT_MS=1000", NULL });
    expect_failure("engine_timeout", 3);
    cr_assert_eq(h_fake_count(&fake, "submit"), 1);
    cr_assert_eq(h_fake_count(&fake, "content"), 3);
    stop();
}

Test(faults, garbage_json_fails_with_engine_failed)
{
    start("{\"mode\": \"garbage\"}", NULL);
    expect_failure("engine_failed", 3);
    stop();
}

Test(faults, redirects_are_not_followed)
{
    start("{\"mode\": \"redirect\"}", NULL);
    expect_failure("engine_failed", 3);
    cr_assert(strstr(h_text("SELECT error_message FROM generations WHERE user_id = $1::bigint",
                            h_id(h_users[0])), "redirect"));
    stop();
}

Test(faults, a_refused_prompt_fails_at_once_with_engine_rejected)
{
    start("{\"mode\": \"reject\"}", NULL);
    expect_failure("engine_rejected", 1);
    cr_assert_eq(h_fake_count(&fake, "submit"), 1, "a refusal must not be retried");
    cr_assert(strstr(h_text("SELECT error_message FROM generations WHERE user_id = $1::bigint",
                            h_id(h_users[0])), "rejected by the fake engine"), "the engine's reason is kept");
    stop();
}

Test(faults, a_wrong_api_key_is_engine_rejected)
{
    start(NULL, (const char *const[]){ "FLICK_ENGINE_KEY=not-the-key", NULL });
    /* start() put the right key first; a later setting of the same name wins in putenv order. */
    expect_failure("engine_rejected", 1);
    cr_assert_geq(h_fake_count(&fake, "unauthorized"), 1);
    stop();
}

Test(faults, an_engine_job_that_fails_is_resubmitted_then_reported)
{
    start("{\"mode\": \"failed\"}", NULL);
    expect_failure("engine_failed", 3);
    cr_assert_eq(h_fake_count(&fake, "submit"), 3, "each attempt starts a new engine job");
    cr_assert(strstr(h_text("SELECT error_message FROM generations WHERE user_id = $1::bigint",
                            h_id(h_users[0])), "gave up"));
    stop();
}

Test(faults, a_truncated_download_fails_with_engine_failed)
{
    start("{\"mode\": \"truncated\"}", NULL);
    expect_failure("engine_failed", 3);
    stop();
}

Test(faults, an_oversized_download_is_cut_off)
{
    start("{\"mode\": \"oversized\", \"bytes\": 8388608}",
          (const char *const[]){ "FLICK_MAX_VIDEO_BYTES=1048576", NULL });
    expect_failure("invalid_media", 3);
    cr_assert(strstr(h_text("SELECT error_message FROM generations WHERE user_id = $1::bigint",
                            h_id(h_users[0])), "larger than 1048576 bytes"));
    stop();
}

Test(faults, a_clip_of_the_wrong_length_is_invalid_media)
{
    start("{\"mode\": \"wrong_duration\"}", NULL);
    expect_failure("invalid_media", 1);
    cr_assert_eq(h_fake_count(&fake, "content"), 1, "a bad clip is not fetched again");
    stop();
}

Test(faults, content_that_is_not_an_mp4_is_invalid_media)
{
    start("{\"mode\": \"not_mp4\"}", NULL);
    expect_failure("invalid_media", 1);
    stop();
}

Test(faults, a_slow_engine_moves_progress_then_succeeds)
{
    start("{\"mode\": \"slow\", \"seconds\": 3}", NULL);
    long long user = h_user("slow", 0, NULL, 0);
    long long gen = h_job(user, "http", "take your time", 4, "9:16", NULL, 0);
    int mid = 0, last = 0;
    long long until = h_now_ms() + 90000;
    while (strcmp(h_status(gen), "succeeded") != 0 && strcmp(h_status(gen), "failed") != 0 && h_now_ms() < until) {
        int p = (int)h_ll("SELECT progress FROM generations WHERE id = $1::bigint", h_id(gen));
        cr_assert_geq(p, last, "progress went back from %d to %d", last, p);
        last = p;
        if (p > 0 && p < 100) mid = 1;
        h_sleep_ms(100);
    }
    cr_assert(mid, "no progress between 0 and 100 was seen");
    cr_assert_str_eq(h_status(gen), "succeeded");
    cr_assert_geq(h_fake_count(&fake, "poll"), 3);
    stop();
}
