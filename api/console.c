/* api/console.c: serves the moderator console, the static files of FLICK_WEB_DIR/console
 * (default web/console), at /console/. The folder is read once, on the first console
 * request, into memory: a request never touches the filesystem, and only a name that was
 * listed in that folder can be served, so no path can reach outside it. Not for anything the
 * console does once loaded: it speaks the JSON API like any other client. */
#include "api/handlers.h"

#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONSOLE_PREFIX "/console/"
#define CONSOLE_MAX_FILES 32
#define CONSOLE_MAX_FILE_BYTES (512 * 1024)
#define CONSOLE_MAX_NAME 64

/* The page may load its own scripts, styles and the API's media (fetched with the token and
 * shown from blob: URLs), and nothing else: a caption that slipped into the markup still
 * could not run or call out. Forms are sent by the script, never by the browser (a failed
 * script must not put a password in a URL). */
#define CONSOLE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
                    "media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; " \
                    "frame-ancestors 'none'"

typedef struct console_file {
    char name[CONSOLE_MAX_NAME];  /* file name in the folder: [A-Za-z0-9._-], no leading dot */
    const char *type;             /* Content-Type, from the extension */
    bool html;                    /* a page (CSP applies), not an asset */
    unsigned char *bytes;         /* the whole file, read once; lives until exit */
    size_t len;
    char etag[2 * 16 + 3];        /* "<BLAKE2b-128 of the bytes, hex>" with the quotes */
} console_file;

static console_file files[CONSOLE_MAX_FILES];
static int nfiles;                /* set once by load(), read-only afterwards */
static pthread_once_t loaded = PTHREAD_ONCE_INIT;

static const struct { const char *ext, *type; } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".css",  "text/css; charset=utf-8" },
    { ".js",   "text/javascript; charset=utf-8" },
    { ".svg",  "image/svg+xml" },
    { ".png",  "image/png" },
    { ".webp", "image/webp" },
    { ".ico",  "image/x-icon" },
    { ".txt",  "text/plain; charset=utf-8" },
};

/* The Content-Type of a servable name, or NULL: a name must be plain ([A-Za-z0-9._-], not
 * starting with a dot) and carry a known extension. Anything else in the folder is ignored. */
static const char *servable_type(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= CONSOLE_MAX_NAME || name[0] == '.') return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return NULL;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(name + n - e, types[i].ext) == 0) return types[i].type;
    }
    return NULL;
}

/* Reads one regular file of the folder. Symbolic links are refused (O_NOFOLLOW), so a link
 * to somewhere else on the machine is never served. 0, or -1 with the reason logged. */
static int load_file(int dirfd, const char *name, const char *type, console_file *f)
{
    int rc = -1;
    const char *problem = NULL;
    char ebuf[128];
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        problem = errno == ELOOP ? "a symbolic link" : strerror_r(errno, ebuf, sizeof ebuf);
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        problem = "not a regular file";
        goto out;
    }
    if (st.st_size > CONSOLE_MAX_FILE_BYTES) {
        problem = "larger than the console's limit per file";
        goto out;
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *bytes = xmalloc(len ? len : 1);
    while (got < len) {
        ssize_t n = read(fd, bytes + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got != len) {
        free(bytes);
        problem = "short read";
        goto out;
    }
    unsigned char hash[16];
    char hex[2 * sizeof hash + 1];
    crypto_generichash(hash, sizeof hash, bytes, len, NULL, 0);
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    memcpy(f->name, name, strlen(name) + 1);     /* servable_type() bounded it */
    snprintf(f->etag, sizeof f->etag, "\"%s\"", hex);
    f->type = type;
    f->html = strcmp(type, types[0].type) == 0;
    f->bytes = bytes;
    f->len = len;
    rc = 0;
out:
    if (problem) log_msg(LOG_WARN, "console file not served", "\"file\":\"%s\",\"reason\":\"%s\"", name, problem);
    if (fd >= 0) close(fd);
    return rc;
}

/* Runs once per process. A missing folder leaves the table empty: the console answers 404
 * and the API is unaffected. */
static void load(void)
{
    const char *root = getenv("FLICK_WEB_DIR");
    if (!root || !*root) root = "web";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/console", root);
    DIR *d = opendir(dir);
    if (!d) {
        char buf[1024], ebuf[128];
        const char *error = strerror_r(errno, ebuf, sizeof ebuf);
        log_msg(LOG_WARN, "console folder not found; /console/ answers 404",
                "\"dir\":\"%s\",\"error\":\"%s\"", log_escape(dir, buf, sizeof buf), error);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *type = servable_type(e->d_name);
        if (!type) continue;
        if (nfiles == CONSOLE_MAX_FILES) {
            log_msg(LOG_WARN, "console folder holds too many files; the rest are not served",
                    "\"max\":%d", CONSOLE_MAX_FILES);
            break;
        }
        if (load_file(dirfd(d), e->d_name, type, &files[nfiles]) == 0) nfiles++;
    }
    closedir(d);
    log_msg(LOG_INFO, "console loaded", "\"files\":%d", nfiles);
}

/* The file for the raw (still percent-encoded) path segment, or NULL. Names are matched
 * undecoded, and loaded names hold no '%', so "%2e%2e", "%2f" or "%00" name nothing. */
static const console_file *find(const char *segment)
{
    pthread_once(&loaded, load);
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i].name, segment) == 0) return &files[i];
    return NULL;
}

/* If-None-Match names our tag (weak comparison, RFC 9110 13.1.2), or is "*". */
static bool not_modified(const char *header, const char *etag)
{
    if (!header) return false;
    size_t elen = strlen(etag);
    for (const char *p = header; *p; ) {
        p += strspn(p, " \t,");
        if (*p == '*') return true;
        if (strncmp(p, "W/", 2) == 0) p += 2;
        if (strncmp(p, etag, elen) == 0 && strchr(", \t", p[elen])) return true;
        p += strcspn(p, ",");
    }
    return false;
}

static void send_file(api_req *r, const console_file *f)
{
    if (!f) {
        api_reply_not_found(r);
        return;
    }
    api_set_header(r, "ETag", f->etag);
    /* Names carry no version, so every use revalidates: a deploy never mixes old and new
     * files, and an unchanged file costs a 304. */
    api_set_header(r, "Cache-Control", "no-cache");
    api_set_header(r, "X-Content-Type-Options", "nosniff");
    if (f->html) {
        api_set_header(r, "Content-Security-Policy", CONSOLE_CSP);
        api_set_header(r, "Referrer-Policy", "no-referrer");
        api_set_header(r, "X-Frame-Options", "DENY");
    }
    if (not_modified(api_header(r, "If-None-Match"), f->etag)) api_reply_empty(r, 304);
    else api_reply_bytes(r, 200, f->type, f->bytes, f->len);
}

void api_console_redirect(api_req *r)
{
    api_set_header(r, "Location", CONSOLE_PREFIX);
    api_reply_empty(r, 301);
}

void api_console_index(api_req *r)
{
    send_file(r, find("index.html"));
}

void api_console_asset(api_req *r)
{
    /* r->path is the raw path, so the segment is still encoded; the route guarantees the
     * prefix and exactly one non-empty segment after it. */
    send_file(r, find(r->path + strlen(CONSOLE_PREFIX)));
}
