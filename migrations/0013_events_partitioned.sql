-- The event log partitioned by month of received_at: the server sets it, so a client's `at`
-- cannot put a row in an odd partition. Every row keeps its id, and ids keep coming from
-- the same sequence, so the rank role still reads `id > offset ORDER BY id` (a Merge Append
-- of the partitions' primary keys, which begin with id). Partitions are made ahead of time
-- by events_partitions_ensure(), which this file and the rank role (at start and hourly)
-- call; the DEFAULT partition only catches rows for a month nobody made in time. Old months
-- are never dropped here: an operator detaches them (README, "Scaling out").

LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER SEQUENCE events_id_seq OWNED BY NONE;

CREATE TABLE events (
    id           bigint NOT NULL DEFAULT nextval('events_id_seq'),
    user_id      bigint NOT NULL,
    post_id      bigint NOT NULL,
    author_id    bigint NOT NULL,          -- the post's author, so author-level signals need no join
    type         text NOT NULL CONSTRAINT events_type_check CHECK (type IN ('view', 'complete', 'skip', 'share', 'not_interested')),
    watch_ms     int CONSTRAINT events_watch_ms_check CHECK (watch_ms >= 0),
    at           timestamptz NOT NULL,     -- when the client says it happened (clamped to now)
    received_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (received_at);

CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Makes the partition holding `month` (events_YYYY_MM, UTC months) unless it is attached
-- already; true when it made it. Rows the DEFAULT partition took for that month move into
-- it with their ids. It is made as a plain table and then attached: attaching locks the
-- parent in SHARE UPDATE EXCLUSIVE mode only, so inserts and reads of the other partitions
-- go on; the default partition is locked until commit (an instant when it is empty, as it
-- is whenever the upkeep keeps ahead). One caller at a time (an advisory lock): a
-- concurrent caller waits, then finds the partition made.
CREATE FUNCTION events_partition_ensure(month timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    hi timestamptz := (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
    part text := 'events_' || to_char(month AT TIME ZONE 'UTC', 'YYYY_MM');
    dflt regclass;
BEGIN
    PERFORM pg_advisory_xact_lock(7213001301);
    IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'events'::regclass
               AND inhrelid = to_regclass(quote_ident(part))) THEN
        RETURN false;
    END IF;
    SELECT NULLIF(partdefid, 0)::regclass INTO dflt FROM pg_partitioned_table
     WHERE partrelid = 'events'::regclass;
    BEGIN
        EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXCEPTION WHEN duplicate_table THEN
        -- Made and attached by hand, outside the lock: nothing to do. A table of that
        -- name that is not a partition of events is an error for the operator to see.
        IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'events'::regclass
                   AND inhrelid = to_regclass(quote_ident(part))) THEN
            RETURN false;
        END IF;
        RAISE;
    END;
    IF dflt IS NOT NULL THEN
        -- Held until commit, so no row for this month reaches the default between the move
        -- and the attach (which would then refuse).
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', dflt);
        EXECUTE format('WITH moved AS (DELETE FROM %s WHERE received_at >= $1 AND received_at < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved', dflt, part) USING lo, hi;
    END IF;
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
END
$$;

-- The current month's partition and the next `months_ahead` months'; returns how many it
-- made. Safe to call at any time, from several processes at once.
CREATE FUNCTION events_partitions_ensure(months_ahead int DEFAULT 2) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    made int := 0;
BEGIN
    FOR i IN 0 .. GREATEST(months_ahead, 0) LOOP
        IF events_partition_ensure((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))
                                   AT TIME ZONE 'UTC') THEN
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END
$$;

-- Every month the old table holds rows for, then the months ahead; then the rows, routed
-- to their months with their ids.
SELECT events_partition_ensure(m AT TIME ZONE 'UTC')
  FROM generate_series(date_trunc('month', (SELECT min(received_at) FROM events_unpartitioned) AT TIME ZONE 'UTC'),
                       date_trunc('month', now() AT TIME ZONE 'UTC'), interval '1 month') m;
SELECT events_partitions_ensure(2);

INSERT INTO events (id, user_id, post_id, author_id, type, watch_ms, at, received_at)
SELECT id, user_id, post_id, author_id, type, watch_ms, at, received_at FROM events_unpartitioned;
DROP TABLE events_unpartitioned;
ALTER SEQUENCE events_id_seq OWNED BY events.id;

-- Built once over the copied rows; every partition gets its own, and partitions attached
-- later get them at attach. The primary key must hold the partition key; ids stay unique
-- because only the sequence hands them out.
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id, received_at);
ALTER TABLE events ADD CONSTRAINT events_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE;
ALTER TABLE events ADD CONSTRAINT events_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts(id) ON DELETE CASCADE;
CREATE INDEX events_viewer ON events(user_id, type, post_id);
CREATE INDEX events_post ON events(post_id, type);
CREATE INDEX events_viewer_author ON events(user_id, type, author_id);
