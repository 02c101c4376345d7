-- One person, one record per site: a keyed digest of the national ID (HMAC-SHA256 under a key
-- derived from the record key, services/records/crypto.py), since its Fernet token differs at
-- every encryption and cannot be compared. Rows admitted before are given theirs by the API at
-- start (it alone holds the key). Unique per site: a person may move between institutions.
ALTER TABLE residents ADD COLUMN national_id_digest bytea;
CREATE UNIQUE INDEX residents_site_national_id_digest
    ON residents (site_id, national_id_digest) WHERE national_id_digest IS NOT NULL;
