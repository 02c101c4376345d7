-- When each device was online, as spans the ingest worker keeps (issue 18): a span runs from
-- the first message of a connection episode to the last one heard; online until then plus
-- OFFLINE_AFTER (5 min), or only until then when it `ended` with an offline status or last
-- will (ingest/presence.py). The indicators read these instead of every raw message.
-- Not backfilled: periods before this migration show no online time (docs/indicators.md).
CREATE TABLE device_presence (
    device_id text NOT NULL,
    since timestamptz NOT NULL,
    last_heard timestamptz NOT NULL,
    ended boolean NOT NULL DEFAULT false,
    PRIMARY KEY (device_id, since),
    CHECK (last_heard >= since)
);
-- A restarted worker's open spans, and retention.
CREATE INDEX device_presence_last_heard ON device_presence (last_heard);

GRANT SELECT, INSERT, UPDATE, DELETE ON device_presence TO carewatch_ingest;
GRANT SELECT ON device_presence TO carewatch_api;
