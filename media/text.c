/* media/text.c: FreeType text into coverage masks (see text.h).
 *
 * Two passes per string: measure with advances and kerning, then render each glyph and take
 * the maximum coverage where glyphs touch (adding would make overlapping edges too dark). */
#include "media/text.h"

#include <stdlib.h>
#include <string.h>

#include <ft2build.h>
#include FT_FREETYPE_H

#include "core/mem.h"
#include "media/error.h"

#define MAX_CHARS 64

struct media_font {
    FT_Library lib; /* owned; a library per font keeps fonts independent across threads */
    FT_Face face;   /* owned by lib */
};

int media_font_open(const char *path, media_font **out, char *err, size_t errlen)
{
    int rc = -1;
    media_font *f = xcalloc(1, sizeof *f);

    *out = NULL;
    if (FT_Init_FreeType(&f->lib) != 0) {
        media_errorf(err, errlen, "cannot initialise FreeType");
        goto out;
    }
    if (FT_New_Face(f->lib, path, 0, &f->face) != 0) {
        media_errorf(err, errlen, "cannot load font %s", path);
        goto out;
    }
    *out = f;
    f = NULL;
    rc = 0;
out:
    media_font_free(f);
    return rc;
}

void media_font_free(media_font *font)
{
    if (!font) return;
    if (font->lib) FT_Done_FreeType(font->lib); /* also frees the face */
    free(font);
}

/* Decodes one UTF-8 sequence at *s, advancing it; malformed input yields U+FFFD and
 * consumes one byte, so the loop always makes progress. */
static uint32_t next_codepoint(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t cp;
    int extra;
    if (p[0] < 0x80) { *s = p + 1; return p[0]; }
    if ((p[0] & 0xE0) == 0xC0) { cp = p[0] & 0x1F; extra = 1; }
    else if ((p[0] & 0xF0) == 0xE0) { cp = p[0] & 0x0F; extra = 2; }
    else if ((p[0] & 0xF8) == 0xF0) { cp = p[0] & 0x07; extra = 3; }
    else { *s = p + 1; return 0xFFFD; }
    for (int i = 1; i <= extra; i++) {
        if ((p[i] & 0xC0) != 0x80) { *s = p + 1; return 0xFFFD; }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *s = p + 1 + extra;
    return cp > 0x10FFFF ? 0xFFFD : cp;
}

static size_t decode(const char *utf8, uint32_t *cps, size_t max)
{
    const unsigned char *s = (const unsigned char *)utf8;
    size_t n = 0;
    while (*s && n < max) cps[n++] = next_codepoint(&s);
    return n;
}

int media_font_render(media_font *font, const char *utf8, int px, media_text_mask *out,
                      char *err, size_t errlen)
{
    int rc = -1;
    uint32_t cps[MAX_CHARS];
    FT_Face face = font->face;

    memset(out, 0, sizeof *out);
    if (FT_Set_Pixel_Sizes(face, 0, (FT_UInt)px) != 0) {
        media_errorf(err, errlen, "font cannot be sized to %d px", px);
        goto out;
    }
    size_t n = decode(utf8, cps, MAX_CHARS);
    int ascender = (int)(face->size->metrics.ascender >> 6);
    int descender = (int)(face->size->metrics.descender >> 6); /* negative */
    int pad = px / 8 + 1; /* room for glyphs that overhang their advance (italics, 'j') */

    /* Pass 1: pen positions. */
    long pen = 0;
    FT_UInt prev = 0;
    for (size_t i = 0; i < n; i++) {
        FT_UInt gi = FT_Get_Char_Index(face, cps[i]);
        if (prev && gi && FT_HAS_KERNING(face)) {
            FT_Vector k;
            if (FT_Get_Kerning(face, prev, gi, FT_KERNING_DEFAULT, &k) == 0) pen += k.x;
        }
        if (FT_Load_Glyph(face, gi, FT_LOAD_DEFAULT) == 0) pen += face->glyph->advance.x;
        prev = gi;
    }
    out->width = (int)(pen >> 6) + 2 * pad;
    out->height = ascender - descender + 2;
    out->alpha = xcalloc((size_t)out->width * (size_t)out->height, 1);

    /* Pass 2: render and place. */
    pen = (long)pad << 6;
    prev = 0;
    for (size_t i = 0; i < n; i++) {
        FT_UInt gi = FT_Get_Char_Index(face, cps[i]);
        if (prev && gi && FT_HAS_KERNING(face)) {
            FT_Vector k;
            if (FT_Get_Kerning(face, prev, gi, FT_KERNING_DEFAULT, &k) == 0) pen += k.x;
        }
        prev = gi;
        if (FT_Load_Glyph(face, gi, FT_LOAD_RENDER) != 0) continue;
        const FT_GlyphSlot g = face->glyph;
        const FT_Bitmap *bm = &g->bitmap;
        int ox = (int)(pen >> 6) + g->bitmap_left;
        int oy = 1 + ascender - g->bitmap_top;
        if (bm->pixel_mode == FT_PIXEL_MODE_GRAY) {
            for (unsigned r = 0; r < bm->rows; r++) {
                int y = oy + (int)r;
                if (y < 0 || y >= out->height) continue;
                const unsigned char *src = bm->buffer + (long)r * bm->pitch;
                uint8_t *dst = out->alpha + (size_t)y * out->width;
                for (unsigned c = 0; c < bm->width; c++) {
                    int x = ox + (int)c;
                    if (x >= 0 && x < out->width && src[c] > dst[x]) dst[x] = src[c];
                }
            }
        }
        pen += g->advance.x;
    }
    rc = 0;
out:
    return rc;
}

void media_text_mask_release(media_text_mask *m)
{
    free(m->alpha);
    memset(m, 0, sizeof *m);
}

char *media_text_initial(const char *utf8, char *buf)
{
    const unsigned char *s = (const unsigned char *)utf8;
    if (!*s) { strcpy(buf, "?"); return buf; }
    const unsigned char *start = s;
    uint32_t cp = next_codepoint(&s);
    size_t len = (size_t)(s - start);
    if (cp == 0xFFFD && len == 1 && *start >= 0x80) { strcpy(buf, "?"); return buf; }
    memcpy(buf, start, len);
    buf[len] = '\0';
    if (cp >= 'a' && cp <= 'z') buf[0] = (char)(cp - 'a' + 'A');
    return buf;
}
