/* feed/policy.c: blocked-term matching with libunistring (see policy.h). Both sides are
 * case-folded to NFKC, so "STRASSE" matches "straße", "É" matches "é" and fullwidth "ＧＯＲＥ"
 * matches "gore"; invisible format characters (zero-width spaces, soft hyphens) are dropped
 * and every run of white space counts as one space, so neither hides a term. A match counts
 * only when the characters around it are not letters, digits or marks. */
#include "feed/policy.h"

#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* Folds s into a new NUL-terminated buffer (caller frees): case-folded to NFKC, format
 * characters dropped, white space runs made one space and trimmed. NULL if invalid UTF-8. */
static uint8_t *fold(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (u8_check((const uint8_t *)s, n) != NULL) return NULL;
    size_t flen = 0;
    uint8_t *f = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFKC, NULL, &flen);
    if (!f) return NULL;
    uint8_t *z = malloc(flen + 1); /* never longer than the folded text */
    if (!z) { free(f); return NULL; }
    size_t out = 0;
    bool space = true; /* drops leading white space */
    for (size_t i = 0; i < flen;) {
        ucs4_t c;
        int k = u8_mbtouc(&c, f + i, flen - i);
        if (uc_is_general_category(c, UC_CATEGORY_Cf)) {
            /* invisible: not there */
        } else if (uc_is_space(c) || uc_is_general_category(c, UC_CATEGORY_Z)) {
            if (!space) z[out++] = ' ';
            space = true;
        } else {
            memcpy(z + out, f + i, (size_t)k);
            out += (size_t)k;
            space = false;
        }
        i += (size_t)k;
    }
    if (out > 0 && z[out - 1] == ' ') out--;
    z[out] = '\0';
    free(f);
    *len = out;
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
    size_t flen = 0;
    uint8_t *f = fold(term, &flen);
    if (!f) return -1;
    int rc = -1;
    if (flen > 0 && u8_mbsnlen(f, flen) <= FEED_POLICY_MAX_TERM_CHARS && flen < outlen) {
        memcpy(out, f, flen + 1);
        rc = 0;
    }
    free(f);
    return rc;
}
