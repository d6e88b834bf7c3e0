-- Publishing a draft, written once so the API (POST /v1/posts/{id}/publish) and the demo
-- seed do exactly the same: the post goes public (unless a cameo in it was revoked), and a
-- remix counts toward its parent and tells the parent's author.

-- Settings row: 1 once `flickd seed` has made the demo posts.
INSERT INTO settings (name, value) VALUES ('demo_seeded', 0) ON CONFLICT DO NOTHING;

-- Publishes post `pid` of `author`. Returns one row (the post's status before, and whether a
-- cameo in it is revoked) when the post is the author's, none otherwise; the post changes
-- only when it was a draft without a revoked cameo. Absent caption keeps the old one.
CREATE FUNCTION publish_post(pid bigint, author bigint, new_caption text, new_visibility text,
                             new_allow_remix boolean)
RETURNS TABLE (status_before text, cameo_revoked boolean) LANGUAGE plpgsql AS $$
DECLARE
    p posts;
    parent_author bigint;
BEGIN
    SELECT * INTO p FROM posts WHERE id = pid AND author_id = author FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    status_before := p.status;
    cameo_revoked := EXISTS (SELECT 1 FROM post_cameos pc WHERE pc.post_id = pid AND pc.revoked);
    IF p.status = 'draft' AND NOT cameo_revoked THEN
        UPDATE posts SET status = 'published', published_at = now(),
                         caption = COALESCE(new_caption, caption),
                         visibility = new_visibility, allow_remix = new_allow_remix
            WHERE id = pid;
        IF p.remix_of IS NOT NULL THEN
            UPDATE posts SET remixes_count = remixes_count + 1 WHERE id = p.remix_of
                RETURNING author_id INTO parent_author;
            IF parent_author IS DISTINCT FROM author THEN
                INSERT INTO notifications (user_id, type, actor_id, post_id)
                    VALUES (parent_author, 'remixed', author, pid) ON CONFLICT DO NOTHING;
            END IF;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;
