-- The posts that feature me (GET /v1/me/cameo/appearances, and `cameo_used` notifications)
-- are every use of my likeness, whoever published it to whom: drafts of others, followers-only
-- posts of people I do not follow, posts held for review, posts another person featured in
-- them has revoked. Consent means I can see each use and take it down
-- (DELETE /v1/posts/{id}/cameos/me), even where I may not open the post's page. Left out:
-- removed posts (already down), posts of banned authors (removed with the ban), and
-- restricted posts for a minor (minors never see restricted posts).
CREATE OR REPLACE FUNCTION appearance_visible(p posts, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p.status <> 'removed'
       AND NOT (p.restricted AND viewer_minor)
       AND NOT EXISTS (SELECT 1 FROM users a WHERE a.id = p.author_id AND a.banned)
$$;
