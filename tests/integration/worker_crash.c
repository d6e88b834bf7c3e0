/* tests/integration/worker_crash.c: `kill -9` of `flickd work` in the middle of jobs loses
 * nothing and duplicates nothing. Six jobs (builtin and http) run under two workers with a
 * 3 s lease; the process is killed twice while jobs are at various steps; a third process
 * finishes what is left. Every job must end `succeeded` with exactly one draft, one
 * provenance record and one set of media rows. */
#include "tests/integration/worker_harness.h"

#include <stdbool.h>

TestSuite(crash, .init = h_setup, .fini = h_teardown, .timeout = 300);

#define JOBS 6

static long long count_status(const long long *gens, const char *status)
{
    long long n = 0;
    for (int i = 0; i < JOBS; i++) n += strcmp(h_status(gens[i]), status) == 0;
    return n;
}

/* Waits until at least `done` jobs succeeded and one is at the step `where` names (an SQL
 * condition on generations), or failing that for long, at any step; then kills -9. */
static void kill_mid_run(pid_t w, const long long *gens, int done, const char *where)
{
    char sql[512], user[24];
    snprintf(user, sizeof user, "%lld", h_users[0]);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM generations WHERE user_id = $1::bigint "
                              "AND status = 'running' AND lease_owner IS NOT NULL AND %s", where);
    long long start = h_now_ms();
    for (;;) {
        cr_assert_lt(h_now_ms(), start + 150000, "the jobs made no progress");
        long long ok = count_status(gens, "succeeded");
        if (ok >= JOBS) break;      /* too late to interrupt anything: still a valid run */
        bool patient = h_now_ms() < start + 20000;
        if (ok >= done && h_ll(sql, user) > 0) break;
        if (ok >= done && !patient && count_status(gens, "running") > 0) break;
        h_sleep_ms(10);
    }
    int st = h_stop(w, SIGKILL, 10);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

Test(crash, kill_9_in_the_middle_of_jobs_loses_nothing_and_duplicates_nothing)
{
    char log1[700], log2[700], log3[700], url[128];
    h_fake f = h_fake_start();
    h_fake_mode(&f, "{\"mode\": \"slow\", \"seconds\": 1}");
    snprintf(url, sizeof url, "FLICK_ENGINE_URL=%s", f.url);
    const char *env[] = { url, "FLICK_ENGINE_KEY=" H_FAKE_KEY, "FLICK_JOB_LEASE_S=3", NULL };

    long long user = h_user("crash", 0, NULL, 0), cast = h_user("cast", 1, NULL, 0);
    char cameos[32];
    snprintf(cameos, sizeof cameos, "{%lld}", cast);
    long long gens[JOBS];
    for (int i = 0; i < JOBS; i++) {
        char prompt[64];
        snprintf(prompt, sizeof prompt, "crash test clip number %d", i);
        gens[i] = h_job(user, i % 3 == 0 ? "builtin" : "http", prompt, 4, "1:1", cameos, 0);
    }

    pid_t w1 = h_flickd("work", env, log1, sizeof log1);
    /* First while the engine works (a render, a poll), then once a video is stored and
     * its thumbnails and draft are being made. */
    kill_mid_run(w1, gens, 0, "progress > 0 AND video_sha256 IS NULL");
    pid_t w2 = h_flickd("work", env, log2, sizeof log2);
    kill_mid_run(w2, gens, 2, "video_sha256 IS NOT NULL");
    pid_t w3 = h_flickd("work", env, log3, sizeof log3);
    for (int i = 0; i < JOBS; i++)
        cr_assert_str_eq(h_wait_status(gens[i], "succeeded failed", 180), "succeeded",
                         "job %lld: %s", gens[i],
                         h_text("SELECT error_message FROM generations WHERE id = $1::bigint", h_id(gens[i])));
    h_stop_clean(w3, log3);

    for (int i = 0; i < JOBS; i++) {
        long long post = h_check_published(gens[i], user, 4, 0);
        char p[24];
        snprintf(p, sizeof p, "%lld", post);
        cr_assert_eq(h_ll("SELECT count(*) FROM media WHERE post_id = $1::bigint AND kind <> 'poster'", p), 2);
        cr_assert_eq(h_ll("SELECT count(*) FROM post_cameos WHERE post_id = $1::bigint", p), 1);
        cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE post_id = $1::bigint", p), 1);
    }
    char u[24];
    snprintf(u, sizeof u, "%lld", user);
    cr_assert_eq(h_ll("SELECT count(*) FROM posts WHERE author_id = $1::bigint", u), JOBS, "one post per job, no more");
    cr_assert_eq(h_ll("SELECT count(*) FROM provenance pr JOIN generations g ON g.id = pr.generation_id "
                      "WHERE g.user_id = $1::bigint", u), JOBS);
    cr_assert_eq(h_ll("SELECT count(*) FROM notifications WHERE user_id = $1::bigint", h_id(cast)), JOBS);
    /* Every stored video is intact: its name is still the hash of its bytes. */
    PGresult *res = h_q("SELECT m.sha256 FROM media m JOIN posts p ON p.id = m.post_id "
                        "WHERE p.author_id = $1::bigint", u, NULL);
    for (int i = 0; i < PQntuples(res); i++) {
        size_t len;
        char path[700];
        free(h_stored(PQgetvalue(res, i, 0), &len, path, sizeof path));
    }
    PQclear(res);
}
