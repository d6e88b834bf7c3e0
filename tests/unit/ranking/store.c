/* tests/unit/ranking/store.c: snapshots round-trip, and whatever else Redis hands back is
 * refused rather than half-read; signal replies of the wrong shape count as no signals. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ranking/store.h"

Test(store, snapshot_round_trip)
{
    int64_t ids[] = { 5, 17, 123456789012345 };
    char *s = rank_snapshot_format(42, ids, 3);
    cr_assert_str_eq(s, "42;5,17,123456789012345");
    int64_t author = 0, *out = NULL;
    cr_assert_eq(rank_snapshot_parse(s, strlen(s), &author, &out), 3);
    cr_assert_eq(author, 42);
    cr_assert_eq(out[0], 5);
    cr_assert_eq(out[2], 123456789012345);
    free(out);
    free(s);
    s = rank_snapshot_format(0, NULL, 0);
    cr_assert_eq(rank_snapshot_parse(s, strlen(s), &author, &out), 0);
    cr_assert_null(out);
    free(s);
}

Test(store, malformed_snapshots_are_refused)
{
    const char *bad[] = { "", ";", "x;1", "1;1,", "1;,1", "1;1,,2", "1;1 2", "1", "1;-3",
                          "1;99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t author = 0, *out = NULL;
        cr_assert_eq(rank_snapshot_parse(bad[i], strlen(bad[i]), &author, &out), -1, "%s", bad[i]);
        cr_assert_null(out);
    }
}

Test(store, signals_from_replies)
{
    redisReply f[5], *el[5];
    const char *vals[] = { "3", "4", "1", "8", "1000" };
    for (int i = 0; i < 5; i++) {
        memset(&f[i], 0, sizeof f[i]);
        f[i].type = REDIS_REPLY_STRING;
        f[i].str = (char *)vals[i];
        f[i].len = strlen(vals[i]);
        el[i] = &f[i];
    }
    redisReply arr = { .type = REDIS_REPLY_ARRAY, .elements = 5, .element = el };
    rank_signals s = { .views = 9 };
    rank_signals_from_reply(&arr, 1000 + RANK_VELOCITY_HALFLIFE_S, &s);
    cr_assert_eq(s.completes, 3);
    cr_assert_eq(s.skips, 4);
    cr_assert_eq(s.not_interested, 1);
    cr_assert_float_eq(s.velocity, 4, 1e-9);
    cr_assert_eq(s.views, 9, "other fields are left alone");
    f[0].type = REDIS_REPLY_NIL;
    f[1].str = (char *)"12abc";
    f[1].len = 5;
    rank_signals_from_reply(&arr, 1000, &s);
    cr_assert_eq(s.completes, 0);
    cr_assert_eq(s.skips, 0);
    arr.elements = 2;
    rank_signals_from_reply(&arr, 1000, &s);
    cr_assert_eq(s.not_interested, 0);
    rank_signals_from_reply(NULL, 1000, &s);
    cr_assert_eq(s.velocity, 0);
}
