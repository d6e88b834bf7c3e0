/* media/probe.h: what a video file is (container, codec, size, length) and whether it is
 * acceptable as a generated clip.
 *
 * Runs on worker threads against bytes an engine sent us, so it reads through media/input.h's
 * limits. It does not decode pictures (thumb.h does). */
#ifndef FLICK_MEDIA_PROBE_H
#define FLICK_MEDIA_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* A plain value filled by media_probe_file; no pointers, nothing to free. */
typedef struct media_probe_info {
    char container[64];   /* libavformat demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char brand[8];        /* MP4 major brand ("isom", "qt  "), "" if absent */
    char video_codec[32]; /* codec name of the best video stream ("h264"), "" if none */
    int width, height;    /* coded picture size of that stream, 0 if none */
    int64_t frames;       /* frame count from the container's index, 0 if unknown */
    int64_t duration_ms;  /* container duration (else the video stream's), 0 if unknown */
    int has_audio;        /* 1 if there is at least one audio stream */
    int64_t size_bytes;   /* file size on disk */
    int truncated;        /* 1 if the index places samples past the end of the file (a cut
                           * download whose header survived) */
} media_probe_info;

/* Reads the headers of the file at `path` into *out. Safe on garbage, truncated or hostile
 * input (returns -1). Returns 0, or -1 with err. */
int media_probe_file(const char *path, media_probe_info *out, char *err, size_t errlen);

/* Accepts a clip only if: container of the MP4/MOV family, not truncated, video codec H.264
 * (the one codec every phone and browser plays from an MP4, so nothing else is accepted),
 * duration within 1 s of `expected_seconds`, 0 < size <= max_bytes, each side 64..4096
 * pixels and even.
 * Returns 0, or -1 with err naming the first rule broken. */
int media_probe_check(const media_probe_info *info, int expected_seconds, int64_t max_bytes,
                      char *err, size_t errlen);

#endif
