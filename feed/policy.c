/* feed/policy.c: blocked-term matching with libunistring (see policy.h). Both sides are
 * case-folded to NFC, so "STRASSE" matches "straße" and "É" matches "é"; a match counts
 * only when the characters around it are not letters, digits or marks. */
#include "feed/policy.h"

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* Case-folds s into a new NUL-terminated buffer (caller frees), or NULL if invalid UTF-8. */
static uint8_t *fold(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (u8_check((const uint8_t *)s, n) != NULL) return NULL;
    size_t outlen = 0;
    uint8_t *f = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFC, NULL, &outlen);
    if (!f) return NULL;
    uint8_t *z = realloc(f, outlen + 1);
    if (!z) { free(f); return NULL; }
    z[outlen] = '\0';
    *len = outlen;
    return z;
}

static bool is_word(ucs4_t c)
{
    return uc_is_alnum(c) || uc_is_general_category(c, UC_CATEGORY_M) || c == '_';
}

static bool whole_word(const uint8_t *text, size_t textlen, const uint8_t *at, size_t len)
{
    if (at > text) {
        ucs4_t prev;
        if (u8_prev(&prev, at, text) && is_word(prev)) return false;
    }
    if (at + len < text + textlen) {
        ucs4_t next;
        u8_mbtouc(&next, at + len, (size_t)(text + textlen - (at + len)));
        if (is_word(next)) return false;
    }
    return true;
}

const char *feed_policy_match(const char *prompt, const char *const *terms, int n)
{
    const char *hit = NULL;
    size_t plen = 0;
    uint8_t *p = fold(prompt, &plen);
    if (!p) return NULL;
    for (int i = 0; i < n && !hit; i++) {
        size_t tlen = 0;
        uint8_t *t = fold(terms[i], &tlen);
        if (!t) continue;
        for (const uint8_t *at = p; tlen > 0 && at + tlen <= p + plen; at++) {
            at = memmem(at, (size_t)(p + plen - at), t, tlen);
            if (!at) break;
            if (whole_word(p, plen, at, tlen)) { hit = terms[i]; break; }
        }
        free(t);
    }
    free(p);
    return hit;
}

int feed_policy_normalise(const char *term, char *out, size_t outlen)
{
    while (*term == ' ' || *term == '\t' || *term == '\n') term++;
    size_t n = strlen(term);
    while (n && (term[n - 1] == ' ' || term[n - 1] == '\t' || term[n - 1] == '\n')) n--;
    if (n == 0) return -1;
    char *copy = strndup(term, n);
    size_t flen = 0;
    uint8_t *f = copy ? fold(copy, &flen) : NULL;
    free(copy);
    if (!f) return -1;
    int rc = -1;
    if (u8_mbsnlen(f, flen) <= FEED_POLICY_MAX_TERM_CHARS && flen < outlen) {
        memcpy(out, f, flen + 1);
        rc = 0;
    }
    free(f);
    return rc;
}
