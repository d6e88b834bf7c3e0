-- The `user` and `post` objects of API.md, built in SQL so every list and page returns the
-- same shape. Media URLs are signed by the server, so a post carries its media rows here
-- ("media_rows") and the server turns them into `media` with signed URLs.

CREATE FUNCTION user_json(u users) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', u.id::text,
        'username', u.username,
        'display_name', u.display_name,
        'bio', u.bio,
        'created_at', api_time(u.created_at),
        'has_cameo', EXISTS (SELECT 1 FROM cameos c WHERE c.user_id = u.id))
$$;

CREATE FUNCTION post_json(p posts) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p.id::text,
        'author', (SELECT user_json(a) FROM users a WHERE a.id = p.author_id),
        'status', p.status,
        'visibility', p.visibility,
        'restricted', p.restricted,
        'caption', p.caption,
        'prompt', p.prompt,
        'model', p.model,
        'seconds', p.seconds,
        'aspect', p.aspect,
        'allow_remix', p.allow_remix,
        'remix_of', p.remix_of::text,
        'remix_root', p.remix_root::text,
        'remix_depth', p.remix_depth,
        'generation_id', p.generation_id::text,
        'cameos', COALESCE((SELECT jsonb_agg(user_json(u) ORDER BY u.username)
                            FROM post_cameos pc JOIN users u ON u.id = pc.user_id
                            WHERE pc.post_id = p.id), '[]'::jsonb),
        'counts', jsonb_build_object('views', p.views_count, 'likes', p.likes_count,
                                     'remixes', p.remixes_count, 'shares', p.shares_count),
        'created_at', api_time(p.created_at),
        'published_at', api_time(p.published_at),
        'media_rows', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                            'id', m.id::text, 'kind', m.kind, 'mime', m.mime, 'width', m.width,
                            'height', m.height, 'duration_ms', m.duration_ms, 'bytes', m.bytes)
                            ORDER BY m.kind, m.width)
                        FROM media m WHERE m.post_id = p.id), '[]'::jsonb))
$$;
