-- Core schema: the ward (sites, units, residents), devices and their assignment history,
-- the reading hypertables, and the dead-letter table.
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE sites (
    site_id    text PRIMARY KEY CHECK (site_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE units (
    site_id text NOT NULL REFERENCES sites,
    unit_id text NOT NULL CHECK (unit_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name    text NOT NULL,
    PRIMARY KEY (site_id, unit_id)
);

CREATE TABLE residents (
    resident_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id      text NOT NULL,
    unit_id      text NOT NULL,
    display_name text NOT NULL,
    room         text,
    bed          text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (site_id, unit_id) REFERENCES units
);

CREATE TABLE devices (
    device_id   text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    site_id     text NOT NULL REFERENCES sites,
    kind        text NOT NULL CHECK (kind IN ('wearable', 'bed_sensor', 'gateway')),
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- Which resident wore a device when: readings are attributed by their own ts, so
-- re-assigning a wearable never rewrites the past. Intervals of one device never overlap.
CREATE TABLE device_assignments (
    device_id   text NOT NULL REFERENCES devices,
    resident_id bigint NOT NULL REFERENCES residents,
    during      tstzrange NOT NULL,
    EXCLUDE USING gist (device_id WITH =, during WITH &&)
);

-- One row per measured value. (device_id, metric, ts) makes a redelivered message a no-op.
CREATE TABLE readings (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    resident_id bigint,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    source      text NOT NULL,
    seq         bigint,
    received_at timestamptz NOT NULL
);
SELECT create_hypertable('readings', by_range('ts', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX readings_device_metric_ts ON readings (device_id, metric, ts);
CREATE INDEX readings_resident_metric_ts ON readings (resident_id, metric, ts DESC);

CREATE TABLE motion_windows (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    resident_id bigint,
    hz          real NOT NULL,
    ax          real[] NOT NULL,
    ay          real[] NOT NULL,
    az          real[] NOT NULL,
    seq         bigint,
    received_at timestamptz NOT NULL
);
SELECT create_hypertable('motion_windows', by_range('ts', INTERVAL '1 day'), create_default_indexes => false);
CREATE UNIQUE INDEX motion_windows_device_ts ON motion_windows (device_id, ts);
CREATE INDEX motion_windows_resident_ts ON motion_windows (resident_id, ts DESC);

CREATE TABLE device_events (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    resident_id bigint,
    type        text NOT NULL,
    zone        text,
    confidence  real,
    seq         bigint,
    received_at timestamptz NOT NULL
);
SELECT create_hypertable('device_events', by_range('ts', INTERVAL '7 days'), create_default_indexes => false);
CREATE UNIQUE INDEX device_events_device_type_ts ON device_events (device_id, type, ts);
CREATE INDEX device_events_resident_ts ON device_events (resident_id, ts DESC);

CREATE TABLE device_status (
    ts          timestamptz NOT NULL,
    device_id   text NOT NULL,
    battery     real,
    online      boolean,
    rssi        real,
    fw          text,
    seq         bigint,
    received_at timestamptz NOT NULL
);
SELECT create_hypertable('device_status', by_range('ts', INTERVAL '7 days'), create_default_indexes => false);
CREATE UNIQUE INDEX device_status_device_ts ON device_status (device_id, ts);

-- Messages that failed validation: never readings, kept for integrators to see why.
CREATE TABLE dead_letters (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    topic        text NOT NULL,
    device_id    text,
    reason       text NOT NULL,
    detail       text NOT NULL,
    payload      bytea NOT NULL,  -- the first bytes only (see ingest.writer.DEAD_LETTER_BYTES)
    payload_size integer NOT NULL
);
CREATE INDEX dead_letters_device_received ON dead_letters (device_id, received_at DESC);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
