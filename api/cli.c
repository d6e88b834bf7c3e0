/* api/cli.c: operator commands (see cli.h). Output on stdout is exactly what a script
 * needs (a code, a token); everything else goes to stderr. */
#include "api/cli.h"

#include "feed/policy.h"
#include "feed/users.h"
#include "media/worker.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static PGconn *connect_db(const core_config *cfg)
{
    PGconn *c = PQconnectdb(cfg->database_url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "flickd: cannot connect to the database: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Runs one statement; returns its result when it succeeded, else NULL (message printed). */
static PGresult *run(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "flickd: %s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

static int mint_invite(PGconn *c, char *code)
{
    feed_invite_code_new(code);
    const char *params[] = { code };
    PGresult *res = run(c, "INSERT INTO invites (code) VALUES ($1)", 1, params);
    PQclear(res);
    return res ? 0 : -1;
}

/* A new session for user `id`; prints the token. */
static int mint_token(PGconn *c, const char *id)
{
    char token[FEED_TOKEN_CHARS + 1], hash[67];
    feed_token_new(token, hash);
    const char *params[] = { hash, id };
    PGresult *res = run(c, "INSERT INTO sessions (token_hash, user_id) VALUES ($1, $2::bigint)", 2, params);
    if (!res) return -1;
    PQclear(res);
    printf("%s\n", token);
    return 0;
}

/* Creates a user with a random password; *id gets its id. 1 if the name was taken. */
static int create_user(PGconn *c, const char *name, const char *role, const char *tier, char *id, size_t idlen)
{
    unsigned char raw[24];
    char password[64], hash[crypto_pwhash_STRBYTES], year[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(password, sizeof password, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (feed_password_hash(password, hash, sizeof hash) != 0) return -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(year, sizeof year, "%d", tm.tm_year + 1900 - 30);
    const char *params[] = { name, hash, year, role, tier };
    PGresult *res = run(c, "INSERT INTO users (username, password_hash, birth_year, role, tier) "
                           "VALUES ($1, $2, $3::int, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING id",
                        5, params);
    if (!res) return -1;
    int taken = PQntuples(res) == 0;
    if (!taken) snprintf(id, idlen, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return taken;
}

static int usage(void)
{
    fprintf(stderr, "usage: flickd admin invite\n"
                    "       flickd admin create-user NAME --role admin|moderator|user [--tier free|pro]\n");
    return 2;
}

int api_cli_admin(const core_config *cfg, int argc, char **argv)
{
    if (argc < 1) return usage();
    if (sodium_init() < 0) return 1;
    int rc = 1;
    PGconn *c = NULL;
    if (strcmp(argv[0], "invite") == 0 && argc == 1) {
        if (!(c = connect_db(cfg))) goto out;
        char code[FEED_INVITE_CHARS + 1];
        if (mint_invite(c, code) == 0) {
            printf("%s\n", code);
            rc = 0;
        }
    } else if (strcmp(argv[0], "create-user") == 0 && argc >= 2) {
        const char *name = argv[1], *role = NULL, *tier = "free";
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) role = argv[++i];
            else if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc) tier = argv[++i];
            else return usage();
        }
        if (!role || (strcmp(role, "admin") && strcmp(role, "moderator") && strcmp(role, "user")) ||
            (strcmp(tier, "free") && strcmp(tier, "pro")))
            return usage();
        if (!feed_username_valid(name)) {
            fprintf(stderr, "flickd: username must be 3 to 30 characters of a-z, 0-9 and _\n");
            return 2;
        }
        if (!(c = connect_db(cfg))) goto out;
        char id[32];
        int taken = create_user(c, name, role, tier, id, sizeof id);
        if (taken == 1) fprintf(stderr, "flickd: username %s is taken\n", name);
        else if (taken == 0 && mint_token(c, id) == 0) rc = 0;
    } else {
        return usage();
    }
out:
    PQfinish(c);
    return rc;
}

/* ---- the demo ---- */

/* A clip of the demo: who asks for it, the prompt, and what it is published with. */
typedef struct demo_clip {
    const char *author;
    const char *prompt;
    const char *caption;
    const char *aspect;
    const char *cameo;          /* a username cast in it, or NULL */
    int remix_of;               /* 1-based index of the clip it remixes, 0 for an original */
} demo_clip;

static const char *const demo_people[] = { "ana", "ben", "cleo", "dev" };

/* Who follows whom: pairs of usernames. */
static const char *const demo_follows[][2] = {
    { "admin", "ana" }, { "admin", "ben" }, { "admin", "cleo" },
    { "ana", "ben" }, { "ben", "ana" }, { "cleo", "ana" }, { "dev", "cleo" },
};

static const demo_clip demo_clips[] = {
    { "ana", "a paper boat sailing through a neon city at night", "night sail", "9:16", NULL, 0 },
    { "ben", "slow waves rolling onto black volcanic sand at dawn", "black sand morning", "16:9", NULL, 0 },
    { "cleo", "a fox made of autumn leaves running through a quiet forest", "leaf fox", "9:16", NULL, 0 },
    { "dev", "retro arcade robots dancing under disco lights", "robot disco", "1:1", NULL, 0 },
    { "ben", "ana skateboarding down a rainbow bridge above the clouds", "with @ana", "9:16", "ana", 0 },
    { "cleo", "the paper boat lifts off and sails over snowy mountains", "the boat flies", "9:16", NULL, 1 },
    { "dev", "the paper boat docks at a harbour of glowing lanterns", "safe harbour", "9:16", NULL, 1 },
};
#define DEMO_CLIPS ((int)(sizeof demo_clips / sizeof demo_clips[0]))
#define DEMO_ROUND_TIMEOUT_S 300

/* Runs one SQL statement whose result is not needed; 0 or -1. */
static int run_void(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *res = run(c, sql, n, params);
    PQclear(res);
    return res ? 0 : -1;
}

/* Queues the clips of one round (originals, then remixes of published posts) as the
 * authors' generations, waits for the workers to render them, and publishes each draft.
 * post_ids[i] gets clip i's post id ("" when it did not succeed). Returns 0 or -1. */
static int demo_round(PGconn *c, bool remixes, char post_ids[][24])
{
    char gen_ids[DEMO_CLIPS][24];
    int queued = 0;
    for (int i = 0; i < DEMO_CLIPS; i++) {
        const demo_clip *d = &demo_clips[i];
        gen_ids[i][0] = '\0';
        if ((d->remix_of != 0) != remixes) continue;
        const char *parent = d->remix_of ? post_ids[d->remix_of - 1] : NULL;
        if (parent && !*parent) continue;
        const char *params[] = { d->author, d->prompt, d->aspect, d->cameo, parent };
        PGresult *res = run(c,
            "INSERT INTO generations (user_id, prompt, seconds, aspect, cameo_ids, remix_of, engine) "
            "SELECT u.id, $2, 4, $3, ARRAY(SELECT id FROM users WHERE username = $4), $5::bigint, 'builtin' "
            "FROM users u WHERE u.username = $1 RETURNING id, pg_notify('flick_generations', id::text)",
            5, params);
        if (!res) return -1;
        snprintf(gen_ids[i], sizeof gen_ids[i], "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        queued++;
    }
    for (int waited = 0; queued > 0; waited++) {
        if (waited > DEMO_ROUND_TIMEOUT_S * 4) {
            fprintf(stderr, "flickd: the demo clips did not finish in %d s\n", DEMO_ROUND_TIMEOUT_S);
            return -1;
        }
        usleep(250 * 1000);
        PGresult *res = run(c, "SELECT count(*) FROM generations WHERE engine = 'builtin' "
                               "AND status IN ('queued', 'running') AND user_id IN "
                               "(SELECT id FROM users WHERE username = ANY ('{ana,ben,cleo,dev}'))", 0, NULL);
        if (!res) return -1;
        queued = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    for (int i = 0; i < DEMO_CLIPS; i++) {
        if (!gen_ids[i][0]) continue;
        const char *params[] = { gen_ids[i], demo_clips[i].caption };
        PGresult *res = run(c, "SELECT g.post_id, publish_post(g.post_id, g.user_id, $2, 'public', true) "
                               "FROM generations g WHERE g.id = $1::bigint AND g.status = 'succeeded'",
                            2, params);
        if (!res) return -1;
        if (PQntuples(res) == 1) snprintf(post_ids[i], sizeof post_ids[i], "%s", PQgetvalue(res, 0, 0));
        else fprintf(stderr, "flickd: demo clip \"%s\" did not render\n", demo_clips[i].prompt);
        PQclear(res);
    }
    return 0;
}

/* Makes the demo once (settings.demo_seeded): a few people who follow each other, one with
 * a cameo, and their clips, remixes included, made by the real pipeline: generations queued
 * as if requested, rendered by workers in this process, published as their authors would. */
static int seed_demo(PGconn *c, const core_config *cfg)
{
    int rc = -1;
    media_workers *workers = NULL;
    if (run_void(c, "SELECT pg_advisory_lock(hashtext('flick_demo_seed'))", 0, NULL) != 0) return -1;
    PGresult *res = run(c, "SELECT value FROM settings WHERE name = 'demo_seeded'", 0, NULL);
    if (!res) goto out;
    bool done = PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) != 0;
    PQclear(res);
    if (done) { rc = 0; goto out; }

    char id[32];
    for (size_t i = 0; i < sizeof demo_people / sizeof demo_people[0]; i++)
        if (create_user(c, demo_people[i], "user", "free", id, sizeof id) < 0) goto out;
    for (size_t i = 0; i < sizeof demo_follows / sizeof demo_follows[0]; i++)
        if (run_void(c, "INSERT INTO follows (follower_id, followee_id) SELECT a.id, b.id FROM users a, users b "
                        "WHERE a.username = $1 AND b.username = $2 ON CONFLICT DO NOTHING",
                     2, demo_follows[i]) != 0)
            goto out;
    if (run_void(c, "INSERT INTO cameos (user_id, permission) SELECT id, 'everyone' FROM users "
                    "WHERE username = 'ana' ON CONFLICT DO NOTHING", 0, NULL) != 0)
        goto out;

    core_config wc = *cfg;
    if (wc.workers < 2) wc.workers = 2;
    char err[256];
    if (!(workers = media_workers_start(&wc, err, sizeof err))) {
        fprintf(stderr, "flickd: %s\n", err);
        goto out;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char post_ids[DEMO_CLIPS][24] = { { 0 } };
    if (demo_round(c, false, post_ids) != 0 || demo_round(c, true, post_ids) != 0) goto out;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (run_void(c, "UPDATE settings SET value = 1 WHERE name = 'demo_seeded'", 0, NULL) != 0) goto out;
    fprintf(stderr, "demo: %d clips by ana, ben, cleo and dev, rendered and published in %.1f s\n",
            DEMO_CLIPS, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    rc = 0;
out:
    media_workers_stop(workers);
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(hashtext('flick_demo_seed'))"));
    return rc;
}

int api_cli_seed(const core_config *cfg)
{
    if (sodium_init() < 0) return 1;
    int rc = 1;
    PGconn *c = connect_db(cfg);
    if (!c) return 1;
    char id[32];
    if (create_user(c, "admin", "admin", "pro", id, sizeof id) == 1) {
        const char *params[] = { "admin" };
        PGresult *res = run(c, "SELECT id FROM users WHERE username = $1", 1, params);
        if (!res) goto out;
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    char code[FEED_INVITE_CHARS + 1];
    printf("admin token: ");
    fflush(stdout);
    if (mint_token(c, id) != 0 || mint_invite(c, code) != 0) goto out;
    printf("invite code: %s\n", code);
    const char *demo = getenv("FLICK_SEED_DEMO");
    if (demo && strcmp(demo, "0") == 0) {
        rc = 0;
        goto out;
    }
    fflush(stdout);
    if (seed_demo(c, cfg) != 0) goto out;
    rc = 0;
out:
    PQfinish(c);
    return rc;
}

int api_cli_seed_policy(const core_config *cfg, const char *path)
{
    int rc = 1;
    FILE *f = NULL;
    PGconn *c = connect_db(cfg);
    if (!c) return 1;
    PGresult *res = run(c, "BEGIN", 0, NULL);
    PQclear(res);
    /* The settings row is the once-only guard, locked so two migrators cannot both seed. */
    res = run(c, "SELECT value FROM settings WHERE name = 'policy_seeded' FOR UPDATE", 0, NULL);
    if (!res || PQntuples(res) != 1) goto out;
    int seeded = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (seeded) { rc = 0; goto out; }
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "flickd: cannot read the policy file %s\n", path);
        goto out;
    }
    char line[512], term[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || feed_policy_normalise(line, term, sizeof term) != 0) continue;
        const char *params[] = { term };
        res = run(c, "INSERT INTO policy_terms (term) VALUES ($1) ON CONFLICT DO NOTHING", 1, params);
        if (!res) goto out;
        PQclear(res);
        n++;
    }
    res = run(c, "UPDATE settings SET value = 1 WHERE name = 'policy_seeded'", 0, NULL);
    if (!res) goto out;
    PQclear(res);
    res = run(c, "COMMIT", 0, NULL);
    if (!res) goto out;
    PQclear(res);
    printf("migrate: policy seeded with %d terms from %s\n", n, path);
    rc = 0;
out:
    if (f) fclose(f);
    if (rc != 0 || PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
    PQfinish(c);
    return rc;
}
