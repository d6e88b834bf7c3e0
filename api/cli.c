/* api/cli.c: operator commands (see cli.h). Output on stdout is exactly what a script
 * needs (a code, a token); everything else goes to stderr. */
#include "api/cli.h"

#include "feed/policy.h"
#include "feed/users.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
