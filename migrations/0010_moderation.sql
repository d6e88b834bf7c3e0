-- Moderation: the `case` and audit objects of API.md, a case's priority, and the three moves
-- that change cases (a report, a claim, a decision), each written once here so that its
-- checks and effects happen in one transaction. Locks are always taken in the same order,
-- the post before its case, so reports, claims and decisions that race never deadlock, and
-- reports on one post are counted one at a time (the hiding threshold is never missed).

-- When this case hid its post (published -> hidden, at the report that crossed the
-- threshold). Only published posts are hidden, so a decision that keeps the post publishes
-- it again; NULL when the case did not hide it.
ALTER TABLE moderation_cases ADD COLUMN hidden_at timestamptz;
CREATE INDEX moderation_cases_claimed_by ON moderation_cases(claimed_by) WHERE status = 'open';
CREATE INDEX reports_reporter ON reports(reporter_id);

-- A case is hidden from others when this many distinct users report its post (or one
-- report gives minor_safety).
CREATE FUNCTION moderation_hide_threshold() RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT 3 $$;

-- What one report adds to its case's priority, by reason.
CREATE FUNCTION report_weight(reason text) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE reason
        WHEN 'minor_safety' THEN 100
        WHEN 'sexual' THEN 10
        WHEN 'violence' THEN 10
        WHEN 'likeness' THEN 8
        WHEN 'harassment' THEN 6
        WHEN 'other' THEN 3
        WHEN 'spam' THEN 2
        ELSE 0
    END::numeric
$$;

-- A case's priority as of `asof` (higher first): the weights of its reports (one per
-- distinct reporter, since a user has one open report per post), plus the post's reach,
-- 2 * ln(1 + people who viewed it), plus the time the case has waited, 0.5 per hour up to
-- 48 hours (so nothing starves); rounded to 3 decimals so that it compares exactly in a
-- cursor. A decided case's wait stops at its decision.
CREATE FUNCTION case_priority(c moderation_cases, asof timestamptz) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT round(
        COALESCE((SELECT sum(report_weight(r.reason)) FROM reports r WHERE r.case_id = c.id), 0)
        + 2 * ln(1 + COALESCE((SELECT GREATEST(p.views_count, 0) FROM posts p WHERE p.id = c.post_id), 0)::numeric)
        + 0.5 * LEAST(48, GREATEST(0, extract(epoch FROM
              LEAST(asof, COALESCE(c.decided_at, asof)) - c.created_at) / 3600)),
        3)
$$;

-- The report object: what POST /v1/posts/{id}/reports answers.
CREATE FUNCTION report_json(r reports) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', r.id::text,
        'post_id', r.post_id::text,
        'reason', r.reason,
        'note', r.note,
        'open', r.open,
        'created_at', api_time(r.created_at))
$$;

-- The `case` object without its `post` (the server adds the post, whose media URLs it
-- signs): status `claimed` is an open case whose claim has not expired, and claimed_by /
-- claim_expires_at are null unless it is claimed. `reports` lists the case's first 100
-- reports, oldest first, with their reporters and notes.
CREATE FUNCTION case_json(c moderation_cases, asof timestamptz) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id::text,
        'post_id', c.post_id::text,
        'reasons', COALESCE((SELECT jsonb_object_agg(x.reason, x.n)
                             FROM (SELECT r.reason, count(*) AS n FROM reports r
                                   WHERE r.case_id = c.id GROUP BY r.reason) x), '{}'::jsonb),
        'reporters', (SELECT count(DISTINCT r.reporter_id) FROM reports r WHERE r.case_id = c.id),
        'priority', case_priority(c, asof),
        'status', CASE WHEN c.status = 'decided' THEN 'decided'
                       WHEN claimed THEN 'claimed' ELSE 'open' END,
        'claimed_by', CASE WHEN claimed THEN (SELECT user_json(u) FROM users u WHERE u.id = c.claimed_by) END,
        'claim_expires_at', CASE WHEN claimed THEN api_time(c.claim_expires_at) END,
        'decision', CASE WHEN c.status = 'decided' THEN jsonb_build_object(
                        'action', c.action,
                        'note', c.note,
                        'moderator', (SELECT user_json(u) FROM users u WHERE u.id = c.decided_by),
                        'decided_at', api_time(c.decided_at)) END,
        'hidden_at', api_time(c.hidden_at),
        'created_at', api_time(c.created_at),
        'reports', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                 'id', r.id::text,
                                 'reporter', (SELECT user_json(u) FROM users u WHERE u.id = r.reporter_id),
                                 'reason', r.reason,
                                 'note', r.note,
                                 'created_at', api_time(r.created_at)) ORDER BY r.id)
                             FROM (SELECT * FROM reports r WHERE r.case_id = c.id ORDER BY r.id LIMIT 100) r),
                            '[]'::jsonb))
    FROM (SELECT c.status = 'open' AND c.claimed_by IS NOT NULL AND c.claim_expires_at > now() AS claimed) k
$$;

-- The audit entry object of GET /v1/moderation/audit.
CREATE FUNCTION audit_json(a audit_log) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id::text,
        'at', api_time(a.at),
        'actor', (SELECT user_json(u) FROM users u WHERE u.id = a.actor_id),
        'action', a.action,
        'case_id', a.case_id::text,
        'target_type', a.target_type,
        'target_id', a.target_id,
        'note', a.note)
$$;

-- A report by `reporter` on post `pid`. Outcome `exists` with the reporter's open report on
-- it (nothing changes; answered even once the post is hidden, since the reporter knows of
-- it); `not_found` when the reporter cannot see the post (a hidden one included: after the
-- threshold only its author and moderators can) or it is not published; `created` with the new report, which joins the post's open case (made
-- by the first report). The report that brings the case to the threshold hides a published
-- post. The post row is locked first, so reports on one post, and decisions on it, take
-- turns: parallel repeats find the first one's report, and every report is counted.
CREATE FUNCTION moderation_report(pid bigint, reporter bigint, reporter_minor boolean,
                                  reporter_role text, report_reason text, report_note text)
RETURNS TABLE (outcome text, report jsonb) LANGUAGE plpgsql AS $$
DECLARE
    p posts;
    r reports;
    cid bigint;
BEGIN
    SELECT * INTO p FROM posts WHERE id = pid FOR NO KEY UPDATE;
    IF FOUND THEN
        SELECT * INTO r FROM reports WHERE reports.post_id = pid AND reporter_id = reporter AND open;
        IF FOUND THEN
            outcome := 'exists';
            report := report_json(r);
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    IF p.id IS NULL OR p.status NOT IN ('published', 'hidden')
       OR NOT post_visible(p, reporter, reporter_minor, reporter_role) THEN
        outcome := 'not_found';
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO moderation_cases (post_id) VALUES (pid)
        ON CONFLICT (post_id) WHERE status = 'open' DO NOTHING;
    SELECT id INTO STRICT cid FROM moderation_cases WHERE moderation_cases.post_id = pid AND status = 'open';
    INSERT INTO reports (case_id, post_id, reporter_id, reason, note)
        VALUES (cid, pid, reporter, report_reason, COALESCE(report_note, ''))
        RETURNING * INTO r;
    IF p.status = 'published' AND EXISTS (
           SELECT 1 FROM reports x WHERE x.case_id = cid AND x.open
           HAVING count(DISTINCT x.reporter_id) >= moderation_hide_threshold()
               OR bool_or(x.reason = 'minor_safety')) THEN
        UPDATE posts SET status = 'hidden' WHERE id = pid;
        UPDATE moderation_cases SET hidden_at = now() WHERE id = cid;
    END IF;
    outcome := 'created';
    report := report_json(r);
    RETURN NEXT;
END
$$;

-- Leases the caller a case for 10 minutes and returns its id (NULL when there is none): the
-- case the moderator already holds (its lease renewed), else the open case of highest
-- priority that nobody holds (never claimed, or its lease expired). SKIP LOCKED lets
-- moderators claim at the same time without waiting for each other, and never hands two of
-- them the same case; the per-moderator lock keeps one moderator's parallel claims to one case.
CREATE FUNCTION moderation_claim(moderator bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('flick_moderation_claim'), (moderator % 2147483647)::int);
    SELECT c.id INTO cid FROM moderation_cases c
        WHERE c.status = 'open' AND c.claimed_by = moderator AND c.claim_expires_at > now()
        ORDER BY c.id LIMIT 1 FOR NO KEY UPDATE;
    IF cid IS NULL THEN
        SELECT c.id INTO cid FROM moderation_cases c
            WHERE c.status = 'open' AND (c.claimed_by IS NULL OR c.claim_expires_at <= now())
            ORDER BY case_priority(c, now()) DESC, c.id
            LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED;
    END IF;
    IF cid IS NOT NULL THEN
        UPDATE moderation_cases SET claimed_by = moderator, claim_expires_at = now() + interval '10 minutes'
            WHERE id = cid;
    END IF;
    RETURN cid;
END
$$;

-- Decides case `cid`. Returns `not_found`, `decided` (already decided: nothing changes),
-- `held` (another moderator's claim has not expired: nothing changes) or `ok`. Effects:
-- dismiss publishes a post the case hid; remove removes the post; restrict marks it
-- restricted and publishes it if hidden; ban_author bans the author, ends all their
-- sessions (their tokens stop working: the cache triggers of 0007 fire on both) and
-- removes all their posts. The case's reports close, the decision goes to the audit log
-- (target: the post, or the user for a ban), and the post's author and each reporter get a
-- `moderation` notification (a fresh one, unread, if an older one for the same post and
-- moderator exists).
CREATE FUNCTION moderation_decide(cid bigint, moderator bigint, decision text, decision_note text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    p posts;
    c moderation_cases;
BEGIN
    SELECT * INTO p FROM posts WHERE id = (SELECT post_id FROM moderation_cases WHERE id = cid)
        FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    SELECT * INTO c FROM moderation_cases WHERE id = cid FOR NO KEY UPDATE;
    IF c.status = 'decided' THEN
        RETURN 'decided';
    END IF;
    IF c.claimed_by IS NOT NULL AND c.claimed_by <> moderator AND c.claim_expires_at > now() THEN
        RETURN 'held';
    END IF;
    CASE decision
    WHEN 'dismiss' THEN
        UPDATE posts SET status = 'published' WHERE id = p.id AND status = 'hidden';
    WHEN 'remove' THEN
        UPDATE posts SET status = 'removed' WHERE id = p.id AND status <> 'removed';
    WHEN 'restrict' THEN
        UPDATE posts SET restricted = true,
                         status = CASE WHEN status = 'hidden' THEN 'published' ELSE status END
            WHERE id = p.id;
    WHEN 'ban_author' THEN
        UPDATE users SET banned = true WHERE id = p.author_id AND NOT banned;
        DELETE FROM sessions WHERE user_id = p.author_id;
        UPDATE posts SET status = 'removed' WHERE author_id = p.author_id AND status <> 'removed';
    END CASE;
    UPDATE moderation_cases SET status = 'decided', action = decision, note = decision_note,
                                decided_by = moderator, decided_at = now()
        WHERE id = cid;
    UPDATE reports SET open = false WHERE case_id = cid AND open;
    INSERT INTO audit_log (actor_id, action, case_id, target_type, target_id, note)
        VALUES (moderator, decision, cid,
                CASE WHEN decision = 'ban_author' THEN 'user' ELSE 'post' END,
                CASE WHEN decision = 'ban_author' THEN p.author_id ELSE p.id END::text,
                COALESCE(decision_note, ''));
    DELETE FROM notifications n
        WHERE n.type = 'moderation' AND n.actor_id = moderator AND n.post_id = p.id
          AND n.user_id IN (SELECT p.author_id UNION SELECT reporter_id FROM reports WHERE case_id = cid);
    INSERT INTO notifications (user_id, type, actor_id, post_id)
        SELECT t.user_id, 'moderation', moderator, p.id
        FROM (SELECT p.author_id AS user_id UNION SELECT reporter_id FROM reports WHERE case_id = cid) t
        WHERE t.user_id <> moderator
        ON CONFLICT DO NOTHING;
    RETURN 'ok';
END
$$;
