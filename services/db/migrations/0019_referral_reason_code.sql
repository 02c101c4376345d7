-- A rule's referral reason as a code and parameters, put in words in each reader's language
-- (services/referrals/reasons.py). `reason` keeps a text beside it; rows from before the codes
-- have only their English text, still shown as is.
ALTER TABLE referrals
    ADD COLUMN reason_code   text,
    ADD COLUMN reason_params jsonb NOT NULL DEFAULT '{}'::jsonb;
