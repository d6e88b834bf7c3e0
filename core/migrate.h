/* core/migrate.h: schema migrations from numbered SQL files (migrations/NNNN_name.sql),
 * each applied once, in order, in its own transaction, recorded in schema_migrations.
 * Blocking: for the one-shot `flickd migrate` and the start-up check of `serve` only. */
#ifndef FLICK_CORE_MIGRATE_H
#define FLICK_CORE_MIGRATE_H

#include <stddef.h>

/* Applies every pending file of `dir`. Returns 0; or -1 with the failing file and the
 * server's message in err, leaving the database as it was before that file. */
int core_migrate_apply(const char *conninfo, const char *dir, int verbose, char *err, size_t errlen);

/* 0 when every file of `dir` is applied; -1 with a sentence in err otherwise (unreachable
 * database, or which migration is missing). */
int core_migrate_check(const char *conninfo, const char *dir, char *err, size_t errlen);

#endif
