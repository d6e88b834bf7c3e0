-- What a viewer may open by id (a post's page, its media with a token): what post_visible()
-- allows, and the drafts and published posts that feature the viewer, as appearance_visible()
-- lists them to that person. The appearances list (GET /v1/me/cameo/appearances) already
-- shows such a post whole, drafts of others and followers-only posts included; its page shows
-- the same, so the person featured can look at a use of their likeness before and after
-- taking it down or revoking their cameo, when everyone but its author and them gets 404.
-- Posts held for review stay with their author and the moderators.
CREATE FUNCTION post_openable(p posts, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT post_visible(p, viewer, viewer_minor, viewer_role)
        OR (p.status IN ('draft', 'published')
            AND EXISTS (SELECT 1 FROM post_cameos pc WHERE pc.post_id = p.id AND pc.user_id = viewer)
            AND appearance_visible(p, viewer, viewer_minor, viewer_role))
$$;
