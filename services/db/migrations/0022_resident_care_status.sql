-- Goals of care, status over time (issue 17). Residents admitted before are on no comfort care
-- and admitted: what they were, in effect, until now.
ALTER TABLE residents
    -- A physician's decision (services/api/routes/resident_care.py): no hospital transfer is
    -- suggested at NEWS2 >= 7, the alert still pages.
    ADD COLUMN comfort_care boolean NOT NULL DEFAULT false,
    -- Where the resident stands now; the history below says since when and who said so.
    -- in_hospital: monitoring paused, devices kept; discharged, deceased: monitoring ended,
    -- devices released, data kept (retention decides).
    ADD COLUMN status text NOT NULL DEFAULT 'admitted'
        CHECK (status IN ('admitted', 'in_hospital', 'discharged', 'deceased'));

-- Every change of the flag, with who, when and why (the audit log has who and when, not why).
CREATE TABLE resident_goals_of_care (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id  bigint NOT NULL REFERENCES residents,
    comfort_care boolean NOT NULL,
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    set_by       text NOT NULL,
    set_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resident_goals_of_care_resident ON resident_goals_of_care (resident_id, set_at);

CREATE TABLE resident_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents,
    status      text NOT NULL
        CHECK (status IN ('admitted', 'in_hospital', 'discharged', 'deceased')),
    note        text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resident_status_history_resident ON resident_status_history (resident_id, set_at);

GRANT SELECT, INSERT ON resident_goals_of_care, resident_status_history TO carewatch_api;
-- The detector raises nothing for a resident not admitted (services/detector/residents.py).
GRANT SELECT (status) ON residents TO carewatch_detector;

-- Consents per resident, insert only: the newest row of a kind is the one in force. No row:
-- not given (a page to a third-party channel stays private, services/alerts/places.py).
CREATE TABLE resident_consents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents,
    kind        text NOT NULL CHECK (kind IN ('monitoring', 'family', 'partner_hospitals',
                                              'disease_control', 'third_party_messaging')),
    granted     boolean NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resident_consents_current ON resident_consents (resident_id, kind, recorded_at DESC);
GRANT SELECT, INSERT ON resident_consents TO carewatch_api;
GRANT SELECT ON resident_consents TO carewatch_alerts;
