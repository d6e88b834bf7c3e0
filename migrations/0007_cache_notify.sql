-- Each flickd process keeps, in memory, what nearly every request asks about its caller: the
-- session behind a bearer token and the body of GET /v1/me. These triggers tell every
-- process, on channel flick_cache and at the commit of the change, what to forget:
--   s:<hex of a token hash>  that session ended (logout, user deleted)
--   u:<user id>              something the viewer of that user's tokens shows (and so
--                            their /v1/me as well)
--   p:<user id>              something only that user's /v1/me shows
--   *                        everything (quota settings, or the set of active users while
--                            quotas follow it)
-- Because they are triggers, no writer can forget to send them: the API, the worker, the
-- CLI and a psql session all do.

CREATE FUNCTION cache_notify(payload text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_notify('flick_cache', payload)
$$;

-- In automatic quota mode every allowance depends on how many users were active in the
-- last day; in fixed mode none does.
CREATE FUNCTION quota_follows_activity() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT value <> 0 FROM settings WHERE name = 'quota_auto'), false)
$$;

CREATE FUNCTION sessions_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cache_notify('s:' || encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_cache AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_cache_notify();

CREATE FUNCTION users_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF quota_follows_activity() THEN PERFORM cache_notify('*'); END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR
       (OLD.username, OLD.role, OLD.tier, OLD.birth_year, OLD.banned) IS DISTINCT FROM
       (NEW.username, NEW.role, NEW.tier, NEW.birth_year, NEW.banned) THEN
        PERFORM cache_notify('u:' || OLD.id);
    ELSIF (OLD.display_name, OLD.bio) IS DISTINCT FROM (NEW.display_name, NEW.bio) THEN
        PERFORM cache_notify('p:' || OLD.id);
    END IF;
    -- The active set changes when someone joins it (active again after a day away), leaves
    -- it (deleted, banned) or moves between tiers.
    IF quota_follows_activity() AND (TG_OP = 'DELETE' OR
        (OLD.tier, OLD.banned) IS DISTINCT FROM (NEW.tier, NEW.banned) OR
        (OLD.last_active_at <= now() - interval '1 day' AND NEW.last_active_at > now() - interval '1 day')) THEN
        PERFORM cache_notify('*');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_cache AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_cache_notify();

-- A row of cameos (has_cameo) or of generations (generations_left_today counts today's
-- generations that are not failed or canceled) changes its user's /v1/me.
CREATE FUNCTION profile_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN PERFORM cache_notify('p:' || OLD.user_id); END IF;
    IF TG_OP <> 'DELETE' THEN PERFORM cache_notify('p:' || NEW.user_id); END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cameos_cache AFTER INSERT OR DELETE OR UPDATE OF user_id ON cameos
    FOR EACH ROW EXECUTE FUNCTION profile_cache_notify();
CREATE TRIGGER generations_cache_insert_delete AFTER INSERT OR DELETE ON generations
    FOR EACH ROW EXECUTE FUNCTION profile_cache_notify();
CREATE TRIGGER generations_cache_update AFTER UPDATE ON generations
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR
                       OLD.quota_day IS DISTINCT FROM NEW.quota_day OR
                       (OLD.status IN ('failed', 'canceled')) IS DISTINCT FROM
                       (NEW.status IN ('failed', 'canceled')))
    EXECUTE FUNCTION profile_cache_notify();

-- invites_left counts the invites a user minted.
CREATE FUNCTION invites_cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.created_by IS NOT NULL THEN
        PERFORM cache_notify('p:' || OLD.created_by);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.created_by IS NOT NULL THEN
        PERFORM cache_notify('p:' || NEW.created_by);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER invites_cache AFTER INSERT OR DELETE OR UPDATE OF created_by ON invites
    FOR EACH ROW EXECUTE FUNCTION invites_cache_notify();

-- Quotas and invite allowances; and any table emptied at once.
CREATE FUNCTION cache_notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM cache_notify('*');
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_all();
CREATE TRIGGER sessions_cache_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_all();
CREATE TRIGGER users_cache_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_all();
CREATE TRIGGER cameos_cache_truncate AFTER TRUNCATE ON cameos
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_all();
CREATE TRIGGER generations_cache_truncate AFTER TRUNCATE ON generations
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_all();
CREATE TRIGGER invites_cache_truncate AFTER TRUNCATE ON invites
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_all();
