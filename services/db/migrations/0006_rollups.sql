-- Trend rollups of `readings`, kept by the project (the Apache edition of TimescaleDB has no
-- continuous aggregates): per resident, metric and 1-minute / 1-hour bucket, min, max, sum and
-- count, so coarser buckets and averages combine exactly. Every change to `readings` notes what
-- it touched in `rollup_dirty`, in the writer's own transaction; the refresh
-- (services/trends/refresh.py) rebuilds those minutes from raw and the hours holding them.

CREATE TABLE readings_1m (
    resident_id bigint NOT NULL,
    metric      text NOT NULL,
    bucket      timestamptz NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    sum         double precision NOT NULL,
    count       integer NOT NULL,
    PRIMARY KEY (resident_id, metric, bucket)
);
SELECT create_hypertable('readings_1m', by_range('bucket', INTERVAL '7 days'),
                         create_default_indexes => false);

CREATE TABLE readings_1h (
    resident_id bigint NOT NULL,
    metric      text NOT NULL,
    bucket      timestamptz NOT NULL,
    min         double precision NOT NULL,
    max         double precision NOT NULL,
    sum         double precision NOT NULL,
    count       integer NOT NULL,
    PRIMARY KEY (resident_id, metric, bucket)
);
SELECT create_hypertable('readings_1h', by_range('bucket', INTERVAL '90 days'),
                         create_default_indexes => false);

-- What changed since the refresh last ran: per statement, per resident and hour touched, the
-- metrics and the first and last reading time (every minute between is rebuilt). Append-only
-- for writers (no unique key: a writer never waits on the refresh, nor the refresh on a
-- writer); the refresh deletes what it folded in. A row written by hand forces a rebuild.
CREATE TABLE rollup_dirty (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL,
    metrics     text[] NOT NULL,
    first_ts    timestamptz NOT NULL,
    last_ts     timestamptz NOT NULL CHECK (last_ts >= first_ts),
    noted_at    timestamptz NOT NULL DEFAULT now()
);
-- Queries answer a resident's pending minutes from raw.
CREATE INDEX rollup_dirty_resident ON rollup_dirty (resident_id, first_ts);
-- Readings stored before this migration: the first refresh builds their rollups.
INSERT INTO rollup_dirty (resident_id, metrics, first_ts, last_ts)
SELECT resident_id, array_agg(DISTINCT metric), min(ts), max(ts)
FROM readings WHERE resident_id IS NOT NULL
GROUP BY resident_id, time_bucket(INTERVAL '1 hour', ts);

-- Statement-level with a transition table: a handful of rows per batch, not one per reading,
-- written in the same transaction as the readings, so a reading is never visible without its
-- note (late and backfilled readings included, whatever their received_at). Per hour: a
-- device that sends one reading with a wrong clock does not make a span of years.
CREATE FUNCTION readings_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollup_dirty (resident_id, metrics, first_ts, last_ts)
    SELECT resident_id, array_agg(DISTINCT metric), min(ts), max(ts)
    FROM changed WHERE resident_id IS NOT NULL
    GROUP BY resident_id, time_bucket(INTERVAL '1 hour', ts);
    RETURN NULL;
END $$;
CREATE TRIGGER readings_dirty_insert AFTER INSERT ON readings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION readings_mark_dirty();
-- Readings are not updated or deleted in normal operation (retention drops whole chunks and
-- keeps the rollups); a correction or an erasure by hand still reaches the rollups.
CREATE TRIGGER readings_dirty_update_old AFTER UPDATE ON readings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION readings_mark_dirty();
CREATE TRIGGER readings_dirty_update_new AFTER UPDATE ON readings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION readings_mark_dirty();
CREATE TRIGGER readings_dirty_delete AFTER DELETE ON readings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION readings_mark_dirty();
