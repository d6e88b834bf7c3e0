/* tests/unit/core/cursor.c: sealed cursors open with their key only, and tampering shows. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/cursor.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";
static const unsigned char other[32] = "fedcba9876543210fedcba9876543210";

Test(cursor, round_trip)
{
    char sealed[CURSOR_MAX_CHARS], payload[CURSOR_MAX_PAYLOAD + 1];
    core_cursor_seal(key, "2026-11-29T10:00:00.123456Z|42", sealed);
    cr_assert_eq(core_cursor_open(key, sealed, payload), 0);
    cr_assert_str_eq(payload, "2026-11-29T10:00:00.123456Z|42");
}

Test(cursor, refuses_forgery)
{
    char sealed[CURSOR_MAX_CHARS], payload[CURSOR_MAX_PAYLOAD + 1];
    core_cursor_seal(key, "2026-11-29T10:00:00Z|42", sealed);
    cr_assert_eq(core_cursor_open(other, sealed, payload), -1);
    sealed[3] = sealed[3] == 'A' ? 'B' : 'A';
    cr_assert_eq(core_cursor_open(key, sealed, payload), -1);
    cr_assert_eq(core_cursor_open(key, "", payload), -1);
    cr_assert_eq(core_cursor_open(key, "not a cursor!", payload), -1);
    char long_one[1000];
    memset(long_one, 'A', sizeof long_one - 1);
    long_one[sizeof long_one - 1] = '\0';
    cr_assert_eq(core_cursor_open(key, long_one, payload), -1);
}
