-- Manual observations from rounds (ACVPU, BP, temperature, ...): also stored as readings with
-- source 'manual'; this table is the detector's ordered feed of them (it keeps its position
-- in its snapshots, so each is taken into NEWS2 once).
CREATE TABLE manual_observations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    ts          timestamptz NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX manual_observations_resident ON manual_observations (resident_id, ts DESC);
