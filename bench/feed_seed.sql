-- bench/feed_seed.sql: the data set of bench/feed.sh, made in SQL on a migrated, empty
-- database. psql variables: users, posts, follows (per user), likes (per user), events.
-- Deterministic (setseed), so every run of the benchmark reads the same data.
--
-- User i signs in with the bearer token 'feedbench' || lpad(i, 8, '0') padded with 'x' to
-- 43 characters (bench/feed.lua makes the same strings); sessions hold its SHA-256.
SELECT setseed(0.42);

INSERT INTO users (id, username, display_name, password_hash, birth_year, created_at)
SELECT i, 'fb_' || i, 'Bench ' || i, 'bench-no-password', 1990, now() - interval '60 days'
FROM generate_series(1, :users) i;
SELECT setval(pg_get_serial_sequence('users', 'id'), :users);

INSERT INTO sessions (token_hash, user_id)
SELECT sha256(convert_to(rpad('feedbench' || lpad(i::text, 8, '0'), 43, 'x'), 'UTF8')), i
FROM generate_series(1, :users) i;

-- A tenth of the users let anyone cast them; they appear in some posts below.
INSERT INTO cameos (user_id, permission)
SELECT i, 'everyone' FROM generate_series(1, :users) i WHERE i % 10 = 0;

-- Follows: every user follows about :follows others, authors with low ids more often
-- (a few popular accounts, a long tail).
INSERT INTO follows (follower_id, followee_id, created_at)
SELECT DISTINCT u, f, now() - interval '30 days'
FROM generate_series(1, :users) u,
     LATERAL (SELECT 1 + floor(:users * power(random(), 2))::int AS f
              FROM generate_series(1, :follows) k WHERE u > 0) x
WHERE f <> u
ON CONFLICT DO NOTHING;

-- Posts: published over the last 7 days (about 40 % within the 72 h trending window), by
-- authors drawn with the same skew; a tenth visible to followers only; a tenth are remixes
-- of an earlier post.
INSERT INTO posts (id, author_id, status, visibility, prompt, caption, model, seconds, aspect,
                   created_at, published_at)
SELECT i, 1 + floor(:users * power(random(), 1.5))::int, 'published',
       CASE WHEN i % 10 = 3 THEN 'followers' ELSE 'public' END,
       (ARRAY['a lighthouse in a storm', 'a cat on a skateboard', 'neon city at night',
              'a dragon over the mountains', 'slow motion rain on glass', 'a robot making tea',
              'sunrise over a desert', 'a paper boat in a river'])[1 + i % 8] || ' #' || (i % 97),
       (ARRAY['', 'made this today', 'remix welcome', 'first try', 'so calm'])[1 + i % 5],
       CASE WHEN i % 7 = 0 THEN 'pro' ELSE 'standard' END, 8, '9:16',
       t, t
FROM (SELECT i, now() - (:posts - i) * (interval '7 days' / :posts) AS t
      FROM generate_series(1, :posts) i) s;
SELECT setval(pg_get_serial_sequence('posts', 'id'), :posts);

UPDATE posts p SET remix_of = o.id, remix_root = COALESCE(o.remix_root, o.id), remix_depth = o.remix_depth + 1
FROM (SELECT id, remix_root, remix_depth FROM posts) o
WHERE p.id % 10 = 5 AND p.id > 100 AND o.id = p.id - 1 - (p.id * 7919) % 97 AND o.id % 10 <> 5;

INSERT INTO post_cameos (post_id, user_id)
SELECT p.id, 10 * (1 + (p.id * 31) % (:users / 10))
FROM posts p WHERE p.id % 6 = 1 AND p.author_id <> 10 * (1 + (p.id * 31) % (:users / 10));

-- Likes: about :likes per user, newer posts more likely.
INSERT INTO likes (user_id, post_id, created_at)
SELECT DISTINCT ON (u, pid) u, pid, now() - random() * interval '6 days'
FROM generate_series(1, :users) u,
     LATERAL (SELECT greatest(1, :posts - floor(:posts * power(random(), 2))::int) AS pid
              FROM generate_series(1, :likes) k WHERE u > 0) x
ON CONFLICT DO NOTHING;

-- Events: views, completes, skips, shares and a few not-interested, over the last 3 days.
INSERT INTO events (user_id, post_id, author_id, type, watch_ms, at, received_at)
SELECT e.u, p.id, p.author_id, e.type, e.watch_ms, e.at, e.at
FROM (SELECT 1 + floor(:users * random())::int AS u,
             greatest(1, :posts - floor(:posts * power(random(), 3))::int) AS pid,
             (ARRAY['view', 'view', 'view', 'view', 'complete', 'complete', 'skip', 'skip', 'share',
                    'not_interested'])[CASE WHEN random() < 0.002 THEN 10 ELSE 1 + floor(random() * 9)::int END] AS type,
             (random() * 8000)::int AS watch_ms,
             now() - random() * interval '70 hours' AS at
      FROM generate_series(1, :events) i) e
JOIN posts p ON p.id = e.pid
ORDER BY e.at;

-- The exact counters the API keeps alongside (post_reach for views and shares).
INSERT INTO post_reach (post_id, kind, user_id, at)
SELECT post_id, CASE WHEN type = 'share' THEN 'share' ELSE 'view' END, user_id, min(at)
FROM events WHERE type IN ('view', 'complete', 'share')
GROUP BY 1, 2, 3;
UPDATE posts p SET views_count = r.views, shares_count = r.shares
FROM (SELECT post_id, count(*) FILTER (WHERE kind = 'view') AS views,
             count(*) FILTER (WHERE kind = 'share') AS shares
      FROM post_reach GROUP BY post_id) r
WHERE r.post_id = p.id;
UPDATE posts p SET likes_count = l.n FROM (SELECT post_id, count(*) AS n FROM likes GROUP BY post_id) l
WHERE l.post_id = p.id;
UPDATE posts p SET remixes_count = r.n FROM (SELECT remix_of, count(*) AS n FROM posts
                                             WHERE remix_of IS NOT NULL GROUP BY remix_of) r
WHERE r.remix_of = p.id;

ANALYZE;
