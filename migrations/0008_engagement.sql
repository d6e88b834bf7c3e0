-- Engagement and moderation: likes, the event log that ranking consumes, feed preferences,
-- reports grouped into moderation cases, and the `post` object as one viewer sees it.

CREATE TABLE likes (
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    post_id     bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX likes_post ON likes(post_id, created_at DESC);

-- Engagement events as clients report them (POST /v1/events), append-only. Only events on
-- posts the viewer could see are stored. The rank role reads them in id order and folds
-- them into the posts' counters and the scores it keeps in Redis; a viewer's own events
-- (completed, not interested) steer that viewer's next page.
CREATE TABLE events (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    post_id      bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author_id    bigint NOT NULL,          -- the post's author, so author-level signals need no join
    type         text NOT NULL CHECK (type IN ('view', 'complete', 'skip', 'share', 'not_interested')),
    watch_ms     int CHECK (watch_ms >= 0),
    at           timestamptz NOT NULL,     -- when the client says it happened (clamped to now)
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_viewer ON events(user_id, type, post_id);
CREATE INDEX events_post ON events(post_id, type);

-- How far the rank role has folded the event log into counters (one row per consumer).
CREATE TABLE event_offsets (
    consumer  text PRIMARY KEY,
    last_id   bigint NOT NULL DEFAULT 0
);

-- GET/PUT /v1/me/feed-preferences: whole-word terms that steer a viewer's For You.
CREATE TABLE feed_preferences (
    user_id     bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    more        text[] NOT NULL DEFAULT '{}',
    less        text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Moderation: reports on a post gather into one case until a moderator decides it; a later
-- report on the same post opens a new case.
CREATE TABLE moderation_cases (
    id                bigserial PRIMARY KEY,
    post_id           bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'decided')),
    claimed_by        bigint REFERENCES users(id),   -- a claim holds while claim_expires_at > now()
    claim_expires_at  timestamptz,
    action            text CHECK (action IN ('dismiss', 'remove', 'restrict', 'ban_author')),
    note              text,
    decided_by        bigint REFERENCES users(id),
    decided_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX moderation_cases_one_open ON moderation_cases(post_id) WHERE status = 'open';

CREATE TABLE reports (
    id           bigserial PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES moderation_cases(id) ON DELETE CASCADE,
    post_id      bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    reporter_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason       text NOT NULL CHECK (reason IN ('sexual', 'violence', 'harassment', 'likeness',
                                                 'minor_safety', 'spam', 'other')),
    note         text NOT NULL DEFAULT '',
    open         boolean NOT NULL DEFAULT true,  -- false once its case is decided
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX reports_one_open ON reports(post_id, reporter_id) WHERE open;
CREATE INDEX reports_case ON reports(case_id);

-- post_json() plus what depends on who is looking: {viewer: {liked}}. Every route that
-- returns posts to a signed-in user builds them with this.
CREATE FUNCTION post_json_for(p posts, viewer bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT post_json(p) || jsonb_build_object('viewer', jsonb_build_object(
        'liked', EXISTS (SELECT 1 FROM likes l WHERE l.user_id = viewer AND l.post_id = p.id)))
$$;
