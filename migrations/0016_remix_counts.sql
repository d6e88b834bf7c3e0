-- counts.remixes is the number of a post's published direct remixes. publish_post() of 0012
-- added one at publishing, but nothing took it back when a remix stopped being published
-- (deleted, removed by a moderator, hidden pending review, its author banned), nor gave it
-- again when a held remix was republished. Now one trigger keeps the count on every change
-- of a remix's status, whatever makes it; publish_post() no longer counts, and every count
-- is set right once.

CREATE FUNCTION posts_remix_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP = 'UPDATE' AND OLD.status = 'published';
    now_published boolean := NEW.status = 'published';
BEGIN
    IF NEW.remix_of IS NOT NULL AND was <> now_published THEN
        UPDATE posts SET remixes_count = remixes_count + CASE WHEN now_published THEN 1 ELSE -1 END
            WHERE id = NEW.remix_of;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER posts_remix_count AFTER INSERT OR UPDATE OF status ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_remix_count();

-- publish_post() of 0012, without its own count.
CREATE OR REPLACE FUNCTION publish_post(pid bigint, author bigint, new_caption text, new_visibility text,
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
            SELECT author_id INTO parent_author FROM posts WHERE id = p.remix_of;
            IF parent_author IS DISTINCT FROM author THEN
                INSERT INTO notifications (user_id, type, actor_id, post_id)
                    VALUES (parent_author, 'remixed', author, pid) ON CONFLICT DO NOTHING;
            END IF;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

UPDATE posts p SET remixes_count = c.n
    FROM (SELECT q.id, (SELECT count(*) FROM posts r WHERE r.remix_of = q.id AND r.status = 'published') AS n
            FROM posts q) c
    WHERE c.id = p.id AND p.remixes_count <> c.n;
