-- Ranking: the newest published posts across all authors (the feeds' explore, trending and
-- fallback candidates read them newest first), and a viewer's own events by author (the
-- authors a viewer said they are not interested in).
CREATE INDEX posts_published_recent ON posts(published_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX events_viewer_author ON events(user_id, type, author_id);
