-- Which posts that feature a user that user is shown (GET /v1/me/cameo/appearances and
-- `cameo_used` notifications): the drafts of others (API.md: "drafts of others included"),
-- and otherwise exactly what post_visible() lets the user open, so a followers-only post
-- of someone the user does not follow, a hidden post, a post with another person's revoked
-- cameo, or a restricted post for a minor is not listed. Removed posts never are.
CREATE FUNCTION appearance_visible(p posts, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p.status <> 'removed' AND (
        post_visible(p, viewer, viewer_minor, viewer_role)
        OR (p.status = 'draft'
            AND NOT EXISTS (SELECT 1 FROM post_cameos pc WHERE pc.post_id = p.id AND pc.revoked
                            AND pc.user_id <> viewer)
            AND NOT EXISTS (SELECT 1 FROM users a WHERE a.id = p.author_id AND a.banned)))
$$;

-- notification_visible() of 0009, with `cameo_used` following appearance_visible().
CREATE OR REPLACE FUNCTION notification_visible(n notifications, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN n.type = 'moderation' THEN true
        WHEN EXISTS (SELECT 1 FROM users a WHERE a.id = n.actor_id AND a.banned) THEN false
        WHEN n.post_id IS NULL THEN true
        WHEN n.type = 'cameo_used' THEN EXISTS (
             SELECT 1 FROM post_cameos pc JOIN posts p ON p.id = pc.post_id
             WHERE pc.post_id = n.post_id AND pc.user_id = viewer
               AND appearance_visible(p, viewer, viewer_minor, viewer_role))
        ELSE EXISTS (SELECT 1 FROM posts p WHERE p.id = n.post_id
                     AND post_visible(p, viewer, viewer_minor, viewer_role))
    END
$$;
