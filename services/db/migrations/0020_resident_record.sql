-- The resident record (issue 17; services/records): demographics, identifiers, contacts,
-- ICD-10 diagnoses, allergies, medications and the GB/T 42195-2022 ability assessment.
-- Every column is nullable or has an empty default, so residents admitted before keep a valid
-- row: what is not on file is unknown.
ALTER TABLE residents
    -- FHIR administrative gender.
    ADD COLUMN sex text CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    ADD COLUMN birth_date date,
    -- Fernet tokens (services/records/crypto.py): never the numbers themselves.
    ADD COLUMN national_id_enc bytea,
    ADD COLUMN insurance_no_enc bytea,
    ADD COLUMN phone text,
    ADD COLUMN address text,
    -- [{"name", "relation", "phone"}]
    ADD COLUMN emergency_contacts jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(emergency_contacts) = 'array'),
    -- [{"code": ICD-10, "display"}]
    ADD COLUMN diagnoses jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(diagnoses) = 'array'),
    ADD COLUMN allergies text[] NOT NULL DEFAULT '{}',
    ADD COLUMN medications text,
    ADD COLUMN ability_level text
        CHECK (ability_level IN ('intact', 'mild', 'moderate', 'severe', 'complete_loss')),
    ADD COLUMN ability_assessed_on date,
    ADD COLUMN ability_due_on date,
    -- An assessment is whole (level and both dates) or absent, and due after it was made.
    ADD CONSTRAINT residents_ability_whole CHECK (
        (ability_level IS NULL) = (ability_assessed_on IS NULL)
        AND (ability_level IS NULL) = (ability_due_on IS NULL)),
    ADD CONSTRAINT residents_ability_due_after CHECK (ability_due_on > ability_assessed_on);
