-- Accounts: users, sessions (bearer tokens, stored only as SHA-256), invites, follows,
-- cameo consent, run-time settings, and the audit trail of privileged actions.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_]{3,30}$'),
    display_name  text NOT NULL DEFAULT '',
    bio           text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
    tier          text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro')),
    birth_year    int  NOT NULL,
    banned        boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,          -- SHA-256 of the bearer token
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE invites (
    code        text PRIMARY KEY,
    created_by  bigint REFERENCES users(id) ON DELETE SET NULL,  -- NULL: minted by an operator
    used_by     bigint REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz
);
CREATE INDEX invites_created_by ON invites(created_by, created_at DESC);

CREATE TABLE follows (
    follower_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    followee_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee ON follows(followee_id, follower_id);

CREATE TABLE cameos (
    user_id     bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    permission  text NOT NULL CHECK (permission IN ('only_me', 'approved', 'mutuals', 'everyone')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Operator-tunable settings (GET/PUT /v1/admin/limits): one row per name.
CREATE TABLE settings (
    name   text PRIMARY KEY,
    value  bigint NOT NULL
);
INSERT INTO settings (name, value) VALUES
    ('daily_generations_free', 10),
    ('daily_generations_pro', 50),
    ('invites_per_user', 5);

-- Posts as far as accounts need them (a user's post list and counts); the generation
-- pipeline extends this table.
CREATE TABLE posts (
    id            bigserial PRIMARY KEY,
    author_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'removed', 'hidden')),
    visibility    text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'followers')),
    restricted    boolean NOT NULL DEFAULT false,
    caption       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX posts_author_published ON posts(author_id, published_at DESC, id DESC) WHERE status = 'published';

-- Generation requests, as far as quotas need them; the pipeline extends this table.
CREATE TABLE generations (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generations_user_day ON generations(user_id, created_at DESC);

-- Every decision and role change, never edited or deleted.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_id     bigint REFERENCES users(id),
    action       text NOT NULL,
    case_id      bigint,
    target_type  text NOT NULL,
    target_id    text NOT NULL,
    note         text NOT NULL DEFAULT ''
);
CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log entries are never changed';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();
