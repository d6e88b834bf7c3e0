/* media/store.c: the filesystem media store (see store.h). An object's name is the SHA-256
 * of its bytes, so a write is "hash while copying to a temporary file, fsync, rename, fsync
 * the folder": a crash leaves either no object or the whole object, never half of one.
 * Temporary files live in $FLICK_DATA_DIR/media/tmp, on the same filesystem as the objects
 * so that rename() is atomic; the worker sweeps stale ones (media_store_sweep_tmp). */
#include "media/store.h"

#include "core/config.h"
#include "media/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COPY_CHUNK (64 * 1024)

static void hex_of(const unsigned char *digest, char *out)
{
    sodium_bin2hex(out, MEDIA_SHA256_HEX, digest, crypto_hash_sha256_BYTES);
}

void media_store_path(const char *data_dir, const char *sha256, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/media/%.2s/%.2s/%s", data_dir, sha256, sha256 + 2, sha256);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int media_store_tmp_path(const char *data_dir, const char *suffix, char *out, size_t outlen,
                         char *err, size_t errlen)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/media/tmp", data_dir);
    if (mkdir_p(dir) != 0) {
        media_errorf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Random, not pid-based: several threads and processes share the folder. */
    unsigned char raw[12];
    char hex[2 * sizeof raw + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    int n = snprintf(out, outlen, "%s/%s%s", dir, hex, suffix ? suffix : "");
    if (n < 0 || (size_t)n >= outlen) {
        media_errorf(err, errlen, "temporary path too long");
        return -1;
    }
    return 0;
}

int media_sha256_file(const char *path, char *sha_out, char *err, size_t errlen)
{
    int rc = -1;
    unsigned char buf[COPY_CHUNK], digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        media_errorf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            media_errorf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    }
    crypto_hash_sha256_final(&st, digest);
    hex_of(digest, sha_out);
    rc = 0;
out:
    if (fd >= 0) close(fd);
    return rc;
}

/* Renames tmp to the object's path for sha (folders made as needed), then makes the rename
 * durable. Storing bytes that are already there replaces them with identical bytes. */
static int publish(const char *data_dir, const char *tmp, const char *sha, char *err, size_t errlen)
{
    char dir[640], path[700];
    snprintf(dir, sizeof dir, "%s/media/%.2s/%.2s", data_dir, sha, sha + 2);
    if (mkdir_p(dir) != 0) {
        media_errorf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    media_store_path(data_dir, sha, path, sizeof path);
    if (rename(tmp, path) != 0) {
        media_errorf(err, errlen, "cannot move a file into the store: %s", strerror(errno));
        return -1;
    }
    if (fsync_dir(dir) != 0) {
        media_errorf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int media_store_put_file(const char *data_dir, const char *tmp_path, char *sha_out,
                         char *err, size_t errlen)
{
    int rc = -1;
    unsigned char buf[COPY_CHUNK], digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    /* Read-write so that fsync covers the data of a file another descriptor wrote. */
    int fd = open(tmp_path, O_RDWR);
    if (fd < 0) {
        media_errorf(err, errlen, "cannot open %s: %s", tmp_path, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            media_errorf(err, errlen, "cannot read %s: %s", tmp_path, strerror(errno));
            goto out;
        }
        if (n == 0) break;
        crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    }
    /* Served to anyone holding a signed URL by a process that may run as another user. */
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        media_errorf(err, errlen, "cannot sync %s: %s", tmp_path, strerror(errno));
        goto out;
    }
    crypto_hash_sha256_final(&st, digest);
    hex_of(digest, sha_out);
    if (publish(data_dir, tmp_path, sha_out, err, errlen) != 0) goto out;
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (rc != 0) unlink(tmp_path);
    return rc;
}

int media_store_put_bytes(const char *data_dir, const void *bytes, size_t len, char *sha_out,
                          char *err, size_t errlen)
{
    char tmp[700];
    if (media_store_tmp_path(data_dir, ".part", tmp, sizeof tmp, err, errlen) != 0) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        media_errorf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    const unsigned char *p = bytes;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            media_errorf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    close(fd);
    return media_store_put_file(data_dir, tmp, sha_out, err, errlen);
}

int media_store_sweep_tmp(const char *data_dir, int older_than_s)
{
    char dir[600], path[900];
    snprintf(dir, sizeof dir, "%s/media/tmp", data_dir);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (now - st.st_mtime < older_than_s) continue;
        if (unlink(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}
