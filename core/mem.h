/* core/mem.h: allocation that never returns NULL, and a request-scoped arena.
 *
 * Out of memory is not an error a request can recover from: these wrappers abort, so
 * callers never test allocations. The arena hands out memory that is released all at
 * once (a request's strings, parsed fields); it is not for long-lived objects. */
#ifndef FLICK_CORE_MEM_H
#define FLICK_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

typedef struct arena arena;

/* A new arena whose first block holds `hint` bytes (0: a default). */
arena *arena_new(size_t hint);
/* Frees every block, then the arena. NULL: no-op. */
void arena_free(arena *a);
/* Memory valid until arena_free; aligned for any type. */
void *arena_alloc(arena *a, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
/* printf into arena memory. */
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Registers fn(p) to run when the arena is freed, in reverse order of registration: how a
 * request releases PGresults, evbuffers and other foreign objects in one place. */
void arena_defer(arena *a, void (*fn)(void *), void *p);

#endif
