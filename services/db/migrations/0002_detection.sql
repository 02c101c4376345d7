-- Detection: what the rules need to know about residents (the admission assessment), the
-- durable hand-off of alert candidates to the alert service, and the detector's snapshots.
ALTER TABLE residents
    ADD COLUMN conditions  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN fall_risk   boolean NOT NULL DEFAULT false,
    ADD COLUMN news2_scale smallint NOT NULL DEFAULT 1 CHECK (news2_scale IN (1, 2)),
    ADD COLUMN timezone    text NOT NULL DEFAULT 'Asia/Shanghai',
    ADD COLUMN rule_overrides jsonb NOT NULL DEFAULT '{}';

ALTER TABLE sites
    ADD COLUMN rule_overrides jsonb NOT NULL DEFAULT '{}';

-- Alert candidates from the detector, consumed by the alert service. A candidate is
-- written in the same transaction as the detector state that produced it; replaying the
-- same input after a crash produces the same candidate, which the unique key drops.
CREATE TABLE alert_candidates (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rule_id     text NOT NULL,
    action      text NOT NULL CHECK (action IN ('raise', 'update', 'clear')),
    subject     text NOT NULL,
    dedupe_key  text NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    ts          timestamptz NOT NULL,
    title       text NOT NULL,
    "values"    jsonb NOT NULL DEFAULT '{}',
    suggestion  text,
    audience    text,
    consumed_at timestamptz,
    UNIQUE (dedupe_key, action, ts)
);
CREATE INDEX alert_candidates_pending ON alert_candidates (id) WHERE consumed_at IS NULL;

-- One row per resident (and per unit, for unit-level rules): the detector's state as of
-- its last committed batch.
CREATE TABLE detector_snapshots (
    subject    text PRIMARY KEY,
    version    integer NOT NULL,
    state      bytea NOT NULL,
    taken_at   timestamptz NOT NULL
);
