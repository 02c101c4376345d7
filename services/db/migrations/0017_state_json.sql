-- Detector snapshots and the alert book as explicit, versioned JSON (`doc`) instead of pickles.
-- Format version 1 is the pickled `state` / `book` of earlier releases: the detector and the
-- alert service read such a row once at start (services/legacy_pickle.py, which builds only
-- the state classes) and rewrite it as JSON; every later format version is JSON in `doc`.
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
    'format 1 only (legacy pickle): rewritten as doc at the detector''s next start';
COMMENT ON COLUMN alert_service_state.book IS
    'format 1 only (legacy pickle): rewritten as doc at the alert service''s next start';
