/* feed/users.c: the `user` object, password hashing, tokens and invite codes (see users.h). */
#include "feed/users.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *feed_user_json(const PGresult *res, int row, int col)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}",
                     "id", PQgetvalue(res, row, col),
                     "username", PQgetvalue(res, row, col + 1),
                     "display_name", PQgetvalue(res, row, col + 2),
                     "bio", PQgetvalue(res, row, col + 3),
                     "created_at", PQgetvalue(res, row, col + 4),
                     "has_cameo", PQgetvalue(res, row, col + 5)[0] == 't');
}

bool feed_username_valid(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 || n > 30) return false;
    for (; *name; name++)
        if (!((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9') || *name == '_'))
            return false;
    return true;
}

int feed_age_years(int birth_year)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900 - birth_year;
}

#define OPSLIMIT 2
#define MEMLIMIT (19u * 1024 * 1024)

int feed_password_hash(const char *password, char *out, size_t outlen)
{
    if (outlen < crypto_pwhash_STRBYTES) return -1;
    return crypto_pwhash_str_alg(out, password, strlen(password), OPSLIMIT, MEMLIMIT,
                                 crypto_pwhash_ALG_ARGON2ID13);
}

int feed_password_verify(const char *password, const char *hash)
{
    static char dummy[crypto_pwhash_STRBYTES];
    static int have_dummy;
    if (!hash) {
        /* A benign race: two threads may both compute the same kind of dummy. */
        if (!have_dummy && feed_password_hash("flick-dummy-password", dummy, sizeof dummy) == 0)
            have_dummy = 1;
        if (have_dummy && crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0) return 0;
        return 0;
    }
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

static void hash_bytea(const unsigned char *data, size_t len, char *out)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, len);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, digest, sizeof digest);
}

void feed_token_new(char *token, char *hash_bytea_out)
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, FEED_TOKEN_CHARS + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    hash_bytea((const unsigned char *)token, strlen(token), hash_bytea_out);
}

void feed_token_hash(const char *token, char *hash_bytea_out)
{
    hash_bytea((const unsigned char *)token, strlen(token), hash_bytea_out);
}

void feed_invite_code_new(char *code)
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";  /* no i, l, o, 0, 1 */
    for (int i = 0; i < FEED_INVITE_CHARS; i++)
        code[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    code[FEED_INVITE_CHARS] = '\0';
}
