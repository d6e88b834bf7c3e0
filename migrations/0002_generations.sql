-- The generation pipeline: durable jobs, drafts and posts with their media, cameo edges,
-- provenance, idempotency records, the prompt policy and quota settings, notifications.

-- Users seen in the last day size the automatic quotas.
ALTER TABLE users ADD COLUMN last_active_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX users_last_active ON users(last_active_at);

ALTER TABLE generations
    ADD COLUMN prompt           text NOT NULL DEFAULT '',
    ADD COLUMN model            text NOT NULL DEFAULT 'standard' CHECK (model IN ('standard', 'pro')),
    ADD COLUMN seconds          int  NOT NULL DEFAULT 8 CHECK (seconds IN (4, 8, 12)),
    ADD COLUMN aspect           text NOT NULL DEFAULT '9:16' CHECK (aspect IN ('9:16', '16:9', '1:1')),
    ADD COLUMN cameo_ids        bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN remix_of         bigint,
    ADD COLUMN progress         int  NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    ADD COLUMN error_code       text,
    ADD COLUMN error_message    text,
    ADD COLUMN post_id          bigint,
    ADD COLUMN quota_day        date NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
    ADD COLUMN finished_at      timestamptz,
    -- The job: which engine, the engine's own id once submitted, attempts and backoff,
    -- and the lease of the worker that holds it (NULL: nobody).
    ADD COLUMN engine           text NOT NULL DEFAULT 'builtin',
    ADD COLUMN engine_job_id    text,
    ADD COLUMN attempts         int  NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_owner      text,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN video_sha256     text,      -- set once the video is stored: the store step is done
    ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now();
CREATE INDEX generations_claimable ON generations(next_attempt_at) WHERE status IN ('queued', 'running');
CREATE INDEX generations_quota ON generations(user_id, quota_day) WHERE status NOT IN ('failed', 'canceled');

ALTER TABLE posts
    ADD COLUMN generation_id    bigint UNIQUE REFERENCES generations(id),  -- one draft per job
    ADD COLUMN prompt           text NOT NULL DEFAULT '',
    ADD COLUMN model            text NOT NULL DEFAULT 'standard',
    ADD COLUMN seconds          int  NOT NULL DEFAULT 8,
    ADD COLUMN aspect           text NOT NULL DEFAULT '9:16',
    ADD COLUMN allow_remix      boolean NOT NULL DEFAULT true,
    ADD COLUMN remix_of         bigint REFERENCES posts(id),
    ADD COLUMN remix_root       bigint REFERENCES posts(id),
    ADD COLUMN remix_depth      int NOT NULL DEFAULT 0,
    ADD COLUMN views_count      bigint NOT NULL DEFAULT 0,
    ADD COLUMN likes_count      bigint NOT NULL DEFAULT 0,
    ADD COLUMN remixes_count    bigint NOT NULL DEFAULT 0,
    ADD COLUMN shares_count     bigint NOT NULL DEFAULT 0;
ALTER TABLE generations ADD CONSTRAINT generations_post FOREIGN KEY (post_id) REFERENCES posts(id);
ALTER TABLE generations ADD CONSTRAINT generations_remix FOREIGN KEY (remix_of) REFERENCES posts(id);
CREATE INDEX posts_author_drafts ON posts(author_id, created_at DESC, id DESC) WHERE status = 'draft';
CREATE INDEX posts_remix_of ON posts(remix_of) WHERE remix_of IS NOT NULL;

-- Who appears in a post (the cameo graph).
CREATE TABLE post_cameos (
    post_id  bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_cameos_user ON post_cameos(user_id);

-- A stored file, content-addressed by SHA-256, belonging to one post; the id is what
-- /v1/media/{id} names, so several posts sharing bytes still have their own visibility.
CREATE TABLE media (
    id           bigserial PRIMARY KEY,
    post_id      bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('video', 'poster', 'preview')),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    mime         text NOT NULL,
    bytes        bigint NOT NULL,
    width        int NOT NULL,
    height       int NOT NULL,
    duration_ms  int,
    UNIQUE (post_id, kind, width)
);
CREATE INDEX media_post ON media(post_id);

CREATE TABLE provenance (
    sha256         text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    post_id        bigint REFERENCES posts(id) ON DELETE SET NULL,
    generation_id  bigint NOT NULL UNIQUE REFERENCES generations(id),
    engine         text NOT NULL,
    model          text NOT NULL,
    phash          bigint NOT NULL,     -- 64 bits, shown as 16 hex digits
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Idempotency-Key records: the first response, replayed for 24 h.
CREATE TABLE idempotency_keys (
    user_id        bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key            text NOT NULL,
    request_hash   text NOT NULL,       -- SHA-256 of the request body
    generation_id  bigint REFERENCES generations(id),
    status         int,                 -- NULL while the first request is in flight
    response       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- The prompt content policy (GET/PUT /v1/admin/policy).
CREATE TABLE policy_terms (
    term  text PRIMARY KEY
);

-- Automatic quotas: off (0) by default; capacity in clip-seconds per day; floors.
INSERT INTO settings (name, value) VALUES
    ('quota_auto', 0),
    ('engine_capacity_seconds', 36000),
    ('quota_floor_free', 1),
    ('quota_floor_pro', 5),
    ('pro_weight', 5),
    ('policy_seeded', 0);

CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type IN ('cameo_used', 'remixed', 'followed', 'liked', 'moderation')),
    actor_id    bigint REFERENCES users(id) ON DELETE CASCADE,
    post_id     bigint REFERENCES posts(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read        boolean NOT NULL DEFAULT false,
    UNIQUE (user_id, type, actor_id, post_id)
);
CREATE INDEX notifications_user ON notifications(user_id, id DESC);
