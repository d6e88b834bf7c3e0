/* core/migrate.c: numbered SQL migrations (see migrate.h). An advisory lock keeps two
 * migrators from racing; each file runs with its record in one transaction, so a failing
 * file leaves no trace. */
#include "core/migrate.h"

#include "core/mem.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCK_KEY "7432615001"

typedef struct file_list {
    char **names;       /* sorted NNNN_*.sql names */
    int n;
} file_list;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_files(const char *dir, file_list *out, char *err, size_t errlen)
{
    out->names = NULL;
    out->n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open migrations folder %s", dir);
        return -1;
    }
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 9 || strcmp(e->d_name + len - 4, ".sql") != 0 ||
            strspn(e->d_name, "0123456789") != 4 || e->d_name[4] != '_')
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->names = xrealloc(out->names, (size_t)cap * sizeof *out->names);
        }
        out->names[out->n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(out->names, (size_t)out->n, sizeof *out->names, by_name);
    return 0;
}

static void free_files(file_list *f)
{
    for (int i = 0; i < f->n; i++) free(f->names[i]);
    free(f->names);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xmalloc((size_t)len + 1);
    size_t n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Notices ("already exists, skipping") are expected on every run: not worth printing. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int exec_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) snprintf(err, errlen, "%s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int applied(PGconn *c, const char *name)
{
    const char *params[] = { name };
    PGresult *res = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1",
                                 1, NULL, params, NULL, NULL, 0);
    int yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    PQclear(res);
    return yes;
}

int core_migrate_apply(const char *conninfo, const char *dir, int verbose, char *err, size_t errlen)
{
    int rc = -1;
    file_list files = { 0 };
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(c));
        goto out;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    char detail[1024];
    if (exec_ok(c, "SELECT pg_advisory_lock(" LOCK_KEY ")", detail, sizeof detail) ||
        exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                detail, sizeof detail)) {
        snprintf(err, errlen, "cannot prepare migrations: %s", detail);
        goto out;
    }
    if (list_files(dir, &files, err, errlen)) goto out;
    for (int i = 0; i < files.n; i++) {
        if (applied(c, files.names[i])) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, files.names[i]);
        char *sql = read_file(path);
        if (!sql) {
            snprintf(err, errlen, "%s: cannot read the file", files.names[i]);
            goto out;
        }
        int failed = exec_ok(c, "BEGIN", detail, sizeof detail) || exec_ok(c, sql, detail, sizeof detail);
        free(sql);
        if (!failed) {
            const char *params[] = { files.names[i] };
            PGresult *res = PQexecParams(c, "INSERT INTO schema_migrations (version) VALUES ($1)",
                                         1, NULL, params, NULL, NULL, 0);
            failed = PQresultStatus(res) != PGRES_COMMAND_OK;
            if (failed) snprintf(detail, sizeof detail, "%s", PQresultErrorMessage(res));
            PQclear(res);
        }
        if (failed || exec_ok(c, "COMMIT", detail, sizeof detail)) {
            char ignored[256];
            exec_ok(c, "ROLLBACK", ignored, sizeof ignored);
            size_t dl = strlen(detail);
            while (dl && (detail[dl - 1] == '\n' || detail[dl - 1] == ' ')) detail[--dl] = '\0';
            snprintf(err, errlen, "%s failed: %s", files.names[i], detail);
            goto out;
        }
        if (verbose) printf("migrate: applied %s\n", files.names[i]);
    }
    rc = 0;
out:
    free_files(&files);
    PQfinish(c);
    return rc;
}

int core_migrate_check(const char *conninfo, const char *dir, char *err, size_t errlen)
{
    int rc = -1;
    file_list files = { 0 };
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(c));
        goto out;
    }
    PGresult *res = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    int has_table = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!has_table) {
        snprintf(err, errlen, "the database is not migrated: run `flickd migrate` first");
        goto out;
    }
    if (list_files(dir, &files, err, errlen)) goto out;
    for (int i = 0; i < files.n; i++) {
        if (!applied(c, files.names[i])) {
            snprintf(err, errlen, "migration %s is not applied: run `flickd migrate` first", files.names[i]);
            goto out;
        }
    }
    rc = 0;
out:
    free_files(&files);
    PQfinish(c);
    return rc;
}
