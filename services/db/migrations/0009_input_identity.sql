-- Issue 12, items 1 and 2: a candidate's idempotence comes from the input it was computed
-- from, and staff actions on alerts reach the detector.

-- Which input a candidate was computed from (a device reading, a manual observation, a tick
-- at a data time) and its place among that input's candidates for the same key and action.
-- Replaying that input after a crash gives the same origin, which the unique key skips; two
-- updates computed from different inputs in one batch (sharing a processing-time `ts`) are
-- both kept.
-- A writer that names no origin (and every row from before) gets a unique one: never skipped.
ALTER TABLE alert_candidates ADD COLUMN origin text NOT NULL DEFAULT gen_random_uuid()::text;
ALTER TABLE alert_candidates DROP CONSTRAINT alert_candidates_dedupe_key_action_ts_key;
ALTER TABLE alert_candidates ADD CONSTRAINT alert_candidates_origin_key
    UNIQUE (dedupe_key, action, origin);
-- ON CONFLICT reads the key's columns.
GRANT SELECT (origin) ON alert_candidates TO carewatch_detector;

-- Staff attending a resident's alert (acknowledging or resolving it), one row per alert, as
-- the alert service commits it. The detector's ordered feed of them, like
-- manual_observations: it keeps its position in its snapshots, so each is taken in once and
-- the rules know a person attended (a resolved fall does not escalate to a long lie).
-- Written under the alert service's events lock, so ids commit in order.
CREATE TABLE staff_attendance (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id  bigint NOT NULL,
    site_id      text NOT NULL,
    alert_id     bigint NOT NULL,
    rule_id      text NOT NULL,
    dedupe_key   text NOT NULL,
    condition_ts timestamptz NOT NULL,  -- the alert's first data time (a fall's impact)
    action       text NOT NULL CHECK (action IN ('acknowledged', 'resolved')),
    by_staff     text NOT NULL,
    at           timestamptz NOT NULL
);
GRANT INSERT ON staff_attendance TO carewatch_alerts;
GRANT SELECT ON staff_attendance TO carewatch_detector;
