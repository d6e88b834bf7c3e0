/* media/avlog.c: FFmpeg log lines into log_msg (see avlog.h).
 *
 * The callback may run on any thread at once, so it keeps no state: each call formats into
 * its own buffers (FFmpeg's default callback uses a static prefix flag; we do not). */
#include "media/avlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "core/log.h"

static void route(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING) return;
    char line[1024], esc_line[1100], esc_name[64];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n < 2) return; /* the tail of a line FFmpeg logged in pieces ("." alone) */
    const char *component = "ffmpeg";
    if (avcl) {
        AVClass *cls = *(AVClass **)avcl;
        if (cls && cls->item_name) component = cls->item_name(avcl);
    }
    log_msg(level <= AV_LOG_ERROR ? LOG_ERROR : LOG_WARN, "ffmpeg",
            "\"component\":\"%s\",\"detail\":\"%s\"",
            log_escape(component, esc_name, sizeof esc_name),
            log_escape(line, esc_line, sizeof esc_line));
}

void media_avlog_install(void)
{
    av_log_set_callback(route);
}
