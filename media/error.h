/* media/error.h: how media/ functions fill their caller's error buffer.
 *
 * Every media_ call that can fail takes (char *err, size_t errlen) and, on -1, leaves one
 * short factual sentence there (PostgreSQL style: no trailing period, no stack). Keeping the
 * formatting here means FFmpeg's error codes are turned into words in one place. */
#ifndef FLICK_MEDIA_ERROR_H
#define FLICK_MEDIA_ERROR_H

#include <stddef.h>

/* printf into err (always NUL-terminated, truncated to fit). err NULL or errlen 0: no-op. */
void media_errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<what>: <FFmpeg's text for averr>" into err, as media_errorf. */
void media_error_av(char *err, size_t errlen, const char *what, int averr);

#endif
