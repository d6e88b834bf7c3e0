/* media/error.c: error-buffer formatting for media/ (see error.h). */
#include "media/error.h"

#include <stdarg.h>
#include <stdio.h>

#include <libavutil/error.h>

void media_errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void media_error_av(char *err, size_t errlen, const char *what, int averr)
{
    char text[AV_ERROR_MAX_STRING_SIZE];
    if (av_strerror(averr, text, sizeof text) < 0)
        snprintf(text, sizeof text, "error %d", averr);
    media_errorf(err, errlen, "%s: %s", what, text);
}
