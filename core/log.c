/* core/log.c: JSON-lines logger (see log.h). One write(2) per line keeps lines whole when
 * several threads log at once. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static volatile log_level min_level = LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(log_level level) { min_level = level; }

log_level log_parse_level(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0) return (log_level)i;
    return LOG_INFO;
}

const char *log_escape(const char *s, char *buf, unsigned len)
{
    unsigned o = 0;
    for (; s && *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { buf[o++] = '\\'; buf[o++] = (char)c; }
        else if (c < 0x20) o += (unsigned)snprintf(buf + o, len - o, "\\u%04x", c);
        else buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return buf;
}

void log_msg(log_level level, const char *msg, const char *fields, ...)
{
    if (level < min_level) return;
    char line[4096];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char esc[512];
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
                     log_escape(msg, esc, sizeof esc));
    if (fields && n < (int)sizeof line - 2) {
        line[n++] = ',';
        va_list ap;
        va_start(ap, fields);
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
        n = m < 0 ? n - 1 : n + m;
    }
    if (n > (int)sizeof line - 3) n = (int)sizeof line - 3;
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
