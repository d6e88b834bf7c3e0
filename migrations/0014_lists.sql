-- What lists show. Followers-only posts appear in lists only to their author and the
-- author's followers, whoever is looking: post_visible() lets a moderator or admin open any
-- followers-only post (by link, from a case), but a user's post list, a post's remixes and
-- lineage, and notifications list one only to the author's followers, like feeds. The posts
-- that feature me are the exception: every use of my likeness is listed to me.

-- Can `viewer` find post `p` in a list? What they may open (post_visible), and a
-- followers-only post only when they are its author or follow its author.
CREATE FUNCTION post_listed(p posts, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT post_visible(p, viewer, viewer_minor, viewer_role)
       AND (p.visibility = 'public' OR p.author_id = viewer
            OR EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = viewer AND f.followee_id = p.author_id))
$$;

-- The posts that feature me (GET /v1/me/cameo/appearances, and `cameo_used` notifications)
-- are every use of my likeness, whoever published it to whom: drafts of others, followers-only
-- posts of people I do not follow, posts held for review, posts another person featured in
-- them has revoked. Consent means I can see each use and take it down
-- (DELETE /v1/posts/{id}/cameos/me), even where I may not open the post's page. Left out:
-- removed posts (already down), posts of banned authors (removed with the ban), and
-- restricted posts for a minor (minors never see restricted posts).
CREATE FUNCTION appearance_visible(p posts, viewer bigint, viewer_minor boolean, viewer_role text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p.status <> 'removed'
       AND NOT (p.restricted AND viewer_minor)
       AND NOT EXISTS (SELECT 1 FROM users a WHERE a.id = p.author_id AND a.banned)
$$;

-- notification_visible() of 0009, with `cameo_used` following appearance_visible() and `liked`
-- and `remixed` following post_listed().
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
                     AND post_listed(p, viewer, viewer_minor, viewer_role))
    END
$$;
