/* core/mem.c: aborting allocators and the request arena (see mem.h). */
#include "core/mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "flickd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

typedef struct block {
    struct block *next;
    size_t size;        /* usable bytes after the header */
    size_t used;        /* bytes handed out; always <= size */
    max_align_t data[]; /* the memory itself, aligned for any type */
} block;

typedef struct deferred {
    struct deferred *next;  /* newer first: run order is reverse registration */
    void (*fn)(void *);
    void *p;
} deferred;

struct arena {
    block *head;        /* current block; older blocks follow */
    size_t next_size;   /* size of the next block; doubles up to a cap */
    deferred *defers;
};

#define ARENA_DEFAULT 4096
#define ARENA_MAX_BLOCK (1u << 20)
#define ALIGN(n) (((n) + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1))

static block *block_new(size_t size)
{
    block *b = xmalloc(sizeof(block) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena *arena_new(size_t hint)
{
    arena *a = xmalloc(sizeof *a);
    a->head = block_new(hint ? ALIGN(hint) : ARENA_DEFAULT);
    a->next_size = a->head->size * 2;
    a->defers = NULL;
    return a;
}

void arena_free(arena *a)
{
    if (!a) return;
    for (deferred *d = a->defers, *next; d; d = next) {
        next = d->next;
        d->fn(d->p);
    }
    for (block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *arena_alloc(arena *a, size_t n)
{
    n = ALIGN(n ? n : 1);
    if (a->head->size - a->head->used < n) {
        size_t size = a->next_size > n ? a->next_size : ALIGN(n);
        block *b = block_new(size);
        b->next = a->head;
        a->head = b;
        if (a->next_size < ARENA_MAX_BLOCK) a->next_size *= 2;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = arena_alloc(a, len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    /* Most results are short (ids, numbers): one formatting pass into the stack suffices. */
    char small[128];
    if (!fmt) fmt = "";     /* also tells GCC's format checker that fmt is never NULL */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *s = arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof small) {
        memcpy(s, small, (size_t)n + 1);
        return s;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void arena_defer(arena *a, void (*fn)(void *), void *p)
{
    deferred *d = arena_alloc(a, sizeof *d);
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}
