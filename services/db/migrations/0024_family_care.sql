-- Family beds and family doctors (issue 17): site kinds, a home resident's emergency plan,
-- the family and family-doctor logins, family-doctor contracts and visit schedules.
-- Existing sites are institutions and existing residents have no plan: what they were.

ALTER TABLE sites
    -- institution: a nursing home; community_station: a community care station;
    -- family_bed: residents at home (their pages carry the address and emergency plan).
    ADD COLUMN kind text NOT NULL DEFAULT 'institution'
        CHECK (kind IN ('institution', 'community_station', 'family_bed'));

ALTER TABLE residents
    -- What to do at home until help comes (a family bed's pages and page carry it).
    ADD COLUMN emergency_plan text CHECK (length(emergency_plan) <= 2000);

-- Two more roles; a family login is bound to one resident (seen only with the family consent).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users
    ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'physician', 'nurse', 'caregiver',
        'integrator', 'family_doctor', 'family', 'regulator')),
    ADD COLUMN resident_id bigint REFERENCES residents,
    ADD CONSTRAINT users_family_resident CHECK ((role = 'family') = (resident_id IS NOT NULL));

-- A family doctor's contract with a resident: the doctor's caseload is the residents under a
-- contract in force (start_on <= today <= end_on).
CREATE TABLE family_doctor_contracts (
    contract_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id     bigint NOT NULL REFERENCES residents,
    team            text NOT NULL CHECK (length(team) BETWEEN 1 AND 200),
    doctor          text NOT NULL REFERENCES users (username),
    start_on        date NOT NULL,
    end_on          date NOT NULL CHECK (end_on >= start_on),
    service_package text NOT NULL CHECK (length(service_package) BETWEEN 1 AND 200),
    category        text CHECK (category IN ('disabled', 'aged_80_plus', 'special_difficulty')),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX family_doctor_contracts_doctor ON family_doctor_contracts (doctor, end_on);
CREATE INDEX family_doctor_contracts_resident ON family_doctor_contracts (resident_id, end_on);

-- A resident's special-needs category for coverage: the denominator of the 80 % target is
-- every resident of a category, contracted or not.
ALTER TABLE residents
    ADD COLUMN special_needs text[] NOT NULL DEFAULT '{}'
        CHECK (special_needs <@ ARRAY['disabled', 'aged_80_plus', 'special_difficulty']);

-- Rounds and visits: what is due how often, and each visit done.
CREATE TABLE visit_schedules (
    schedule_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id    bigint NOT NULL REFERENCES residents,
    kind           text NOT NULL
        CHECK (kind IN ('vitals_round', 'family_doctor_visit', 'nurse_visit')),
    label          text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    interval_hours integer NOT NULL CHECK (interval_hours BETWEEN 1 AND 8784),
    starts_at      timestamptz NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    -- The last reminder sent for this schedule's current lateness (one per overdue period).
    reminded_at    timestamptz,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visit_schedules_resident ON visit_schedules (resident_id) WHERE active;

CREATE TABLE visits (
    visit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id bigint NOT NULL REFERENCES visit_schedules,
    resident_id bigint NOT NULL REFERENCES residents,
    done_at     timestamptz NOT NULL,
    done_by     text NOT NULL,
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 1000)
);
CREATE INDEX visits_schedule ON visits (schedule_id, done_at DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON family_doctor_contracts TO carewatch_api;
GRANT UPDATE (kind) ON sites TO carewatch_api;
GRANT SELECT, INSERT, UPDATE ON visit_schedules, visits TO carewatch_api;
GRANT SELECT ON family_doctor_contracts, visit_schedules, visits TO carewatch_alerts;
GRANT UPDATE (reminded_at) ON visit_schedules TO carewatch_alerts;

-- Overdue visits are reminded through the outbox (services/visits/reminders.py).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('page', 'acknowledged', 'update', 'resolved', 'referral', 'reminder'));
