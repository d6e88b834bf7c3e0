/* feed/moderation.c: report reasons, decision actions and the moderation queue's cursor
 * (see moderation.h). Nothing here touches the database or HTTP. */
#include "feed/moderation.h"

#include <string.h>

const char *const feed_report_reasons[] = { "sexual", "violence", "harassment", "likeness",
                                            "minor_safety", "spam", "other", NULL };
const char *const feed_decision_actions[] = { "dismiss", "remove", "restrict", "ban_author", NULL };

bool feed_moderation_word_valid(const char *const *list, const char *word)
{
    if (!word) return false;
    for (; *list; list++)
        if (strcmp(*list, word) == 0) return true;
    return false;
}

/* 1..maxlen decimal digits. */
static bool digits(const char *s, size_t maxlen)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= maxlen && s[n] == '\0';
}

/* A non-negative decimal: digits, optionally '.' and digits (what numeric's text gives). */
static bool decimal(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 15) return false;
    if (s[n] == '\0') return true;
    return s[n] == '.' && digits(s + n + 1, 6);
}

int feed_queue_cursor_parse(char *payload, const char **asof_us, const char **priority,
                            const char **case_id)
{
    char *a = payload, *p = strchr(a, '|');
    if (!p) return -1;
    char *c = strchr(p + 1, '|');
    if (!c) return -1;
    *p++ = '\0';
    *c++ = '\0';
    if (!digits(a, 18) || !decimal(p) || !digits(c, 18)) {
        p[-1] = c[-1] = '|';    /* leave the payload as it was */
        return -1;
    }
    *asof_us = a;
    *priority = p;
    *case_id = c;
    return 0;
}
