/* media/store.h: where media bytes live. Files are content-addressed by SHA-256 under
 * $FLICK_DATA_DIR/media/aa/bb/<sha256>, written atomically (temporary file + rename), so a
 * reader never sees half a file and storing the same bytes twice is harmless. This is the
 * filesystem backend; an object store would sit behind the same verbs. Blocking: call from
 * worker threads, never from an event loop (serving opens files, which is cheap). */
#ifndef FLICK_MEDIA_STORE_H
#define FLICK_MEDIA_STORE_H

#include <stddef.h>

#define MEDIA_SHA256_HEX 65     /* 64 hex digits and a NUL */

/* Moves the file at `tmp_path` (which must be on the same filesystem as data_dir, e.g. made
 * by media_store_tmp_path) into the store, fsynced, under its SHA-256, which is written to
 * sha_out. Returns 0, or -1 with err. The temporary file is gone either way. */
int media_store_put_file(const char *data_dir, const char *tmp_path, char *sha_out,
                         char *err, size_t errlen);
/* Stores bytes[0..len) the same way. */
int media_store_put_bytes(const char *data_dir, const void *bytes, size_t len, char *sha_out,
                          char *err, size_t errlen);
/* The path of a stored object (whether or not it exists) into out. */
void media_store_path(const char *data_dir, const char *sha256, char *out, size_t outlen);
/* A fresh temporary path inside the store's folder (created if needed), for writing a file
 * that media_store_put_file will then take. Returns 0 or -1 with err. */
int media_store_tmp_path(const char *data_dir, const char *suffix, char *out, size_t outlen,
                         char *err, size_t errlen);
/* SHA-256 of a file as hex. Returns 0 or -1 with err. */
int media_sha256_file(const char *path, char *sha_out, char *err, size_t errlen);
/* Removes temporary files older than `older_than_s` seconds: what a process killed in the
 * middle of a write left behind. Returns how many were removed. */
int media_store_sweep_tmp(const char *data_dir, int older_than_s);

#endif
