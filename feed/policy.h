/* feed/policy.h: the prompt content policy: a list of blocked terms, matched
 * case-insensitively (full Unicode case folding, compatibility forms such as fullwidth
 * letters folded too) on word boundaries, with invisible format characters ignored and any
 * run of white space between words counting as one space. Pure: the terms come from the
 * caller (PostgreSQL holds them; GET/PUT /v1/admin/policy changes them). */
#ifndef FLICK_FEED_POLICY_H
#define FLICK_FEED_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define FEED_POLICY_MAX_TERMS 1000
#define FEED_POLICY_MAX_TERM_CHARS 100

/* The first of terms[0..n) that occurs in `prompt` as whole words, or NULL. Both are UTF-8;
 * invalid UTF-8 in either never matches. */
const char *feed_policy_match(const char *prompt, const char *const *terms, int n);

/* Normalises a term for storing, as it is matched: folded (see above), white space trimmed
 * and runs of it made one space, into out (outlen bytes). Returns 0, or -1 if it is empty,
 * too long or not valid UTF-8. */
int feed_policy_normalise(const char *term, char *out, size_t outlen);

#endif
