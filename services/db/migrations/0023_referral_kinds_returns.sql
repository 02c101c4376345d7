-- Two-way referral (issue 17): referral types routed to typed partners, returns opened by the
-- hospital with a discharge summary, and the post-discharge watch period they start.
--
-- Every referral before this was a green-channel emergency transfer to a general hospital:
-- the defaults carry those rows forward as such (and keep inserts that do not say).
ALTER TABLE referrals
    ADD COLUMN kind text NOT NULL DEFAULT 'emergency'
        CHECK (kind IN ('emergency', 'appointment', 'rehabilitation', 'hospice', 'return')),
    -- The partner's kind when the referral was made (the care team document may change).
    ADD COLUMN partner_kind text NOT NULL DEFAULT 'general_hospital'
        CHECK (partner_kind IN ('general_hospital', 'rehabilitation_hospital', 'nursing_home',
                                'hospice')),
    -- A return's discharge summary (diagnoses ICD-10, medication changes, follow-up plan);
    -- NULL for every other kind.
    ADD COLUMN discharge jsonb;

-- A return is opened by the hospital side: trigger 'hospital'.
ALTER TABLE referrals DROP CONSTRAINT referrals_trigger_check;
ALTER TABLE referrals ADD CONSTRAINT referrals_trigger_check
    CHECK (trigger IN ('news2', 'fall', 'staff', 'hospital'));

-- The post-discharge watch period a return starts: the rule overrides it put on the resident
-- (merged into residents.rule_overrides, which the detector reads) and what they replaced,
-- restored when it ends (services/referrals/watch.py). One running per resident: a second
-- return extends it.
CREATE TABLE watch_periods (
    watch_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resident_id bigint NOT NULL REFERENCES residents,
    referral_id bigint NOT NULL REFERENCES referrals,
    started_at  timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > started_at),
    overrides   jsonb NOT NULL,  -- what the watch applied
    saved       jsonb NOT NULL,  -- the resident's own values at those keys before (absent: none)
    ended_at    timestamptz      -- when the overrides were taken back off
);
CREATE UNIQUE INDEX watch_periods_running ON watch_periods (resident_id) WHERE ended_at IS NULL;
CREATE INDEX watch_periods_due ON watch_periods (ends_at) WHERE ended_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON watch_periods TO carewatch_api, carewatch_alerts;
-- The alert service's tick ends watch periods (services/referrals/for_alerts.py).
GRANT UPDATE (rule_overrides) ON residents TO carewatch_alerts;
