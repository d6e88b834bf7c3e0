/* media/worker.c: generation jobs, claimed from PostgreSQL and driven through an engine
 * (see worker.h). Each step can be repeated after a crash without harm: the engine job id is
 * saved as soon as the engine gives it, the stored video's hash is saved once it is in the
 * content-addressed store, and everything users see (draft, media rows, provenance, cameo
 * edges, notifications, `succeeded`) commits in one transaction that only the current lease
 * holder of a still-running job can make. A keeper thread renews the leases of all jobs in
 * progress and tells their workers when a job was canceled, revoked or taken over.
 * Not for the HTTP side: the API only inserts, cancels and reads generation rows. */
#include "media/worker.h"

#include "core/log.h"
#include "core/mem.h"
#include "feed/drafts.h"
#include "media/avlog.h"
#include "media/engine.h"
#include "media/probe.h"
#include "media/provenance.h"
#include "media/store.h"
#include "media/thumb.h"

#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MAX_MS (5 * 60 * 1000)
#define POLL_WAIT_MAX_MS 10000
#define PROGRESS_WRITE_MS 300       /* at most ~3 progress writes a second per job */
#define TMP_MAX_AGE_S 3600          /* temporary files older than this are debris */
#define SWEEP_EVERY_MS (10 * 60 * 1000)
#define RECONNECT_MS 1000
/* A job's claims beyond its engine attempts: how many crashes in a row it may survive. */
#define EXTRA_CLAIMS 5

/* Why the keeper asked a worker to stop its job. */
enum { STOP_NONE, STOP_GONE, STOP_REVOKED };

typedef struct media_workers media_workers;

typedef struct worker {
    media_workers *pool;
    int index;
    char owner[128];            /* lease_owner: host, pid, thread, random; unique per thread */
    pthread_t tid;
    PGconn *db;                 /* this thread's connection; NULL when down */
    media_engine *builtin;
    media_engine *http;         /* NULL without FLICK_ENGINE_URL */

    /* Shared with the keeper, under mu. */
    pthread_mutex_t mu;
    long long held_id;          /* the job in progress, 0 when idle */
    unsigned long long token;   /* changes on every claim, so a late verdict on an earlier
                                   claim never stops the next one */
    unsigned long long stop_token; /* the claim the keeper stopped */
    int stop_reason;            /* STOP_* for stop_token */

    /* The job in progress (this thread only). */
    long long job_id;
    int progress_written;       /* highest progress this claim wrote */
    long long progress_at_ms;   /* when it was written */
    bool lost;                  /* a guarded update found the job no longer ours */
} worker;

struct media_workers {
    core_config cfg;
    int n;
    worker *workers;
    pthread_t keeper;
    bool keeper_started;
    pthread_mutex_t mu;         /* with cv: naps that a stop cuts short */
    pthread_cond_t cv;
    bool stopping;
    char engines[64];           /* the engines these workers run, as a text[] literal */
};

/* A claimed job: the generation row plus what its steps need. */
typedef struct job {
    long long id, user_id, remix_of;
    char *prompt;               /* owned */
    char model[16], aspect[8], engine[16];
    int seconds, attempts, claims;
    long long cameo_ids[FEED_DRAFT_MAX_CAMEOS];
    char engine_job_id[MEDIA_ENGINE_ID_MAX + 1];
    char video_sha[MEDIA_SHA256_HEX];
    char creator[64];
    char cameo_names[MEDIA_RENDER_MAX_CAMEOS][64];
    char remix_source[MEDIA_ENGINE_ID_MAX + 1]; /* parent's engine job id when a remix call
                                                   can make this job; "" otherwise */
    bool revoked;               /* a cast person has withdrawn their cameo */
} job;

/* ---- time, naps and SQL ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(media_workers *p)
{
    pthread_mutex_lock(&p->mu);
    bool s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* Sleeps up to ms; returns early (true) when the pool is stopping. */
static bool nap(media_workers *p, long long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->stopping && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT) {}
    bool s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

/* Runs one statement on w->db. Returns the result when it succeeded (caller clears it), else
 * NULL after logging; a connection found broken is closed so the loop reconnects. */
static PGresult *sql(worker *w, const char *query, int n, const char *const *params)
{
    if (!w->db) return NULL;
    PGresult *res = PQexecParams(w->db, query, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return res;
    char msg[512], esc[600];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
    chomp(msg);
    log_msg(LOG_ERROR, "job query failed", "\"worker\":%d,\"job\":%lld,\"detail\":\"%s\"",
            w->index, w->job_id, log_escape(msg, esc, sizeof esc));
    PQclear(res);
    if (PQstatus(w->db) != CONNECTION_OK) {
        PQfinish(w->db);
        w->db = NULL;
    }
    return NULL;
}

/* Runs a guarded update (one that names our lease); false when it failed or touched no row,
 * which means the job is no longer ours to change. */
static bool guarded(worker *w, const char *query, int n, const char *const *params)
{
    PGresult *res = sql(w, query, n, params);
    bool ok = res && strcmp(PQcmdTuples(res), "0") != 0;
    if (res && !ok) w->lost = true;
    PQclear(res);
    return ok;
}

static void id_text(long long v, char *buf, size_t len) { snprintf(buf, len, "%lld", v); }

/* ---- the keeper's verdicts ---- */

static void hold(worker *w, long long id)
{
    pthread_mutex_lock(&w->mu);
    w->held_id = id;
    w->token++;
    pthread_mutex_unlock(&w->mu);
    w->job_id = id;
    w->progress_written = -1;
    w->progress_at_ms = 0;
    w->lost = false;
}

static void unhold(worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->held_id = 0;
    pthread_mutex_unlock(&w->mu);
    w->job_id = 0;
}

/* Whether the job in progress must stop now: shutdown, the keeper's verdict, or a guarded
 * update that found it gone. */
static bool must_stop(worker *w)
{
    if (w->lost || stopping(w->pool)) return true;
    pthread_mutex_lock(&w->mu);
    bool s = w->stop_token == w->token && w->stop_reason != STOP_NONE;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* ---- job outcomes; each is a guarded update, so only the lease holder's counts ---- */

static void job_fail(worker *w, const job *j, const char *code, const char *message, int attempt)
{
    char id[24], esc[600];
    id_text(j->id, id, sizeof id);
    const char *params[] = { id, w->owner, code, message, attempt ? "1" : "0" };
    if (guarded(w, "UPDATE generations SET status = 'failed', error_code = $3, error_message = $4, "
                   "  attempts = attempts + $5::int, finished_at = now(), lease_owner = NULL, "
                   "  lease_expires_at = NULL, updated_at = now() "
                   "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'",
                5, params))
        log_msg(LOG_INFO, "job failed", "\"job\":%lld,\"code\":\"%s\",\"detail\":\"%s\"",
                j->id, code, log_escape(message, esc, sizeof esc));
}

/* A transient failure: try again after a backoff, or fail with `code` once the attempts are
 * used up. clear_engine_job: the engine job itself is dead, so the next try submits anew. */
static void job_retry(worker *w, const job *j, const char *code, const char *message,
                      int retry_after_s, bool clear_engine_job)
{
    const core_config *cfg = &w->pool->cfg;
    if (j->attempts + 1 >= cfg->job_max_attempts) {
        job_fail(w, j, code, message, 1);
        return;
    }
    /* Exponential, with full jitter over its upper half so that a fleet of workers that
     * failed together does not come back together. */
    long long base = cfg->job_backoff_ms;
    for (int i = 0; i < j->attempts && base < BACKOFF_MAX_MS; i++) base *= 2;
    if (base > BACKOFF_MAX_MS) base = BACKOFF_MAX_MS;
    long long delay = base / 2 + (long long)randombytes_uniform((uint32_t)(base / 2 + 1));
    if (retry_after_s > 0 && (long long)retry_after_s * 1000 > delay) delay = (long long)retry_after_s * 1000;

    char id[24], secs[32], esc[600];
    id_text(j->id, id, sizeof id);
    snprintf(secs, sizeof secs, "%.3f", delay / 1000.0);
    const char *params[] = { id, w->owner, secs, clear_engine_job ? "true" : "false" };
    if (guarded(w, "UPDATE generations SET status = 'queued', attempts = attempts + 1, "
                   "  next_attempt_at = now() + make_interval(secs => $3::double precision), "
                   "  engine_job_id = CASE WHEN $4::boolean THEN NULL ELSE engine_job_id END, "
                   "  lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
                   "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'",
                4, params))
        log_msg(LOG_WARN, "job will be retried",
                "\"job\":%lld,\"attempt\":%d,\"delay_ms\":%lld,\"code\":\"%s\",\"detail\":\"%s\"",
                j->id, j->attempts + 1, delay, code, log_escape(message, esc, sizeof esc));
}

/* Gives the job back untouched (shutdown): another worker may take it at once. */
static void job_release(worker *w, const job *j)
{
    char id[24];
    id_text(j->id, id, sizeof id);
    const char *params[] = { id, w->owner };
    if (guarded(w, "UPDATE generations SET lease_owner = NULL, lease_expires_at = NULL, "
                   "  claims = greatest(claims - 1, 0), updated_at = now() "
                   "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'",
                2, params))
        log_msg(LOG_INFO, "job released", "\"job\":%lld", j->id);
}

/* The job was stopped from outside (shutdown, cancel, revoked cameo, lease taken over): find
 * out which, and end this claim accordingly. */
static void job_stopped(worker *w, const job *j)
{
    if (stopping(w->pool)) {
        job_release(w, j);
        return;
    }
    char id[24];
    id_text(j->id, id, sizeof id);
    const char *params[] = { id, w->owner };
    PGresult *res = sql(w,
        "SELECT status, lease_owner IS NOT DISTINCT FROM $2, "
        "  EXISTS (SELECT 1 FROM unnest(cameo_ids) c(id) WHERE c.id <> user_id "
        "          AND NOT EXISTS (SELECT 1 FROM cameos WHERE cameos.user_id = c.id)) "
        "FROM generations WHERE id = $1::bigint", 2, params);
    if (!res) return;
    if (PQntuples(res) == 1) {
        const char *status = PQgetvalue(res, 0, 0);
        bool mine = PQgetvalue(res, 0, 1)[0] == 't';
        bool revoked = PQgetvalue(res, 0, 2)[0] == 't';
        if (strcmp(status, "canceled") == 0) {
            log_msg(LOG_INFO, "job canceled", "\"job\":%lld", j->id);
            PQclear(sql(w, "UPDATE generations SET lease_owner = NULL, lease_expires_at = NULL "
                           "WHERE id = $1::bigint AND lease_owner = $2", 2, params));
        } else if (strcmp(status, "running") == 0 && mine && revoked) {
            w->lost = false;
            job_fail(w, j, "cameo_revoked", "a person cast in this video revoked their cameo", 0);
        } else if (strcmp(status, "running") == 0 && mine) {
            w->lost = false;
            job_release(w, j);
        } else {
            /* Another worker took it over after our lease ran out, or it was ended
             * elsewhere (a cameo withdrawal fails running jobs itself). */
            log_msg(LOG_INFO, "job is no longer this worker's", "\"job\":%lld,\"status\":\"%s\"",
                    j->id, status);
        }
    }
    PQclear(res);
}

/* Ends the claim after an engine call went wrong. After submit, a refusal is final; after
 * poll or fetch it means the engine no longer knows the job, so it is submitted again. */
static void engine_trouble(worker *w, const job *j, media_engine *eng, media_engine_rc rc,
                           bool after_submit)
{
    const char *msg = media_engine_error(eng);
    switch (rc) {
    case MEDIA_ENGINE_STOPPED:
        job_stopped(w, j);
        break;
    case MEDIA_ENGINE_REJECTED:
        if (after_submit) job_retry(w, j, "engine_rejected", msg, 0, true);
        else job_fail(w, j, "engine_rejected", msg, 1);
        break;
    case MEDIA_ENGINE_TOO_LARGE:
        /* Retried like any download that went wrong, but reported as what it is. */
        job_retry(w, j, "invalid_media", msg, 0, false);
        break;
    case MEDIA_ENGINE_TIMEOUT:
        job_retry(w, j, "engine_timeout", msg, media_engine_retry_after_s(eng), false);
        break;
    default:
        job_retry(w, j, "engine_failed", msg, media_engine_retry_after_s(eng), false);
        break;
    }
}

/* ---- progress ---- */

/* Writes progress (0..99; 100 belongs to the final transaction), at most every few hundred
 * ms and never backwards. A write that finds the job no longer ours flags it lost. */
static void report_progress(worker *w, int percent)
{
    if (percent > 99) percent = 99;
    if (percent <= w->progress_written) return;
    long long now = now_ms();
    if (now - w->progress_at_ms < PROGRESS_WRITE_MS && percent < 99) return;
    char id[24], p[16];
    id_text(w->job_id, id, sizeof id);
    snprintf(p, sizeof p, "%d", percent);
    const char *params[] = { id, w->owner, p };
    if (guarded(w, "UPDATE generations SET progress = greatest(progress, $3::int), updated_at = now() "
                   "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'",
                3, params)) {
        w->progress_written = percent;
        w->progress_at_ms = now;
    }
}

/* The engine's tick during a render or download: 90% of the bar is the engine's work; the
 * rest is checking, storing and thumbnails. */
static int on_tick(void *arg, int percent)
{
    worker *w = arg;
    if (must_stop(w)) return 1;
    if (percent >= 0) report_progress(w, percent * 9 / 10);
    return 0;
}

/* ---- claiming ---- */

static void job_free(job *j) { free(j->prompt); }

static void parse_ids(const char *text, long long *out, int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) break;
        out[n++] = v;
        p = *end == ',' ? end + 1 : end;
    }
}

/* Takes the next claimable job under our lease. 1: *j filled; 0: none; -1: database error. */
static int claim(worker *w, job *j)
{
    const core_config *cfg = &w->pool->cfg;
    char lease[16];
    snprintf(lease, sizeof lease, "%d", cfg->job_lease_s);
    const char *params[] = { w->owner, lease, w->pool->engines };
    PGresult *res = sql(w,
        "WITH c AS (SELECT id FROM generations "
        "           WHERE status IN ('queued', 'running') AND next_attempt_at <= now() "
        "             AND (lease_expires_at IS NULL OR lease_expires_at < now()) "
        "             AND engine = ANY($3::text[]) "
        "           ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "UPDATE generations g SET status = 'running', lease_owner = $1, "
        "  lease_expires_at = now() + make_interval(secs => $2::int), claims = g.claims + 1, "
        "  updated_at = now() "
        "FROM c WHERE g.id = c.id "
        "RETURNING g.id, g.user_id, g.prompt, g.model, g.seconds, g.aspect, "
        "  array_to_string(g.cameo_ids, ','), coalesce(g.remix_of, 0), g.engine, "
        "  coalesce(g.engine_job_id, ''), g.attempts, g.claims, coalesce(g.video_sha256, '')",
        3, params);
    if (!res) return -1;
    int got = PQntuples(res) == 1;
    if (got) {
        memset(j, 0, sizeof *j);
        j->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        j->user_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        j->prompt = xstrdup(PQgetvalue(res, 0, 2));
        snprintf(j->model, sizeof j->model, "%s", PQgetvalue(res, 0, 3));
        j->seconds = atoi(PQgetvalue(res, 0, 4));
        snprintf(j->aspect, sizeof j->aspect, "%s", PQgetvalue(res, 0, 5));
        parse_ids(PQgetvalue(res, 0, 6), j->cameo_ids, FEED_DRAFT_MAX_CAMEOS);
        j->remix_of = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
        snprintf(j->engine, sizeof j->engine, "%s", PQgetvalue(res, 0, 8));
        const char *eid = PQgetvalue(res, 0, 9);
        if (media_engine_id_valid(eid)) snprintf(j->engine_job_id, sizeof j->engine_job_id, "%s", eid);
        j->attempts = atoi(PQgetvalue(res, 0, 10));
        j->claims = atoi(PQgetvalue(res, 0, 11));
        snprintf(j->video_sha, sizeof j->video_sha, "%s", PQgetvalue(res, 0, 12));
    }
    PQclear(res);
    return got;
}

/* Names for the watermark and badges, the cameo check, and whether the parent clip can be
 * remixed by the engine itself (same engine, same shape; otherwise a plain submit). */
static int load_details(worker *w, job *j)
{
    char id[24];
    id_text(j->id, id, sizeof id);
    const char *params[] = { id };
    PGresult *res = sql(w,
        "SELECT u.username, "
        "  coalesce((SELECT string_agg(cu.username, ',' ORDER BY n.ord) "
        "            FROM unnest(g.cameo_ids) WITH ORDINALITY n(id, ord) JOIN users cu ON cu.id = n.id), ''), "
        "  EXISTS (SELECT 1 FROM unnest(g.cameo_ids) c(id) WHERE c.id <> g.user_id "
        "          AND NOT EXISTS (SELECT 1 FROM cameos WHERE cameos.user_id = c.id)), "
        "  CASE WHEN pg.engine = g.engine AND pp.seconds = g.seconds AND pp.aspect = g.aspect "
        "            AND pp.model = g.model THEN coalesce(pg.engine_job_id, '') ELSE '' END "
        "FROM generations g JOIN users u ON u.id = g.user_id "
        "LEFT JOIN posts pp ON pp.id = g.remix_of "
        "LEFT JOIN generations pg ON pg.id = pp.generation_id "
        "WHERE g.id = $1::bigint", 1, params);
    if (!res) return -1;
    int rc = -1;
    if (PQntuples(res) == 1) {
        snprintf(j->creator, sizeof j->creator, "%s", PQgetvalue(res, 0, 0));
        /* Usernames are [a-z0-9_], so a comma separates them unambiguously. */
        const char *names = PQgetvalue(res, 0, 1);
        for (int i = 0; i < MEDIA_RENDER_MAX_CAMEOS && *names; i++) {
            const char *comma = strchr(names, ',');
            size_t n = comma ? (size_t)(comma - names) : strlen(names);
            snprintf(j->cameo_names[i], sizeof j->cameo_names[i], "%.*s", (int)n, names);
            names = comma ? comma + 1 : names + n;
        }
        j->revoked = PQgetvalue(res, 0, 2)[0] == 't';
        const char *src = PQgetvalue(res, 0, 3);
        if (media_engine_id_valid(src)) snprintf(j->remix_source, sizeof j->remix_source, "%s", src);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

/* ---- the steps ---- */

/* What the stored video is, for its media row. */
typedef struct clip {
    char sha[MEDIA_SHA256_HEX];
    char path[700];             /* in the store */
    media_probe_info info;
} clip;

/* Waits for the engine job to finish. true: completed; false: the claim has ended. */
static bool await_engine(worker *w, const job *j, media_engine *eng, const media_engine_request *r)
{
    const core_config *cfg = &w->pool->cfg;
    long long deadline = now_ms() + (long long)cfg->engine_job_timeout_s * 1000;
    long long wait = cfg->engine_poll_ms;
    for (;;) {
        if (must_stop(w)) {
            job_stopped(w, j);
            return false;
        }
        media_engine_status st;
        media_engine_rc rc = media_engine_poll(eng, r, j->engine_job_id, &st);
        if (rc != MEDIA_ENGINE_OK) {
            engine_trouble(w, j, eng, rc, true);
            return false;
        }
        report_progress(w, st.progress * 9 / 10);
        if (st.state == MEDIA_ENGINE_COMPLETED) return true;
        if (st.state == MEDIA_ENGINE_FAILED) {
            char msg[400];
            snprintf(msg, sizeof msg, "the engine could not make the video%s%s%s%s",
                     st.error_code[0] ? " (" : "", st.error_code, st.error_code[0] ? ")" : "",
                     st.error_message[0] ? ": " : "");
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s", st.error_message);
            job_retry(w, j, "engine_failed", msg, 0, true);
            return false;
        }
        if (now_ms() >= deadline) {
            char msg[128];
            snprintf(msg, sizeof msg, "the engine did not finish within %d s", cfg->engine_job_timeout_s);
            job_retry(w, j, "engine_timeout", msg, 0, false);
            return false;
        }
        if (nap(w->pool, wait)) continue;      /* stopping: the top of the loop releases */
        wait = wait * 3 / 2;
        if (wait > POLL_WAIT_MAX_MS) wait = POLL_WAIT_MAX_MS;
    }
}

/* Checks a fetched clip, gives it our provenance tag, stores it and records its hash on the
 * job. Takes ownership of the file at tmp. true: *c filled; false: the claim has ended. */
static bool accept_clip(worker *w, const job *j, char *tmp, clip *c)
{
    const core_config *cfg = &w->pool->cfg;
    char err[256], msg[400], want[64], have[128], stamped[700] = "";
    bool ok = false;
    if (media_probe_file(tmp, &c->info, err, sizeof err) != 0 ||
        media_probe_check(&c->info, j->seconds, cfg->max_video_bytes, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "the engine's video was refused: %s", err);
        job_fail(w, j, "invalid_media", msg, 1);
        goto out;
    }
    /* Tagged before hashing, so the stored SHA-256 is that of the file users get. */
    media_provenance_comment(j->id, want, sizeof want);
    if (media_provenance_read(tmp, have, sizeof have, err, sizeof err) != 0 || strcmp(have, want) != 0) {
        if (media_store_tmp_path(cfg->data_dir, ".mp4", stamped, sizeof stamped, err, sizeof err) != 0) {
            job_retry(w, j, "engine_failed", err, 0, false);
            goto out;
        }
        if (media_provenance_stamp(tmp, stamped, want, err, sizeof err) != 0 ||
            media_probe_file(stamped, &c->info, err, sizeof err) != 0 ||
            media_probe_check(&c->info, j->seconds, cfg->max_video_bytes, err, sizeof err) != 0) {
            snprintf(msg, sizeof msg, "the engine's video could not be tagged: %s", err);
            job_fail(w, j, "invalid_media", msg, 1);
            goto out;
        }
        unlink(tmp);
        snprintf(tmp, 700, "%s", stamped);
        stamped[0] = '\0';
    }
    if (must_stop(w)) {
        job_stopped(w, j);
        goto out;
    }
    if (media_store_put_file(cfg->data_dir, tmp, c->sha, err, sizeof err) != 0) {
        tmp[0] = '\0';                          /* put_file removed it */
        snprintf(msg, sizeof msg, "cannot store the video: %s", err);
        job_retry(w, j, "engine_failed", msg, 0, false);
        goto out;
    }
    tmp[0] = '\0';
    media_store_path(cfg->data_dir, c->sha, c->path, sizeof c->path);
    char id[24];
    id_text(j->id, id, sizeof id);
    const char *params[] = { id, w->owner, c->sha };
    if (!guarded(w, "UPDATE generations SET video_sha256 = $3, progress = greatest(progress, 92), "
                    "  updated_at = now() "
                    "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'", 3, params)) {
        if (w->lost) job_stopped(w, j);
        goto out;
    }
    ok = true;
out:
    if (tmp[0]) unlink(tmp);
    if (stamped[0]) unlink(stamped);
    return ok;
}

/* A claim that finds the video already stored (the previous holder died after storing it)
 * starts from there. true: *c filled from the store. */
static bool resume_clip(worker *w, const job *j, clip *c)
{
    const core_config *cfg = &w->pool->cfg;
    char err[256];
    if (!j->video_sha[0]) return false;
    snprintf(c->sha, sizeof c->sha, "%s", j->video_sha);
    media_store_path(cfg->data_dir, c->sha, c->path, sizeof c->path);
    if (media_probe_file(c->path, &c->info, err, sizeof err) == 0) {
        log_msg(LOG_INFO, "job resumes from its stored video", "\"job\":%lld", j->id);
        return true;
    }
    log_msg(LOG_WARN, "stored video missing; fetching again", "\"job\":%lld", j->id);
    return false;
}

/* Thumbnails stored; what the final transaction records of them. */
typedef struct stills {
    int count;
    char sha[MEDIA_THUMB_MAX_STILLS][MEDIA_SHA256_HEX];
    int width[MEDIA_THUMB_MAX_STILLS], height[MEDIA_THUMB_MAX_STILLS];
    size_t bytes[MEDIA_THUMB_MAX_STILLS];
    char preview_sha[MEDIA_SHA256_HEX];
    int preview_width, preview_height;
    size_t preview_bytes;
    uint64_t phash;
} stills;

static bool make_stills(worker *w, const job *j, const clip *c, stills *s)
{
    const core_config *cfg = &w->pool->cfg;
    char err[256], msg[400];
    media_thumbs *t = NULL;
    bool ok = false;
    memset(s, 0, sizeof *s);
    if (media_thumbs_make(c->path, &t, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "the engine's video cannot be decoded: %s", err);
        job_fail(w, j, "invalid_media", msg, 1);
        goto out;
    }
    s->count = media_thumbs_still_count(t);
    for (int i = 0; i < s->count; i++) {
        media_webp still = media_thumbs_still(t, i);
        if (media_store_put_bytes(cfg->data_dir, still.data, still.len, s->sha[i], err, sizeof err) != 0)
            goto store_failed;
        s->width[i] = still.width;
        s->height[i] = still.height;
        s->bytes[i] = still.len;
    }
    media_webp preview = media_thumbs_preview(t);
    if (media_store_put_bytes(cfg->data_dir, preview.data, preview.len, s->preview_sha, err, sizeof err) != 0)
        goto store_failed;
    s->preview_width = preview.width;
    s->preview_height = preview.height;
    s->preview_bytes = preview.len;
    s->phash = media_thumbs_phash(t);
    ok = true;
    goto out;
store_failed:
    snprintf(msg, sizeof msg, "cannot store a thumbnail: %s", err);
    job_retry(w, j, "engine_failed", msg, 0, false);
out:
    media_thumbs_free(t);
    return ok;
}

static bool insert_media(worker *w, const char *post, const char *kind, const char *sha,
                         const char *mime, long long bytes, int width, int height, long long duration_ms)
{
    char b[24], wd[16], ht[16], d[24];
    snprintf(b, sizeof b, "%lld", bytes);
    snprintf(wd, sizeof wd, "%d", width);
    snprintf(ht, sizeof ht, "%d", height);
    snprintf(d, sizeof d, "%lld", duration_ms);
    const char *params[] = { post, kind, sha, mime, b, wd, ht, duration_ms >= 0 ? d : NULL };
    PGresult *res = sql(w, "INSERT INTO media (post_id, kind, sha256, mime, bytes, width, height, duration_ms) "
                           "VALUES ($1::bigint, $2, $3, $4, $5::bigint, $6::int, $7::int, $8::int)",
                        8, params);
    PQclear(res);
    return res != NULL;
}

/* The one transaction that makes the result visible. Guarded by the job row, locked: only
 * a still-running job under our lease gets a draft, so a canceled job stays canceled and a
 * job taken over by another worker is finished by that worker alone. */
static void finalize(worker *w, const job *j, const clip *c, const stills *s)
{
    char id[24], err[512], post[24], phash[24], esc[600], cameos[FEED_DRAFT_MAX_CAMEOS * 24 + 4];
    id_text(j->id, id, sizeof id);
    size_t off = (size_t)snprintf(cameos, sizeof cameos, "{");
    for (int i = 0; i < FEED_DRAFT_MAX_CAMEOS && j->cameo_ids[i]; i++)
        off += (size_t)snprintf(cameos + off, sizeof cameos - off, "%s%lld", i ? "," : "", j->cameo_ids[i]);
    snprintf(cameos + off, sizeof cameos - off, "}");

    PGresult *res = sql(w, "BEGIN", 0, NULL);
    if (!res) return;
    PQclear(res);
    /* The cast people's cameo rows first, then the job: the order in which withdrawing a
     * cameo takes them, so the two never deadlock. The share lock makes a concurrent
     * withdrawal wait for this commit (and then hide the draft) instead of slipping in
     * between the check and the insert. */
    const char *cameo_params[] = { cameos };
    res = sql(w, "SELECT 1 FROM cameos WHERE user_id = ANY($1::bigint[]) FOR SHARE", 1, cameo_params);
    if (!res) goto rollback;
    PQclear(res);
    const char *params[] = { id, w->owner };
    res = sql(w, "SELECT status, lease_owner IS NOT DISTINCT FROM $2, "
                 "  EXISTS (SELECT 1 FROM unnest(cameo_ids) c(id) WHERE c.id <> user_id "
                 "          AND NOT EXISTS (SELECT 1 FROM cameos WHERE cameos.user_id = c.id)) "
                 "FROM generations WHERE id = $1::bigint FOR UPDATE", 2, params);
    if (!res) goto rollback;
    bool ours = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "running") == 0 &&
                PQgetvalue(res, 0, 1)[0] == 't';
    bool revoked = ours && PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (!ours) {
        PQclear(sql(w, "ROLLBACK", 0, NULL));
        w->lost = true;
        job_stopped(w, j);
        return;
    }
    if (revoked) {
        PQclear(sql(w, "ROLLBACK", 0, NULL));
        job_fail(w, j, "cameo_revoked", "a person cast in this video revoked their cameo", 0);
        return;
    }

    feed_draft d;
    memset(&d, 0, sizeof d);
    d.author_id = j->user_id;
    d.generation_id = j->id;
    d.prompt = j->prompt;
    d.model = j->model;
    d.seconds = j->seconds;
    d.aspect = j->aspect;
    d.remix_of = j->remix_of;
    memcpy(d.cameo_ids, j->cameo_ids, sizeof d.cameo_ids);
    long long post_id = 0;
    int drc = feed_draft_create(w->db, &d, &post_id, err, sizeof err);
    if (drc != 0) {
        /* 1 would mean a post for a job that is still running: an invariant broken
         * elsewhere. Nothing is written; the retries end the job as failed. */
        log_msg(LOG_ERROR, "cannot create the draft", "\"job\":%lld,\"detail\":\"%s\"", j->id,
                log_escape(drc == 1 ? "the generation already has a post" : err, esc, sizeof esc));
        goto rollback;
    }
    id_text(post_id, post, sizeof post);
    if (!insert_media(w, post, "video", c->sha, "video/mp4", c->info.size_bytes, c->info.width,
                      c->info.height, c->info.duration_ms))
        goto rollback;
    for (int i = 0; i < s->count; i++)
        if (!insert_media(w, post, "poster", s->sha[i], "image/webp", (long long)s->bytes[i],
                          s->width[i], s->height[i], -1))
            goto rollback;
    if (!insert_media(w, post, "preview", s->preview_sha, "image/webp", (long long)s->preview_bytes,
                      s->preview_width, s->preview_height, -1))
        goto rollback;
    /* bigint holds the 64 bits as a two's-complement signed value. */
    snprintf(phash, sizeof phash, "%lld", (long long)(int64_t)s->phash);
    const char *prov[] = { c->sha, post, id, j->engine, j->model, phash };
    res = sql(w, "INSERT INTO provenance (sha256, post_id, generation_id, engine, model, phash) "
                 "VALUES ($1, $2::bigint, $3::bigint, $4, $5, $6::bigint)", 6, prov);
    if (!res) goto rollback;
    PQclear(res);
    const char *done[] = { id, w->owner, post };
    res = sql(w, "UPDATE generations SET status = 'succeeded', progress = 100, post_id = $3::bigint, "
                 "  finished_at = now(), error_code = NULL, error_message = NULL, "
                 "  lease_owner = NULL, lease_expires_at = NULL, updated_at = now() "
                 "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'", 3, done);
    if (!res) goto rollback;
    PQclear(res);
    res = sql(w, "COMMIT", 0, NULL);
    if (!res) return;      /* the connection died: the next claim sees what really happened */
    PQclear(res);
    log_msg(LOG_INFO, "job succeeded", "\"job\":%lld,\"post\":%lld,\"sha256\":\"%s\"", j->id, post_id, c->sha);
    return;
rollback:
    if (!w->db) return;        /* the connection died: the lease runs out, a claim resumes */
    PQclear(sql(w, "ROLLBACK", 0, NULL));
    /* The stored video survives, so the retry starts from the thumbnails. */
    job_retry(w, j, "engine_failed", "cannot record the result", 0, false);
}

static void run_job(worker *w, job *j)
{
    const core_config *cfg = &w->pool->cfg;
    char err[256], tmp[700] = "";
    hold(w, j->id);
    log_msg(LOG_INFO, "job claimed", "\"job\":%lld,\"worker\":%d,\"attempt\":%d,\"claim\":%d,\"engine\":\"%s\"",
            j->id, w->index, j->attempts + 1, j->claims, j->engine);
    if (j->claims > cfg->job_max_attempts + EXTRA_CLAIMS) {
        job_fail(w, j, "engine_failed", "the job was interrupted too many times", 0);
        goto out;
    }
    if (load_details(w, j) != 0) goto out;      /* the lease runs out; another claim retries */
    if (j->revoked) {
        job_fail(w, j, "cameo_revoked", "a person cast in this video revoked their cameo", 0);
        goto out;
    }
    media_engine *eng = strcmp(j->engine, "http") == 0 ? w->http : w->builtin;
    media_engine_request r;
    memset(&r, 0, sizeof r);
    r.generation_id = j->id;
    r.prompt = j->prompt;
    r.quality = strcmp(j->model, "pro") == 0 ? MEDIA_QUALITY_PRO : MEDIA_QUALITY_STANDARD;
    r.seconds = j->seconds;
    r.aspect = j->aspect;
    r.creator = j->creator;
    for (int i = 0; i < MEDIA_RENDER_MAX_CAMEOS; i++) r.cameos[i] = j->cameo_names[i][0] ? j->cameo_names[i] : NULL;

    clip c;
    memset(&c, 0, sizeof c);
    if (!resume_clip(w, j, &c)) {
        if (!j->engine_job_id[0]) {
            media_engine_rc rc = j->remix_source[0]
                ? media_engine_remix(eng, &r, j->remix_source, j->engine_job_id)
                : media_engine_submit(eng, &r, j->engine_job_id);
            if (rc != MEDIA_ENGINE_OK) {
                engine_trouble(w, j, eng, rc, false);
                goto out;
            }
            /* Saved before anything else, so a crash from here on polls this engine job
             * rather than paying for a second one. */
            char id[24];
            id_text(j->id, id, sizeof id);
            const char *params[] = { id, w->owner, j->engine_job_id };
            if (!guarded(w, "UPDATE generations SET engine_job_id = $3, updated_at = now() "
                            "WHERE id = $1::bigint AND lease_owner = $2 AND status = 'running'", 3, params)) {
                if (w->lost) job_stopped(w, j);
                goto out;
            }
        }
        if (!await_engine(w, j, eng, &r)) goto out;
        if (media_store_tmp_path(cfg->data_dir, ".mp4", tmp, sizeof tmp, err, sizeof err) != 0) {
            job_retry(w, j, "engine_failed", err, 0, false);
            goto out;
        }
        media_engine_rc rc = media_engine_fetch(eng, &r, j->engine_job_id, tmp, cfg->max_video_bytes,
                                                on_tick, w);
        if (rc != MEDIA_ENGINE_OK) {
            engine_trouble(w, j, eng, rc, true);
            goto out;
        }
        if (!accept_clip(w, j, tmp, &c)) goto out;
    }
    if (must_stop(w)) {
        job_stopped(w, j);
        goto out;
    }
    stills s;
    if (!make_stills(w, j, &c, &s)) goto out;
    if (must_stop(w)) {
        job_stopped(w, j);
        goto out;
    }
    finalize(w, j, &c, &s);
out:
    unhold(w);
}

/* ---- threads ---- */

static bool connect_db(worker *w)
{
    if (w->db && PQstatus(w->db) == CONNECTION_OK) return true;
    PQfinish(w->db);
    w->db = PQconnectdb(w->pool->cfg.database_url);
    if (PQstatus(w->db) != CONNECTION_OK) {
        char msg[512], esc[600];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(w->db));
        chomp(msg);
        log_msg(LOG_WARN, "worker cannot reach the database", "\"worker\":%d,\"detail\":\"%s\"",
                w->index, log_escape(msg, esc, sizeof esc));
        PQfinish(w->db);
        w->db = NULL;
        return false;
    }
    PQclear(sql(w, "LISTEN " MEDIA_WORK_CHANNEL, 0, NULL));
    return w->db != NULL;
}

/* Idle: wait for a NOTIFY on the channel, or the poll interval, whichever comes first;
 * in slices, so that a stop is seen within half a second however long the interval. */
static void idle_wait(worker *w)
{
    media_workers *p = w->pool;
    long long until = now_ms() + p->cfg.job_poll_ms;
    for (;;) {
        PGnotify *n;
        bool notified = false;
        /* A notification may have arrived with an earlier result and be buffered already. */
        while ((n = PQnotifies(w->db))) {
            PQfreemem(n);
            notified = true;
        }
        long long left = until - now_ms();
        if (notified || left <= 0 || stopping(p)) return;
        struct pollfd pfd = { .fd = PQsocket(w->db), .events = POLLIN };
        int rc = pfd.fd < 0 ? -1 : poll(&pfd, 1, (int)(left < 500 ? left : 500));
        if (rc < 0 && errno != EINTR) {
            nap(p, left < 500 ? left : 500);
            continue;
        }
        if (rc > 0 && !PQconsumeInput(w->db)) {
            PQfinish(w->db);
            w->db = NULL;
            return;
        }
    }
}

/* Rendering and thumbnailing are batch work: in `all` they share the cores with the API's
 * event loops, which must keep answering at once. A job thread runs under SCHED_IDLE, and the
 * encoder threads it starts inherit the policy: they get the CPU time no other thread wants,
 * and a loop that wakes up takes its core back at once. (A nice value only shrinks their share:
 * a woken loop still waits for the slice of the render thread on its core, and that wait is
 * what the API's slowest answers are made of.) Where the policy is refused, nice 19. */
static void yield_cpu_to_the_api(void)
{
    struct sched_param none = { 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) == 0) return;
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) != 0)
        log_msg(LOG_DEBUG, "worker: cannot lower its priority", NULL);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    media_workers *p = w->pool;
    yield_cpu_to_the_api();
    while (!stopping(p)) {
        if (!connect_db(w)) {
            nap(p, RECONNECT_MS);
            continue;
        }
        job j;
        int got = claim(w, &j);
        if (got < 0) {
            nap(p, RECONNECT_MS);
            continue;
        }
        if (got == 0) {
            idle_wait(w);
            continue;
        }
        run_job(w, &j);
        job_free(&j);
    }
    PQfinish(w->db);
    w->db = NULL;
    return NULL;
}

/* The keeper: renews every held lease in one statement each third of a lease, and passes
 * on what it learns (a job canceled or taken over, a cameo withdrawn) to the holder. */
static void *keeper_main(void *arg)
{
    media_workers *p = arg;
    PGconn *db = NULL;
    long long every = (long long)p->cfg.job_lease_s * 1000 / 3;
    long long next_sweep = now_ms() + SWEEP_EVERY_MS;
    size_t cap = (size_t)p->n * 48 + 8;
    char *ids = xmalloc(cap), *owners = xmalloc((size_t)p->n * 140 + 8);
    long long *held = xcalloc((size_t)p->n, sizeof *held);
    unsigned long long *tokens = xcalloc((size_t)p->n, sizeof *tokens);
    char lease[16];
    snprintf(lease, sizeof lease, "%d", p->cfg.job_lease_s);
    while (!nap(p, every)) {
        if (now_ms() >= next_sweep) {
            media_store_sweep_tmp(p->cfg.data_dir, TMP_MAX_AGE_S);
            next_sweep = now_ms() + SWEEP_EVERY_MS;
        }
        int nheld = 0;
        size_t io = 0, oo = 0;
        io += (size_t)snprintf(ids + io, cap - io, "{");
        oo += (size_t)snprintf(owners + oo, (size_t)p->n * 140 + 8 - oo, "{");
        for (int i = 0; i < p->n; i++) {
            worker *w = &p->workers[i];
            pthread_mutex_lock(&w->mu);
            held[i] = w->held_id;
            tokens[i] = w->token;
            pthread_mutex_unlock(&w->mu);
            if (!held[i]) continue;
            /* Owners are [A-Za-z0-9.:-]; quoted as array elements all the same. */
            io += (size_t)snprintf(ids + io, cap - io, "%s%lld", nheld ? "," : "", held[i]);
            oo += (size_t)snprintf(owners + oo, (size_t)p->n * 140 + 8 - oo, "%s\"%s\"",
                                   nheld ? "," : "", w->owner);
            nheld++;
        }
        snprintf(ids + io, cap - io, "}");
        snprintf(owners + oo, (size_t)p->n * 140 + 8 - oo, "}");
        if (nheld == 0) continue;
        if (!db || PQstatus(db) != CONNECTION_OK) {
            PQfinish(db);
            db = PQconnectdb(p->cfg.database_url);
            if (PQstatus(db) != CONNECTION_OK) {
                log_msg(LOG_WARN, "lease keeper cannot reach the database", NULL);
                PQfinish(db);
                db = NULL;
                continue;
            }
        }
        const char *params[] = { ids, owners, lease };
        PGresult *res = PQexecParams(db,
            "UPDATE generations g SET lease_expires_at = now() + make_interval(secs => $3::int) "
            "FROM unnest($1::bigint[], $2::text[]) AS h(id, owner) "
            "WHERE g.id = h.id AND g.lease_owner = h.owner AND g.status = 'running' "
            "RETURNING g.id, EXISTS (SELECT 1 FROM unnest(g.cameo_ids) c(id) WHERE c.id <> g.user_id "
            "  AND NOT EXISTS (SELECT 1 FROM cameos WHERE cameos.user_id = c.id))",
            3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            char msg[512], esc[600];
            snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(res));
            chomp(msg);
            log_msg(LOG_WARN, "lease renewal failed", "\"detail\":\"%s\"", log_escape(msg, esc, sizeof esc));
            PQclear(res);
            continue;
        }
        for (int i = 0; i < p->n; i++) {
            if (!held[i]) continue;
            int reason = STOP_GONE;
            for (int r = 0; r < PQntuples(res); r++) {
                if (strtoll(PQgetvalue(res, r, 0), NULL, 10) != held[i]) continue;
                reason = PQgetvalue(res, r, 1)[0] == 't' ? STOP_REVOKED : STOP_NONE;
                break;
            }
            if (reason == STOP_NONE) continue;
            worker *w = &p->workers[i];
            pthread_mutex_lock(&w->mu);
            w->stop_token = tokens[i];
            w->stop_reason = reason;
            pthread_mutex_unlock(&w->mu);
        }
        PQclear(res);
    }
    PQfinish(db);
    free(ids);
    free(owners);
    free(held);
    free(tokens);
    return NULL;
}

media_workers *media_workers_start(const core_config *cfg, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return NULL;
    }
    media_workers *p = xcalloc(1, sizeof *p);
    p->cfg = *cfg;
    p->n = cfg->workers;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    bool http = cfg->engine_url[0] != '\0';
    snprintf(p->engines, sizeof p->engines, http ? "{builtin,http}" : "{builtin}");
    if (!http && strcmp(cfg->engine, "http") == 0)
        log_msg(LOG_WARN, "FLICK_ENGINE is http but FLICK_ENGINE_URL is empty: only builtin jobs will run", NULL);

    media_avlog_install();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    media_store_sweep_tmp(cfg->data_dir, TMP_MAX_AGE_S);

    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    for (char *c = host; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
            *c = '-';
    unsigned char raw[4];
    char nonce[9];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(nonce, sizeof nonce, raw, sizeof raw);

    p->workers = xcalloc((size_t)(p->n > 0 ? p->n : 1), sizeof *p->workers);
    media_engine_http_config hc = { .base_url = cfg->engine_url, .api_key = cfg->engine_key,
                                    .model_standard = cfg->engine_model_standard,
                                    .model_pro = cfg->engine_model_pro,
                                    .timeout_ms = cfg->engine_timeout_ms };
    for (int i = 0; i < p->n; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        w->index = i;
        pthread_mutex_init(&w->mu, NULL);
        snprintf(w->owner, sizeof w->owner, "%s:%d:%d:%s", host, (int)getpid(), i, nonce);
        w->builtin = media_engine_builtin_new();
        if (http && !(w->http = media_engine_http_new(&hc))) {
            snprintf(err, errlen, "FLICK_ENGINE_URL must be an http:// or https:// URL");
            p->n = i + 1;
            media_workers_stop(p);
            return NULL;
        }
    }

    /* Threads inherit this mask: SIGINT and SIGTERM stay with the thread that waits for them. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    for (int i = 0; i < p->n; i++) pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i]);
    if (p->n > 0) {
        pthread_create(&p->keeper, NULL, keeper_main, p);
        p->keeper_started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    log_msg(LOG_INFO, "workers started", "\"workers\":%d,\"engines\":\"%s\",\"lease_s\":%d",
            p->n, p->engines, cfg->job_lease_s);
    return p;
}

void media_workers_stop(media_workers *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++) {
        worker *w = &p->workers[i];
        if (w->tid) pthread_join(w->tid, NULL);
        media_engine_free(w->builtin);
        media_engine_free(w->http);
        pthread_mutex_destroy(&w->mu);
    }
    if (p->keeper_started) pthread_join(p->keeper, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p);
}

int media_work_run(const core_config *cfg)
{
    char err[256];
    if (cfg->workers < 1) {
        fprintf(stderr, "flickd: work needs FLICK_WORKERS of at least 1\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    media_workers *p = media_workers_start(cfg, err, sizeof err);
    if (!p) {
        fprintf(stderr, "flickd: %s\n", err);
        return 2;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_msg(LOG_INFO, "stopping", "\"signal\":%d", sig);
    media_workers_stop(p);
    return 0;
}
