-- Detector snapshots and the alert book as explicit, versioned JSON (`doc`) instead of the
-- binary format of earlier releases (format version 1, in `state` / `book`): `carewatch
-- upgrade-state` (upgrade/state.py) rewrites such a row as JSON once, and the services refuse
-- it until then; every later format version is JSON in `doc`.
ALTER TABLE detector_snapshots
    ALTER COLUMN state DROP NOT NULL,
    ADD COLUMN doc jsonb,
    ADD CONSTRAINT detector_snapshots_one_format CHECK (
        CASE WHEN version = 1 THEN state IS NOT NULL AND doc IS NULL
             ELSE state IS NULL AND doc IS NOT NULL END
    );

ALTER TABLE alert_service_state
    ALTER COLUMN book DROP NOT NULL,
    ADD COLUMN doc jsonb,
    ADD CONSTRAINT alert_service_state_one_format CHECK (
        CASE WHEN version = 1 THEN book IS NOT NULL AND doc IS NULL
             ELSE book IS NULL AND doc IS NOT NULL END
    );

COMMENT ON COLUMN detector_snapshots.state IS
    'format 1 only (binary, earlier releases): rewritten as doc by carewatch upgrade-state';
COMMENT ON COLUMN alert_service_state.book IS
    'format 1 only (binary, earlier releases): rewritten as doc by carewatch upgrade-state';
