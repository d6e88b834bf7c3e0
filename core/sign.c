/* core/sign.c: HMAC-SHA-256 media URL signatures (see sign.h). */
#include "core/sign.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_BYTES 16

static void mac(const unsigned char key[32], const char *media_id, const char *exp,
                unsigned char out[crypto_auth_hmacsha256_BYTES])
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "media|%s|%s", media_id, exp);
    crypto_auth_hmacsha256(out, (const unsigned char *)msg, (size_t)n, key);
}

void core_sign_media_url(const unsigned char key[32], const char *media_id, time_t expires,
                         char *out, size_t outlen)
{
    char exp[24], sig[64];
    snprintf(exp, sizeof exp, "%lld", (long long)expires);
    unsigned char m[crypto_auth_hmacsha256_BYTES];
    mac(key, media_id, exp, m);
    sodium_bin2base64(sig, sizeof sig, m, SIG_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, outlen, "/v1/media/%s?exp=%s&sig=%s", media_id, exp, sig);
}

static int check_one(const unsigned char key[32], const char *media_id, const char *exp,
                     const unsigned char *given)
{
    unsigned char m[crypto_auth_hmacsha256_BYTES];
    mac(key, media_id, exp, m);
    return sodium_memcmp(m, given, SIG_BYTES) == 0;
}

int core_sign_check(const unsigned char key[32], const unsigned char *previous,
                    const char *media_id, const char *exp, const char *sig, time_t now)
{
    if (!media_id || !exp || !sig || strlen(media_id) > 32 || strlen(exp) > 20) return 0;
    char *end;
    long long e = strtoll(exp, &end, 10);
    if (*end || end == exp || e < now) return 0;
    unsigned char given[SIG_BYTES + 8];
    size_t n = 0;
    if (sodium_base642bin(given, sizeof given, sig, strlen(sig), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n != SIG_BYTES)
        return 0;
    return check_one(key, media_id, exp, given) || (previous && check_one(previous, media_id, exp, given));
}
