-- The medical consortium's lead hospital of a region (issue 18: region -> institutions ->
-- units, plus the consortium's lead hospital). A hospital is an entry of the care team's
-- document (its `hospitals`), not a table: the id is checked against it when set.
ALTER TABLE regions ADD COLUMN lead_hospital_id text
    CHECK (lead_hospital_id ~ '^[A-Za-z0-9_-]{1,64}$');
GRANT UPDATE (lead_hospital_id) ON regions TO carewatch_api;
