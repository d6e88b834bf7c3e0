/* core/config.c: FLICK_* environment variables into a core_config (see config.h). */
#include "core/config.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mkdir_p(const char *dir)
{
    char buf[600];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int copy_env(const char *name, const char *def, char *dst, size_t len,
                    char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) v = def;
    if (strlen(v) >= len) {
        snprintf(err, errlen, "%s is too long (at most %zu bytes)", name, len - 1);
        return -1;
    }
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int int_env(const char *name, int def, int min, int max, int *dst,
                   char *err, size_t errlen)
{
    const char *v = getenv(name);
    if (!v || !*v) { *dst = def; return 0; }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < min || n > max) {
        snprintf(err, errlen, "%s must be a whole number from %d to %d", name, min, max);
        return -1;
    }
    *dst = (int)n;
    return 0;
}

/* The secret signs what clients hold (cursors, media URLs), so every process of one
 * deployment must share it: FLICK_SECRET, or a file made once under the data directory. */
static int load_secret(core_config *c, char *err, size_t errlen)
{
    const char *prev = getenv("FLICK_SECRET_PREVIOUS");
    if (prev && *prev) {
        crypto_generichash(c->secret_previous, sizeof c->secret_previous,
                           (const unsigned char *)prev, strlen(prev), NULL, 0);
        c->has_secret_previous = 1;
    }
    const char *env = getenv("FLICK_SECRET");
    if (env && *env) {
        crypto_generichash(c->secret, sizeof c->secret, (const unsigned char *)env, strlen(env), NULL, 0);
        return 0;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/secret", c->data_dir);
    unsigned char raw[32];
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t n = fread(raw, 1, sizeof raw, f);
        fclose(f);
        if (n == sizeof raw) {
            memcpy(c->secret, raw, sizeof raw);
            return 0;
        }
    }
    if (mkdir_p(c->data_dir) != 0) {
        snprintf(err, errlen, "cannot create FLICK_DATA_DIR %s: %s", c->data_dir, strerror(errno));
        return -1;
    }
    randombytes_buf(raw, sizeof raw);
    char tmp[640];
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, raw, sizeof raw) != (ssize_t)sizeof raw || close(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    /* link() fails if another process made the file first; then its secret wins. */
    if (link(tmp, path) != 0 && errno != EEXIST) {
        unlink(tmp);
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    unlink(tmp);
    f = fopen(path, "rb");
    if (!f || fread(c->secret, 1, sizeof c->secret, f) != sizeof c->secret) {
        if (f) fclose(f);
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    fclose(f);
    return 0;
}

int core_config_load(core_config *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;

    char listen[128];
    if (copy_env("FLICK_LISTEN", "127.0.0.1:8080", listen, sizeof listen, err, errlen)) return -1;
    char *colon = strrchr(listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || *end || port < 0 || port > 65535 || colon == listen ||
        (size_t)(colon - listen) >= sizeof c->listen_host) {
        snprintf(err, errlen, "FLICK_LISTEN must be host:port, e.g. 127.0.0.1:8080");
        return -1;
    }
    memcpy(c->listen_host, listen, (size_t)(colon - listen));
    c->listen_port = (int)port;

    if (copy_env("FLICK_DATABASE_URL", "postgresql://flick@127.0.0.1:15432/flick",
                 c->database_url, sizeof c->database_url, err, errlen) ||
        copy_env("FLICK_REDIS_URL", "redis://127.0.0.1:16379/0",
                 c->redis_url, sizeof c->redis_url, err, errlen) ||
        copy_env("FLICK_DATA_DIR", "./var/data", c->data_dir, sizeof c->data_dir, err, errlen) ||
        copy_env("FLICK_ENGINE", "builtin", c->engine, sizeof c->engine, err, errlen) ||
        copy_env("FLICK_ENGINE_URL", "", c->engine_url, sizeof c->engine_url, err, errlen) ||
        copy_env("FLICK_ENGINE_KEY", "", c->engine_key, sizeof c->engine_key, err, errlen) ||
        int_env("FLICK_THREADS", (int)cores, 1, 256, &c->threads, err, errlen) ||
        int_env("FLICK_DB_POOL", 8, 1, 256, &c->db_pool_size, err, errlen) ||
        int_env("FLICK_DB_MAX_WAITING", 1024, 0, 1000000, &c->db_max_waiting, err, errlen) ||
        int_env("FLICK_DB_TIMEOUT_MS", 5000, 10, 600000, &c->db_timeout_ms, err, errlen) ||
        int_env("FLICK_CACHE", 1, 0, 1, &c->cache, err, errlen) ||
        int_env("FLICK_REDIS_TIMEOUT_MS", 250, 10, 60000, &c->redis_timeout_ms, err, errlen) ||
        int_env("FLICK_REQUEST_TIMEOUT_MS", 10000, 100, 600000, &c->request_timeout_ms, err, errlen) ||
        int_env("FLICK_IDLE_TIMEOUT_S", 30, 1, 3600, &c->idle_timeout_s, err, errlen) ||
        int_env("FLICK_MAX_CONNS_PER_IP", 256, 1, 1000000, &c->max_conns_per_ip, err, errlen) ||
        int_env("FLICK_HASH_THREADS", (int)cores, 1, 64, &c->hash_threads, err, errlen) ||
        int_env("FLICK_LOGIN_LIMIT_USER", 10, 1, 1000000, &c->login_limit_user, err, errlen) ||
        int_env("FLICK_LOGIN_LIMIT_IP", 100, 1, 100000000, &c->login_limit_ip, err, errlen) ||
        int_env("FLICK_LOGIN_WINDOW_S", 300, 1, 86400, &c->login_window_s, err, errlen))
        return -1;
    if (int_env("FLICK_WORKERS", 1, 0, 64, &c->workers, err, errlen) ||
        int_env("FLICK_JOB_LEASE_S", 30, 2, 3600, &c->job_lease_s, err, errlen) ||
        int_env("FLICK_JOB_MAX_ATTEMPTS", 4, 1, 100, &c->job_max_attempts, err, errlen) ||
        int_env("FLICK_JOB_BACKOFF_MS", 2000, 1, 3600000, &c->job_backoff_ms, err, errlen) ||
        int_env("FLICK_JOB_POLL_MS", 500, 10, 60000, &c->job_poll_ms, err, errlen) ||
        int_env("FLICK_ENGINE_TIMEOUT_MS", 30000, 100, 600000, &c->engine_timeout_ms, err, errlen) ||
        int_env("FLICK_ENGINE_POLL_MS", 1000, 10, 60000, &c->engine_poll_ms, err, errlen) ||
        int_env("FLICK_ENGINE_JOB_TIMEOUT_S", 900, 1, 86400, &c->engine_job_timeout_s, err, errlen) ||
        int_env("FLICK_MAX_VIDEO_BYTES", 64 << 20, 1024, 1 << 30, &c->max_video_bytes, err, errlen) ||
        copy_env("FLICK_ENGINE_MODEL_STANDARD", "sora-2", c->engine_model_standard,
                 sizeof c->engine_model_standard, err, errlen) ||
        copy_env("FLICK_ENGINE_MODEL_PRO", "sora-2-pro", c->engine_model_pro,
                 sizeof c->engine_model_pro, err, errlen))
        return -1;

    if (strcmp(c->engine, "builtin") != 0 && strcmp(c->engine, "http") != 0) {
        snprintf(err, errlen, "FLICK_ENGINE must be builtin or http");
        return -1;
    }
    c->log_level = log_parse_level(getenv("FLICK_LOG_LEVEL"));
    return load_secret(c, err, errlen);
}
