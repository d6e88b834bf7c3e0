/* feed/moderation.h: the vocabulary of moderation (report reasons, decision actions) and the
 * queue's cursor. Pure: the rules that change rows (reports gathering into cases, hiding,
 * claims, decisions) live in SQL (migrations/0010_moderation.sql), one transaction each. */
#ifndef FLICK_FEED_MODERATION_H
#define FLICK_FEED_MODERATION_H

#include <stdbool.h>
#include <stddef.h>

#define FEED_REPORT_NOTE_MAX 1000       /* characters of a report's or a decision's note */

/* The reasons a report may give, and the actions a decision may take, as API.md lists them
 * (NULL-terminated), and one sentence naming them all for error messages. */
extern const char *const feed_report_reasons[];
extern const char *const feed_decision_actions[];
#define FEED_REPORT_REASONS_TEXT \
    "sexual, violence, harassment, likeness, minor_safety, spam or other"
#define FEED_DECISION_ACTIONS_TEXT "dismiss, remove, restrict or ban_author"

/* true when `word` is one of the NULL-terminated `list`. */
bool feed_moderation_word_valid(const char *const *list, const char *word);

/* The queue is ordered by (priority desc, case id asc), with priorities computed as of the
 * moment its first page was read, so that later pages continue the same order. A cursor
 * holds "<as of, microseconds since the epoch>|<priority, decimal>|<case id>" (PostgreSQL
 * writes it). feed_queue_cursor_parse splits `payload` in place into the three parts;
 * returns 0, or -1 (payload and outputs unchanged) when it is not such a cursor. */
int feed_queue_cursor_parse(char *payload, const char **asof_us, const char **priority,
                            const char **case_id);

#endif
