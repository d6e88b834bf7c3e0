/* feed/users.h: accounts as the domain sees them: the `user` object, passwords, tokens,
 * invites, follows. Functions here build queries and read rows; they do not run them (the
 * caller runs them on its loop's pool) and never touch HTTP. */
#ifndef FLICK_FEED_USERS_H
#define FLICK_FEED_USERS_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The columns of a `user` object, for a query over `users u`; read back with
 * feed_user_json at the column where they start. FEED_USER_NCOLS columns. */
#define FEED_USER_COLS \
    "u.id::text, u.username, u.display_name, u.bio, " \
    "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), " \
    "EXISTS (SELECT 1 FROM cameos c WHERE c.user_id = u.id)"
#define FEED_USER_NCOLS 6

/* A new `user` object {id, username, display_name, bio, created_at, has_cameo} from row
 * `row` of `res`, starting at column `col`. Caller owns the reference. */
json_t *feed_user_json(const PGresult *res, int row, int col);

/* 1 if `name` is a valid username: [a-z0-9_]{3,30}. */
bool feed_username_valid(const char *name);

/* Age rules from a birth year (years are counted by calendar year, UTC). */
int feed_age_years(int birth_year);
#define FEED_MIN_AGE 13
#define FEED_ADULT_AGE 18
#define FEED_MIN_PASSWORD 10
#define FEED_MAX_PASSWORD 1024

/* Argon2id hash of `password` at or above OWASP's minimum (m = 19 MiB, t = 2) into out
 * (crypto_pwhash_STRBYTES). Slow by design: call off the event loop. Returns 0 or -1. */
int feed_password_hash(const char *password, char *out, size_t outlen);
/* 1 when `password` matches `hash` (constant time in the password). Slow: off the loop.
 * A NULL hash runs a verification against a dummy hash, so a missing user costs the same
 * time as a wrong password, and returns 0. */
int feed_password_verify(const char *password, const char *hash);

#define FEED_TOKEN_CHARS 43     /* base64url of 256 random bits */
/* A fresh bearer token (FEED_TOKEN_CHARS + 1 bytes) and its SHA-256 as a bytea literal
 * "\\x<64 hex>" (67 bytes) for storing. */
void feed_token_new(char *token, char *hash_bytea);
/* The bytea literal of a presented token's SHA-256. */
void feed_token_hash(const char *token, char *hash_bytea);

#define FEED_INVITE_CHARS 12
/* A fresh invite code (FEED_INVITE_CHARS + 1 bytes), unambiguous lower-case letters and digits. */
void feed_invite_code_new(char *code);

#endif
