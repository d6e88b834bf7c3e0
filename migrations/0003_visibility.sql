-- Who may see a post, the daily generation allowance, and the `generation` object: written
-- once here in SQL so every query (pages, lists, media, provenance) applies the same rules.

-- Cameo consent: a user's approval list, and per-edge revocation (DELETE /v1/me/cameo, or
-- the cameo owner taking a post down).
CREATE TABLE cameo_approvals (
    owner_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, user_id)
);
ALTER TABLE post_cameos ADD COLUMN revoked boolean NOT NULL DEFAULT false;

-- Can `viewer` (0: anonymous) open post `p`? Authors always; moderators and admins see
-- removed and hidden posts; drafts only their author; a post featuring a revoked cameo
-- only its author and that cameo's owner; followers-only posts their author's followers;
-- restricted posts never minors.
CREATE FUNCTION post_visible(p posts, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN p.author_id = viewer THEN true
        WHEN EXISTS (SELECT 1 FROM post_cameos pc WHERE pc.post_id = p.id AND pc.revoked
                     AND pc.user_id <> viewer) THEN false
        WHEN EXISTS (SELECT 1 FROM users a WHERE a.id = p.author_id AND a.banned)
             AND viewer_role NOT IN ('moderator', 'admin') THEN false
        WHEN p.status = 'draft' THEN false
        WHEN p.status IN ('removed', 'hidden') THEN viewer_role IN ('moderator', 'admin')
        WHEN p.restricted AND viewer_minor THEN false
        WHEN p.visibility = 'followers' THEN
             viewer_role IN ('moderator', 'admin') OR
             EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = viewer AND f.followee_id = p.author_id)
        ELSE true
    END
$$;

-- Generations per UTC day for a tier: fixed limits, or (quota_auto = 1) the engine's daily
-- capacity in clip-seconds shared among the users active in the last day, pro users
-- counting pro_weight times, at 8-second clips, never below the tier's floor.
CREATE FUNCTION daily_generation_limit(tier text) RETURNS bigint LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT
        max(value) FILTER (WHERE name = 'quota_auto') AS auto,
        max(value) FILTER (WHERE name = 'daily_generations_free') AS fixed_free,
        max(value) FILTER (WHERE name = 'daily_generations_pro') AS fixed_pro,
        max(value) FILTER (WHERE name = 'engine_capacity_seconds') AS capacity,
        max(value) FILTER (WHERE name = 'quota_floor_free') AS floor_free,
        max(value) FILTER (WHERE name = 'quota_floor_pro') AS floor_pro,
        max(value) FILTER (WHERE name = 'pro_weight') AS pro_weight
        FROM settings),
    active AS (SELECT
        count(*) FILTER (WHERE tier = 'free') AS free,
        count(*) FILTER (WHERE tier = 'pro') AS pro
        FROM users WHERE last_active_at > now() - interval '1 day' AND NOT banned),
    share AS (SELECT s.capacity::numeric / 8 /
                     GREATEST(1, active.free + s.pro_weight * active.pro) AS per_user
              FROM s, active)
    SELECT CASE
        WHEN s.auto = 0 THEN CASE tier WHEN 'pro' THEN s.fixed_pro ELSE s.fixed_free END
        WHEN tier = 'pro' THEN GREATEST(s.floor_pro, floor(share.per_user * s.pro_weight)::bigint)
        ELSE GREATEST(s.floor_free, floor(share.per_user)::bigint)
    END
    FROM s, share
$$;

CREATE FUNCTION api_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- The `generation` object of API.md.
CREATE FUNCTION generation_json(g generations) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', g.id::text,
        'status', g.status,
        'progress', g.progress,
        'prompt', g.prompt,
        'model', g.model,
        'seconds', g.seconds,
        'aspect', g.aspect,
        'cameos', COALESCE((SELECT json_agg(u.username ORDER BY array_position(g.cameo_ids, u.id))
                            FROM users u WHERE u.id = ANY (g.cameo_ids)), '[]'::json),
        'remix_of', g.remix_of::text,
        'error', CASE WHEN g.error_code IS NULL THEN NULL
                      ELSE json_build_object('code', g.error_code, 'message', COALESCE(g.error_message, '')) END,
        'post_id', g.post_id::text,
        'created_at', api_time(g.created_at),
        'finished_at', api_time(g.finished_at))
$$;
