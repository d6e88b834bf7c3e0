-- Engagement counters that stay exact, the order of a post's remixes, and the
-- `notification` object with the rule of which notifications a recipient is shown.

-- Who has viewed or shared a post, once per person: `counts.views` is the number of people
-- who viewed the post (a `view` or a `complete` event: a complete implies a view, and a
-- view followed by a complete, or any repeat, adds nothing), `counts.shares` the number of
-- people who shared it. POST /v1/events inserts here with ON CONFLICT DO NOTHING and adds
-- what was inserted to posts.views_count / posts.shares_count in the same transaction, so
-- the counters equal the number of rows here at every commit, however many requests race.
-- The rank role reads the `events` log for its signals; it does not write these counters.
CREATE TABLE post_reach (
    post_id  bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    kind     text NOT NULL CHECK (kind IN ('view', 'share')),
    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, kind, user_id)
);

-- One `followed` notification per follower and followee: a repeated follow, or follow /
-- unfollow / follow within a day of the notification, adds none (POST .../follow).
CREATE UNIQUE INDEX notifications_followed_once ON notifications(user_id, actor_id)
    WHERE type = 'followed';

-- "Most engaging first" for GET /v1/posts/{id}/remixes, in tenths so it stays an integer:
-- likes + 2 * remixes + shares + views / 10.
CREATE FUNCTION post_engagement_score(p posts) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT p.likes_count * 10 + p.remixes_count * 20 + p.shares_count * 10 + p.views_count
$$;

-- Whether `viewer` is shown notification `n`: never one whose actor is banned (except a
-- moderation decision, which comes from staff); `liked` and `remixed` only while the viewer
-- can open the post; `cameo_used` while the post still features the viewer and is not
-- removed (the drafts of others that GET /v1/me/cameo/appearances lists); `moderation`
-- always, even when the post it is about is removed. Hidden ones are not deleted: they
-- come back if the reason goes away (a post made visible again).
CREATE FUNCTION notification_visible(n notifications, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN n.type = 'moderation' THEN true
        WHEN EXISTS (SELECT 1 FROM users a WHERE a.id = n.actor_id AND a.banned) THEN false
        WHEN n.post_id IS NULL THEN true
        WHEN n.type = 'cameo_used' THEN EXISTS (
             SELECT 1 FROM post_cameos pc JOIN posts p ON p.id = pc.post_id
             WHERE pc.post_id = n.post_id AND pc.user_id = viewer AND p.status <> 'removed')
        ELSE EXISTS (SELECT 1 FROM posts p WHERE p.id = n.post_id
                     AND post_visible(p, viewer, viewer_minor, viewer_role))
    END
$$;

-- The `notification` object of API.md.
CREATE FUNCTION notification_json(n notifications) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', n.id::text,
        'type', n.type,
        'actor', (SELECT user_json(a) FROM users a WHERE a.id = n.actor_id),
        'post_id', n.post_id::text,
        'created_at', api_time(n.created_at),
        'read', n.read)
$$;
