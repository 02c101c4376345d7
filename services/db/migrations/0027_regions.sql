-- The organisation hierarchy (issue 18): a region over institutions (sites) over units, and
-- regulators: accounts bound to a region that read its sites' indicators and nothing about a
-- resident (services/auth/principal.py).
CREATE TABLE regions (
    region_id text PRIMARY KEY CHECK (region_id ~ '^[A-Za-z0-9_-]{1,64}$'),
    name      text NOT NULL
);
ALTER TABLE sites ADD COLUMN region_id text REFERENCES regions;

ALTER TABLE users
    ADD COLUMN region_id text REFERENCES regions,
    DROP CONSTRAINT users_role_check,
    ADD CONSTRAINT users_role_check
        -- Every role so far (0024 added the family ones) and the regulator.
        CHECK (role IN ('admin', 'physician', 'nurse', 'caregiver', 'integrator',
                        'family_doctor', 'family', 'regulator')),
    -- A regulator is bound to a region and to nothing else; no one else is.
    ADD CONSTRAINT users_regulator_region CHECK (
        (role = 'regulator') = (region_id IS NOT NULL)
        AND (role <> 'regulator' OR (site_id IS NULL AND hospital_id IS NULL
                                     AND cardinality(unit_ids) = 0)));

GRANT SELECT ON regions TO carewatch_api;
