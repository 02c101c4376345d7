-- Goals of care, status over time (issue 17). Residents admitted before are on no comfort care
-- and admitted: what they were, in effect, until now.
ALTER TABLE residents
    -- A physician's decision (services/api/routes/resident_care.py): no hospital transfer is
    -- suggested at NEWS2 >= 7, the alert still pages.
    ADD COLUMN comfort_care boolean NOT NULL DEFAULT false;

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
GRANT SELECT, INSERT ON resident_goals_of_care TO carewatch_api;
