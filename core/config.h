/* core/config.h: flickd's typed configuration, read once at start from FLICK_* environment
 * variables (the only way to configure flickd). Not for run-time settings that operators
 * change through the API (limits, policy): those live in PostgreSQL. */
#ifndef FLICK_CORE_CONFIG_H
#define FLICK_CORE_CONFIG_H

#include <stddef.h>

typedef struct core_config {
    char listen_host[64];       /* FLICK_LISTEN host part, default 127.0.0.1 */
    int listen_port;            /* FLICK_LISTEN port part, default 8080 */
    char database_url[512];     /* FLICK_DATABASE_URL */
    char redis_url[256];        /* FLICK_REDIS_URL */
    char data_dir[512];         /* FLICK_DATA_DIR, default ./var/data */
    int threads;                /* FLICK_THREADS: event loops; default = cores */
    char engine[32];            /* FLICK_ENGINE: builtin | http */
    char engine_url[512];       /* FLICK_ENGINE_URL (http engine) */
    char engine_key[256];       /* FLICK_ENGINE_KEY (http engine) */
    int db_pool_size;           /* FLICK_DB_POOL: connections per event loop */
    int db_max_waiting;         /* FLICK_DB_MAX_WAITING: queued queries per loop before 503 */
    int db_timeout_ms;          /* FLICK_DB_TIMEOUT_MS */
    int cache;                  /* FLICK_CACHE: 1 keeps viewers and /v1/me in the process, 0 not */
    int redis_timeout_ms;       /* FLICK_REDIS_TIMEOUT_MS */
    int request_timeout_ms;     /* FLICK_REQUEST_TIMEOUT_MS: whole request (headers + body) */
    int idle_timeout_s;         /* FLICK_IDLE_TIMEOUT_S: keep-alive and write timeout */
    int max_conns_per_ip;       /* FLICK_MAX_CONNS_PER_IP */
    int hash_threads;           /* FLICK_HASH_THREADS: password hashing threads */
    int log_level;              /* FLICK_LOG_LEVEL (see log.h) */
    int login_limit_user;       /* FLICK_LOGIN_LIMIT_USER: login attempts per username per window */
    int login_limit_ip;         /* FLICK_LOGIN_LIMIT_IP: login attempts per client address per window */
    int login_window_s;         /* FLICK_LOGIN_WINDOW_S */
    unsigned char secret[32];   /* from FLICK_SECRET, else $FLICK_DATA_DIR/secret (made once):
                                   signs cursors and media URLs; equal across processes */
    unsigned char secret_previous[32]; /* from FLICK_SECRET_PREVIOUS: still accepted for media URLs */
    int has_secret_previous;
    /* The `work` role (generation jobs; see media/worker.h). */
    int workers;                /* FLICK_WORKERS: job threads per process, default 1 (0: none) */
    int job_lease_s;            /* FLICK_JOB_LEASE_S: a claimed job's lease, renewed while held */
    int job_max_attempts;       /* FLICK_JOB_MAX_ATTEMPTS: engine tries before `failed` */
    int job_backoff_ms;         /* FLICK_JOB_BACKOFF_MS: first retry delay; doubles per attempt */
    int job_poll_ms;            /* FLICK_JOB_POLL_MS: how often an idle worker looks for jobs */
    int engine_timeout_ms;      /* FLICK_ENGINE_TIMEOUT_MS: one engine call (a download: no byte
                                   for this long) */
    int engine_poll_ms;         /* FLICK_ENGINE_POLL_MS: first wait between status polls */
    int engine_job_timeout_s;   /* FLICK_ENGINE_JOB_TIMEOUT_S: how long one claim waits for the
                                   engine to finish before counting an engine_timeout attempt */
    int max_video_bytes;        /* FLICK_MAX_VIDEO_BYTES: largest clip accepted from an engine */
    char engine_model_standard[64]; /* FLICK_ENGINE_MODEL_STANDARD: http engine's model name
                                       for `standard` generations */
    char engine_model_pro[64];  /* FLICK_ENGINE_MODEL_PRO: likewise for `pro` */
} core_config;

/* Fills `c` from the environment over the defaults. Returns 0, or -1 with a sentence
 * naming the bad variable in err. */
int core_config_load(core_config *c, char *err, size_t errlen);

/* mkdir -p: 0, or -1 with errno. */
int mkdir_p(const char *dir);

#endif
