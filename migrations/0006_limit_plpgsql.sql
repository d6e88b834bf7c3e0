-- daily_generation_limit() runs on every /v1/me and every generation request. As a SQL
-- function with several CTEs it was planned again on each call; PL/pgSQL keeps its plan for
-- the session, and it skips counting active users while quotas are fixed.
CREATE OR REPLACE FUNCTION daily_generation_limit(tier text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s record;
    free_users bigint;
    pro_users bigint;
    per_user numeric;
BEGIN
    SELECT max(value) FILTER (WHERE name = 'quota_auto') AS auto,
           max(value) FILTER (WHERE name = 'daily_generations_free') AS fixed_free,
           max(value) FILTER (WHERE name = 'daily_generations_pro') AS fixed_pro,
           max(value) FILTER (WHERE name = 'engine_capacity_seconds') AS capacity,
           max(value) FILTER (WHERE name = 'quota_floor_free') AS floor_free,
           max(value) FILTER (WHERE name = 'quota_floor_pro') AS floor_pro,
           max(value) FILTER (WHERE name = 'pro_weight') AS pro_weight
      INTO s FROM settings;
    IF s.auto = 0 THEN
        RETURN CASE tier WHEN 'pro' THEN s.fixed_pro ELSE s.fixed_free END;
    END IF;
    SELECT count(*) FILTER (WHERE u.tier = 'free'), count(*) FILTER (WHERE u.tier = 'pro')
      INTO free_users, pro_users
      FROM users u WHERE u.last_active_at > now() - interval '1 day' AND NOT u.banned;
    per_user := s.capacity::numeric / 8 / GREATEST(1, free_users + s.pro_weight * pro_users);
    IF tier = 'pro' THEN
        RETURN GREATEST(s.floor_pro, floor(per_user * s.pro_weight)::bigint);
    END IF;
    RETURN GREATEST(s.floor_free, floor(per_user)::bigint);
END $$;
