/* media/avlog.h: FFmpeg's own log lines, routed into flick's JSON-lines log.
 *
 * FFmpeg prints to stderr in its own format by default, which would break the one-JSON-
 * object-per-line log. Call once at start-up, before any thread uses FFmpeg. */
#ifndef FLICK_MEDIA_AVLOG_H
#define FLICK_MEDIA_AVLOG_H

/* Sends FFmpeg warnings and errors to log_msg (msg "ffmpeg", fields "component" and
 * "detail") and drops its chatter (info, verbose, debug). Process-wide; idempotent. */
void media_avlog_install(void);

#endif
