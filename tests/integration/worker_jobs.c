/* tests/integration/worker_jobs.c: the life of a generation job under `flickd work` and
 * `flickd all`: a builtin job becomes a tagged, stored draft with posters, an animated
 * preview, provenance, cameo edges and notifications; a remix lands in the remix graph;
 * cancels and withdrawn cameos stop jobs without a draft; a stopping worker hands its job
 * over; a NOTIFY wakes an idle worker; `all` serves HTTP and works jobs in one process. */
#include "tests/integration/worker_harness.h"

#include <netinet/in.h>
#include <sys/socket.h>

TestSuite(jobs, .init = h_setup, .fini = h_teardown, .timeout = 240);

static char *fake_env(const h_fake *f, char *buf, size_t len)
{
    snprintf(buf, len, "FLICK_ENGINE_URL=%s", f->url);
    return buf;
}

Test(jobs, a_builtin_job_becomes_a_draft_with_media_provenance_and_notifications)
{
    char log[700], cameos[64];
    long long alice = h_user("alice", 0, NULL, 0);
    long long bob = h_user("bob", 1, NULL, 0), carol = h_user("carol", 1, NULL, 0);
    snprintf(cameos, sizeof cameos, "{%lld,%lld}", bob, carol);
    long long gen = h_job(alice, "builtin", "a red fox jumping over neon puddles", 4, "9:16", cameos, 0);
    pid_t w = h_flickd("work", NULL, log, sizeof log);

    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 180), "succeeded");
    long long post = h_check_published(gen, alice, 4, 1);
    char p[24];
    snprintf(p, sizeof p, "%lld", post);
    cr_assert_eq(h_ll("SELECT count(*) FROM posts WHERE id = $1::bigint AND remix_of IS NULL "
                      "AND remix_root IS NULL AND remix_depth = 0", p), 1, "an original");
    cr_assert_eq(h_ll("SELECT count(*) FROM post_cameos WHERE post_id = $1::bigint AND user_id IN ($2::bigint, $3::bigint)",
                      p, h_id(bob), h_id(carol)), 2);
    cr_assert_eq(h_ll("SELECT count(*) FROM post_cameos WHERE post_id = $1::bigint", p), 2);
    cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE post_id = $1::bigint AND type = 'cameo_used' "
                      "AND actor_id = $2::bigint AND user_id IN ($3::bigint, $4::bigint)",
                      p, h_id(alice), h_id(bob), h_id(carol)), 2);
    cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE user_id = $1::bigint", h_id(alice)), 0);
    cr_assert_str_eq(h_text("SELECT engine_job_id FROM generations WHERE id = $1::bigint", h_id(gen)),
                     h_text("SELECT 'builtin-' || $1", h_id(gen)));

    /* A remix of it: the engine's own remix call, and a place in the remix graph. */
    long long remix = h_job(alice, "builtin", "a red fox jumping over neon puddles", 4, "9:16", NULL, post);
    cr_assert_str_eq(h_wait_status(remix, "succeeded failed", 180), "succeeded");
    long long rpost = h_check_published(remix, alice, 4, 1);
    cr_assert_eq(h_ll("SELECT count(*) FROM posts WHERE id = $1::bigint AND remix_of = $2::bigint "
                      "AND remix_root = $2::bigint AND remix_depth = 1", h_id(rpost), p), 1);
    cr_assert(strstr(h_text("SELECT engine_job_id FROM generations WHERE id = $1::bigint", h_id(remix)), "-remix-"));
    /* Same prompt, but a remix is a new picture. */
    cr_assert_neq(h_ll("SELECT phash FROM provenance WHERE generation_id = $1::bigint", h_id(gen)),
                  h_ll("SELECT phash FROM provenance WHERE generation_id = $1::bigint", h_id(remix)));
    h_stop_clean(w, log);
}

Test(jobs, a_cameo_withdrawn_before_the_job_runs_fails_it_without_a_draft)
{
    char log[700], cameos[32];
    long long eve = h_user("eve", 0, NULL, 0), fay = h_user("fay", 1, NULL, 0);
    snprintf(cameos, sizeof cameos, "{%lld}", fay);
    long long gen = h_job(eve, "builtin", "fay on a unicycle", 4, "1:1", cameos, 0);
    h_exec("DELETE FROM cameos WHERE user_id = $1::bigint", h_id(fay));
    pid_t w = h_flickd("work", NULL, log, sizeof log);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 60), "failed");
    cr_assert_str_eq(h_text("SELECT error_code FROM generations WHERE id = $1::bigint", h_id(gen)), "cameo_revoked");
    h_check_unpublished(gen);
    cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE user_id = $1::bigint", h_id(fay)), 0);
    h_stop_clean(w, log);
}

/* Waits until the worker has the job at the engine (submitted, polling). */
static void wait_at_engine(long long gen)
{
    long long until = h_now_ms() + 60000;
    while (h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND status = 'running' "
                "AND engine_job_id IS NOT NULL AND lease_owner IS NOT NULL", h_id(gen)) == 0) {
        cr_assert_lt(h_now_ms(), until, "the job never reached the engine (status %s)", h_status(gen));
        h_sleep_ms(50);
    }
}

Test(jobs, a_cameo_withdrawn_while_the_engine_works_fails_the_job)
{
    char log[700], url[128], cameos[32];
    h_fake f = h_fake_start();
    h_fake_mode(&f, "{\"mode\": \"slow\", \"seconds\": 30}");
    long long gus = h_user("gus", 0, NULL, 0), hal = h_user("hal", 1, NULL, 0);
    snprintf(cameos, sizeof cameos, "{%lld}", hal);
    long long gen = h_job(gus, "http", "hal juggling", 4, "9:16", cameos, 0);
    pid_t w = h_flickd("work", (const char *const[]){ fake_env(&f, url, sizeof url),
                                                      "FLICK_ENGINE_KEY=" H_FAKE_KEY, "FLICK_JOB_LEASE_S=3", NULL },
                       log, sizeof log);
    wait_at_engine(gen);
    h_exec("DELETE FROM cameos WHERE user_id = $1::bigint", h_id(hal));
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 20), "failed");
    cr_assert_str_eq(h_text("SELECT error_code FROM generations WHERE id = $1::bigint", h_id(gen)), "cameo_revoked");
    h_check_unpublished(gen);
    h_stop_clean(w, log);
}

Test(jobs, a_job_canceled_while_queued_is_never_started)
{
    char log[700], url[128];
    h_fake f = h_fake_start();
    long long ida = h_user("ida", 0, NULL, 0);
    long long canceled = h_job(ida, "http", "never mind", 4, "9:16", NULL, 0);
    h_exec("UPDATE generations SET status = 'canceled', finished_at = now() WHERE id = $1::bigint", h_id(canceled));
    long long other = h_job(ida, "http", "this one please", 4, "9:16", NULL, 0);
    pid_t w = h_flickd("work", (const char *const[]){ fake_env(&f, url, sizeof url), "FLICK_ENGINE_KEY=" H_FAKE_KEY, NULL },
                       log, sizeof log);
    cr_assert_str_eq(h_wait_status(other, "succeeded failed", 90), "succeeded");
    cr_assert_str_eq(h_status(canceled), "canceled");
    cr_assert_eq(h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND engine_job_id IS NULL "
                      "AND claims = 0 AND lease_owner IS NULL", h_id(canceled)), 1);
    h_check_unpublished(canceled);
    cr_assert_eq(h_fake_count(&f, "submit"), 1);
    h_stop_clean(w, log);
}

Test(jobs, a_job_canceled_while_running_stops_without_a_draft)
{
    char log[700], url[128];
    h_fake f = h_fake_start();
    h_fake_mode(&f, "{\"mode\": \"slow\", \"seconds\": 60}");
    long long jon = h_user("jon", 0, NULL, 0);
    long long gen = h_job(jon, "http", "a very long take", 4, "9:16", NULL, 0);
    pid_t w = h_flickd("work", (const char *const[]){ fake_env(&f, url, sizeof url),
                                                      "FLICK_ENGINE_KEY=" H_FAKE_KEY, "FLICK_JOB_LEASE_S=3", NULL },
                       log, sizeof log);
    wait_at_engine(gen);
    /* What DELETE /v1/generations/{id} does. */
    h_exec("UPDATE generations SET status = 'canceled', finished_at = now() WHERE id = $1::bigint", h_id(gen));
    long long until = h_now_ms() + 10000;
    while (h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND lease_owner IS NULL", h_id(gen)) == 0) {
        cr_assert_lt(h_now_ms(), until, "the worker kept the canceled job");
        h_sleep_ms(50);
    }
    long long polls = h_fake_count(&f, "poll");
    h_sleep_ms(1500);
    cr_assert_leq(h_fake_count(&f, "poll"), polls + 1, "the worker still polls a canceled job");
    cr_assert_str_eq(h_status(gen), "canceled");
    h_check_unpublished(gen);
    h_stop_clean(w, log);
}

Test(jobs, a_stopping_worker_hands_its_job_to_the_next_one)
{
    char log[700], log2[700], url[128];
    h_fake f = h_fake_start();
    h_fake_mode(&f, "{\"mode\": \"slow\", \"seconds\": 4}");
    long long kim = h_user("kim", 0, NULL, 0);
    long long gen = h_job(kim, "http", "pass it on", 4, "9:16", NULL, 0);
    const char *env[] = { fake_env(&f, url, sizeof url), "FLICK_ENGINE_KEY=" H_FAKE_KEY, NULL };
    pid_t w = h_flickd("work", env, log, sizeof log);
    wait_at_engine(gen);
    h_stop_clean(w, log);
    /* Released, not abandoned: no lease to wait out, and the claim given back. */
    cr_assert_eq(h_ll("SELECT count(*) FROM generations WHERE id = $1::bigint AND status = 'running' "
                      "AND lease_owner IS NULL AND lease_expires_at IS NULL AND claims = 0", h_id(gen)), 1);
    pid_t w2 = h_flickd("work", env, log2, sizeof log2);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "succeeded");
    h_check_published(gen, kim, 4, 0);
    cr_assert_eq(h_fake_count(&f, "submit"), 1, "the engine job was resumed, not started again");
    h_stop_clean(w2, log2);
}

Test(jobs, a_notify_wakes_an_idle_worker_at_once)
{
    char log[700], url[128];
    h_fake f = h_fake_start();
    long long lea = h_user("lea", 0, NULL, 0);
    /* Polling alone would take a minute to notice the job. */
    pid_t w = h_flickd("work", (const char *const[]){ fake_env(&f, url, sizeof url), "FLICK_ENGINE_KEY=" H_FAKE_KEY,
                                                      "FLICK_JOB_POLL_MS=60000", NULL },
                       log, sizeof log);
    h_sleep_ms(1500);       /* both threads have found nothing and are listening */
    long long gen = h_job(lea, "http", "right now", 4, "9:16", NULL, 0);
    h_exec("SELECT pg_notify('flick_generations', $1)", h_id(gen));   /* as POST /v1/generations does */
    long long until = h_now_ms() + 10000;
    while (strcmp(h_status(gen), "queued") == 0) {
        cr_assert_lt(h_now_ms(), until, "the job was not picked up after NOTIFY");
        h_sleep_ms(50);
    }
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "succeeded");
    h_stop_clean(w, log);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

Test(jobs, flickd_all_serves_http_and_works_jobs)
{
    char log[700], url[128], listen[64], health[96];
    h_fake f = h_fake_start();
    int port = free_port();
    snprintf(listen, sizeof listen, "FLICK_LISTEN=127.0.0.1:%d", port);
    snprintf(health, sizeof health, "http://127.0.0.1:%d/healthz", port);
    pid_t all = h_flickd("all", (const char *const[]){ fake_env(&f, url, sizeof url), "FLICK_ENGINE_KEY=" H_FAKE_KEY,
                                                       listen, "FLICK_THREADS=1", NULL },
                         log, sizeof log);
    long long until = h_now_ms() + 20000;
    while (h_http("GET", health, NULL, NULL) != 200) {
        cr_assert_lt(h_now_ms(), until, "flickd all does not answer /healthz; see %s", log);
        h_sleep_ms(100);
    }
    long long max = h_user("max", 0, NULL, 0);
    long long gen = h_job(max, "http", "both at once", 4, "9:16", NULL, 0);
    cr_assert_str_eq(h_wait_status(gen, "succeeded failed", 90), "succeeded");
    h_check_published(gen, max, 4, 0);
    cr_assert_eq(h_http("GET", health, NULL, NULL), 200, "the API answers while workers run");
    h_stop_clean(all, log);
}
