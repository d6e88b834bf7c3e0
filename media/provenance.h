/* media/provenance.h: the tag that ties a delivered MP4 to its generation: the container's
 * `comment` metadata reads "flick-provenance:<generation id>". The builtin renderer writes it
 * while encoding; a clip from another engine gets it by a remux (no re-encode).
 *
 * Blocking file work for worker threads. Reads engine output through media/input.h's
 * limits. The provenance record itself (hashes, post) is written by the worker. */
#ifndef FLICK_MEDIA_PROVENANCE_H
#define FLICK_MEDIA_PROVENANCE_H

#include <stddef.h>

#define MEDIA_PROVENANCE_PREFIX "flick-provenance:"

/* "flick-provenance:<generation_id>" into buf. Returns buf. */
char *media_provenance_comment(long long generation_id, char *buf, size_t len);

/* The `comment` tag of the MP4 at path into buf ("" when it has none). Returns 0, or -1 with
 * err when the file cannot be read as an MP4. */
int media_provenance_read(const char *path, char *buf, size_t len, char *err, size_t errlen);

/* Copies the audio and video streams of the MP4 at src into a new faststart MP4 at dst whose
 * only metadata is comment (packets copied as they are, so the pictures are bit-identical).
 * dst is removed on failure. Returns 0, or -1 with err. */
int media_provenance_stamp(const char *src, const char *dst, const char *comment,
                           char *err, size_t errlen);

#endif
