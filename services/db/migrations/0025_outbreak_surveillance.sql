-- Outbreak surveillance, second slice (issue 18): staff health check-ins counted in the unit
-- they work in, escalation of case files left unreported, drills, isolation and cohort flags
-- (docs/detection.md, "Outbreaks").

-- Staff as persons of a line list: a number for the roster's text id (outbreak_cases keys
-- people by number), and the name the roster gave when they first checked in.
CREATE TABLE staff_people (
    person_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id  text NOT NULL UNIQUE,
    name      text NOT NULL
);

-- A daily health check-in: temperature and symptoms (none is an answer too), by the member of
-- staff, for the unit they work in that day. `day` is the site's local date.
CREATE TABLE staff_checkins (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES staff_people,
    site_id     text NOT NULL,
    unit_id     text NOT NULL,
    day         date NOT NULL,
    temperature double precision NOT NULL CHECK (temperature BETWEEN 30 AND 45),
    symptoms    text[] NOT NULL,
    ts          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (site_id, unit_id) REFERENCES units
);
CREATE INDEX staff_checkins_day ON staff_checkins (site_id, day);

-- A check-in with signs reaches the detector through the same ordered feed as residents'
-- symptoms: a row for a member of staff names them and the unit instead of a resident.
ALTER TABLE symptom_observations
    ALTER COLUMN resident_id DROP NOT NULL,
    ADD COLUMN staff_person bigint REFERENCES staff_people,
    ADD COLUMN site_id      text,
    ADD COLUMN unit_id      text,
    ADD COLUMN temperature  double precision,
    ADD CONSTRAINT symptom_observations_one_person CHECK (
        (resident_id IS NOT NULL AND staff_person IS NULL)
        OR (resident_id IS NULL AND staff_person IS NOT NULL
            AND site_id IS NOT NULL AND unit_id IS NOT NULL)
    );

-- Drills are case files too, marked everywhere; escalation of a file left open too long is
-- the alert service's, which records when it paged and when it stood the page down.
ALTER TABLE outbreaks
    ADD COLUMN drill              boolean NOT NULL DEFAULT false,
    ADD COLUMN overdue_paged_at   timestamptz,
    ADD COLUMN overdue_cleared_at timestamptz;
-- One open file per unit and syndrome, drills apart: a real cluster never joins a drill's file
-- (the detector's ON CONFLICT names this predicate), and one drill at a time.
DROP INDEX outbreaks_one_open;
CREATE UNIQUE INDEX outbreaks_one_open ON outbreaks (site_id, unit_id, syndrome)
    WHERE status = 'open' AND NOT drill;
CREATE UNIQUE INDEX outbreaks_one_open_drill ON outbreaks (site_id, unit_id, syndrome)
    WHERE status = 'open' AND drill;

-- Isolation (a resident) or cohorting (a unit, or a resident in a cohort): set and cleared by
-- people, each change audited; at most one active flag of a kind per resident or unit.
CREATE TABLE isolation_flags (
    flag_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id     text NOT NULL,
    unit_id     text NOT NULL,
    resident_id bigint REFERENCES residents,
    kind        text NOT NULL CHECK (kind IN ('isolation', 'cohort')),
    reason      text NOT NULL,
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL,
    cleared_by  text,
    cleared_at  timestamptz,
    FOREIGN KEY (site_id, unit_id) REFERENCES units,
    CHECK ((cleared_at IS NULL) = (cleared_by IS NULL))
);
CREATE UNIQUE INDEX isolation_flags_one_active ON isolation_flags
    (site_id, unit_id, coalesce(resident_id, 0), kind) WHERE cleared_at IS NULL;

GRANT SELECT, INSERT ON staff_people, staff_checkins TO carewatch_api;
GRANT UPDATE (name) ON staff_people TO carewatch_api;
GRANT SELECT ON staff_people TO carewatch_detector;
GRANT SELECT, INSERT, UPDATE (cleared_by, cleared_at) ON isolation_flags TO carewatch_api;
-- A drill's case file is opened by the API (the drill call runs the flow on made-up cases).
GRANT INSERT ON outbreaks, outbreak_cases TO carewatch_api;
GRANT INSERT ON alert_candidates TO carewatch_api;
GRANT SELECT, UPDATE (overdue_paged_at, overdue_cleared_at) ON outbreaks TO carewatch_alerts;
GRANT SELECT ON outbreak_cases TO carewatch_alerts;
