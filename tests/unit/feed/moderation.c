/* tests/unit/feed/moderation.c: report reasons and decision actions are exactly API.md's,
 * and the queue's cursor is split only when it is well formed. */
#include <criterion/criterion.h>
#include <string.h>

#include "feed/moderation.h"

Test(moderation, reasons_and_actions_are_the_contracts)
{
    const char *reasons[] = { "sexual", "violence", "harassment", "likeness", "minor_safety", "spam", "other" };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        cr_assert(feed_moderation_word_valid(feed_report_reasons, reasons[i]), "%s", reasons[i]);
    const char *actions[] = { "dismiss", "remove", "restrict", "ban_author" };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        cr_assert(feed_moderation_word_valid(feed_decision_actions, actions[i]), "%s", actions[i]);
    const char *bad[] = { "", "Spam", "spam ", "ban", "dismiss\n", "remove", NULL };
    for (size_t i = 0; bad[i]; i++)
        cr_assert_not(feed_moderation_word_valid(feed_report_reasons, bad[i]), "%s", bad[i]);
    cr_assert_not(feed_moderation_word_valid(feed_decision_actions, "spam"));
    cr_assert_not(feed_moderation_word_valid(feed_decision_actions, NULL));
}

Test(moderation, cursor_splits_into_its_three_parts)
{
    char payload[] = "1795860000123456|112.345|42";
    const char *asof, *priority, *id;
    cr_assert_eq(feed_queue_cursor_parse(payload, &asof, &priority, &id), 0);
    cr_assert_str_eq(asof, "1795860000123456");
    cr_assert_str_eq(priority, "112.345");
    cr_assert_str_eq(id, "42");
    char whole[] = "1|7|9";
    cr_assert_eq(feed_queue_cursor_parse(whole, &asof, &priority, &id), 0);
    cr_assert_str_eq(priority, "7");
}

Test(moderation, malformed_cursors_are_refused_and_left_alone)
{
    const char *bad[] = { "", "1|2", "1|2|3|4", "a|2|3", "1|-2|3", "1|2.|3", "1|.5|3", "1|2|",
                          "|2|3", "1|2|3x", "1|2|1234567890123456789", "1|1e5|3", "1| 2|3", NULL };
    for (size_t i = 0; bad[i]; i++) {
        char buf[64];
        strcpy(buf, bad[i]);
        const char *asof = NULL, *priority = NULL, *id = NULL;
        cr_assert_eq(feed_queue_cursor_parse(buf, &asof, &priority, &id), -1, "%s", bad[i]);
        cr_assert_str_eq(buf, bad[i]);
        cr_assert_null(asof);
    }
}
