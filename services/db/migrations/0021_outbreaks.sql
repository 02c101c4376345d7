-- Outbreak surveillance (issue 18, first slice): symptoms charted on rounds, and the outbreak
-- case files the cluster rules open, with their line lists (docs/detection.md, "Outbreaks").

-- Symptoms from rounds: the detector's ordered feed of them (its cursor is in its snapshots,
-- so each is taken in once), like manual_observations.
CREATE TABLE symptom_observations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents,
    symptoms    text[] NOT NULL CHECK (cardinality(symptoms) > 0),
    ts          timestamptz NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX symptom_observations_resident ON symptom_observations (resident_id, ts DESC);

-- A case file: opened by a cluster rule, one open per unit and syndrome; closed only by a
-- person, as reported to disease control (when, to whom, reference) or ruled out.
CREATE TABLE outbreaks (
    outbreak_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id       text NOT NULL,
    unit_id       text NOT NULL,
    syndrome      text NOT NULL,
    rule_id       text NOT NULL,
    status        text NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'reported', 'ruled_out')),
    opened_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    reported_at   timestamptz,
    reported_to   text,
    reference     text,
    closed_by     text,
    closed_at     timestamptz,
    note          text,
    FOREIGN KEY (site_id, unit_id) REFERENCES units,
    CHECK ((status = 'open') = (closed_at IS NULL)),
    CHECK (status <> 'reported' OR (reported_at IS NOT NULL AND reported_to IS NOT NULL))
);
CREATE UNIQUE INDEX outbreaks_one_open ON outbreaks (site_id, unit_id, syndrome)
    WHERE status = 'open';
CREATE INDEX outbreaks_site ON outbreaks (site_id, opened_at DESC);

-- The line list: every case the rule counted while the file was open (a case seen again
-- keeps its row, its signs and temperature updated).
CREATE TABLE outbreak_cases (
    outbreak_id bigint NOT NULL REFERENCES outbreaks,
    person_kind text NOT NULL CHECK (person_kind IN ('resident', 'staff')),
    person_id   bigint NOT NULL,
    unit_id     text NOT NULL,
    onset       timestamptz NOT NULL,
    signs       text[] NOT NULL,
    temperature double precision,
    added_at    timestamptz NOT NULL,
    PRIMARY KEY (outbreak_id, person_kind, person_id)
);

GRANT SELECT ON symptom_observations TO carewatch_detector;
GRANT SELECT, INSERT ON symptom_observations TO carewatch_api;
-- The detector opens case files and writes their cases, in the transaction of its candidates.
GRANT SELECT, INSERT, UPDATE (updated_at) ON outbreaks TO carewatch_detector;
GRANT SELECT, INSERT, UPDATE (signs, temperature) ON outbreak_cases TO carewatch_detector;
-- People close them through the API.
GRANT SELECT, UPDATE (status, reported_at, reported_to, reference, closed_by, closed_at, note,
                      updated_at) ON outbreaks TO carewatch_api;
GRANT SELECT ON outbreak_cases TO carewatch_api;
