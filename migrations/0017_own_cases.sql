-- A moderator never decides a case about their own post (POST .../decision answers 403), so
-- a claim passes over such cases and leases the next one: moderation_claim() of 0010 with
-- that one condition more.
CREATE OR REPLACE FUNCTION moderation_claim(moderator bigint) RETURNS bigint LANGUAGE plpgsql AS $$
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
              AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = c.post_id AND p.author_id = moderator)
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
