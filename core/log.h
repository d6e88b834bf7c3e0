/* core/log.h: JSON-lines logging to stderr, one object per line.
 *
 * Every line has "ts", "level" and "msg"; callers add fields as printf-formatted JSON
 * members. Safe from any thread. Not a place for request bodies or secrets. */
#ifndef FLICK_CORE_LOG_H
#define FLICK_CORE_LOG_H

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Lines below `level` are dropped (FLICK_LOG_LEVEL: debug|info|warn|error). */
void log_set_level(log_level level);
log_level log_parse_level(const char *name);

/* log_msg(LOG_INFO, "request", "\"id\":\"%s\",\"status\":%d", id, status): `fields` is a
 * printf format for extra JSON members (without braces), or NULL. String values that may
 * hold quotes must go through log_escape first. */
void log_msg(log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Escapes `s` for a JSON string into buf (always NUL-terminated, truncated to fit). */
const char *log_escape(const char *s, char *buf, unsigned len);

#endif
