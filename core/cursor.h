/* core/cursor.h: opaque, tamper-evident list cursors. A cursor is the caller's own short
 * payload ("<time>:<id>", say) with an HMAC, base64url-encoded, so a forged or edited
 * cursor is refused (400) rather than trusted. Not encryption: the payload is readable. */
#ifndef FLICK_CORE_CURSOR_H
#define FLICK_CORE_CURSOR_H

#include <stddef.h>

#define CURSOR_MAX_PAYLOAD 200
#define CURSOR_MAX_CHARS 320

/* Seals `payload` (at most CURSOR_MAX_PAYLOAD bytes) into out (CURSOR_MAX_CHARS bytes). */
void core_cursor_seal(const unsigned char key[32], const char *payload, char *out);
/* Opens a cursor into payload (CURSOR_MAX_PAYLOAD + 1 bytes). Returns 0, or -1 when it is
 * malformed or was not sealed with `key`. */
int core_cursor_open(const unsigned char key[32], const char *cursor, char *payload);

#endif
