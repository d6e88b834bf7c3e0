/* core/cursor.c: HMAC-sealed cursors (see cursor.h), with libsodium's HMAC-SHA-256
 * truncated to 128 bits and its constant-time compare. */
#include "core/cursor.h"

#include <sodium.h>
#include <string.h>

#define TAG 16

void core_cursor_seal(const unsigned char key[32], const char *payload, char *out)
{
    unsigned char buf[CURSOR_MAX_PAYLOAD + TAG];
    size_t n = strnlen(payload, CURSOR_MAX_PAYLOAD);
    memcpy(buf, payload, n);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, buf, n, key);
    memcpy(buf + n, mac, TAG);
    sodium_bin2base64(out, CURSOR_MAX_CHARS, buf, n + TAG, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int core_cursor_open(const unsigned char key[32], const char *cursor, char *payload)
{
    unsigned char buf[CURSOR_MAX_PAYLOAD + TAG];
    size_t n = 0;
    if (strlen(cursor) >= CURSOR_MAX_CHARS ||
        sodium_base642bin(buf, sizeof buf, cursor, strlen(cursor), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n < TAG)
        return -1;
    n -= TAG;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, buf, n, key);
    if (sodium_memcmp(mac, buf + n, TAG) != 0) return -1;
    memcpy(payload, buf, n);
    payload[n] = '\0';
    if (strlen(payload) != n) return -1;    /* an embedded NUL: not one of ours */
    return 0;
}
