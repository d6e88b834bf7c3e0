/* media/input.h: opening video files that came from outside (an engine, an upload) with
 * libavformat, under limits that a hostile file cannot talk its way past.
 *
 * Shared by probe.c and thumb.c so that both parse untrusted bytes the same careful way.
 * Not for files we wrote ourselves with known contents (render.c does not need it). */
#ifndef FLICK_MEDIA_INPUT_H
#define FLICK_MEDIA_INPUT_H

#include <stddef.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

/* Opens `path` (a regular file, never a FIFO or device, never a URL) with the MP4/MOV
 * demuxer only, a bounded probe size and analysis duration, at most a few streams, and an
 * I/O deadline of `timeout_ms` from now, then reads stream info. Returns 0 and *out, owned by
 * the caller and released with media_input_close; or -1 with err. */
int media_input_open(const char *path, int timeout_ms, AVFormatContext **out,
                     char *err, size_t errlen);

/* Closes what media_input_open opened and sets *fmt to NULL. NULL or *fmt NULL: no-op. */
void media_input_close(AVFormatContext **fmt);

/* Opens a single-threaded decoder for the best video stream of fmt (borrowed), with a pixel
 * limit. Returns 0 with *stream_index and *out (owned by the caller: avcodec_free_context),
 * or -1 with err (no video stream, no decoder). */
int media_input_open_video_decoder(AVFormatContext *fmt, int *stream_index,
                                   AVCodecContext **out, char *err, size_t errlen);

/* Largest frame area a decoder here will allocate; probe_check's limit is inside it. */
#define MEDIA_INPUT_MAX_PIXELS (4096 * 4096)

#endif
