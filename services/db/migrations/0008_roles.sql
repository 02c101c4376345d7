-- One database role per service, each with only what that service does (issue 7). The owner
-- (who runs the migrations) keeps everything else: schema changes, admin commands, backups.
-- The roles are created here when the owner may create roles (the local stack's owner is a
-- superuser); on a managed server a DBA may create them first (LOGIN, a password each) and
-- this migration only grants. Local mode sets their passwords at start-up (LocalStack).
--
-- No ALTER DEFAULT PRIVILEGES: a default grant would hand every future table to some role
-- unread. Every migration that adds a table grants on it here-style, explicitly, or only the
-- owner can touch it (tests/services/test_db_roles.py fails on a table nobody was given).
--
-- Grants on a hypertable reach its existing and future chunks (TimescaleDB copies them).
-- Identity columns draw from their sequence without a grant; an explicit nextval() does not.

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['carewatch_ingest', 'carewatch_detector', 'carewatch_alerts',
                                'carewatch_api'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        END IF;
    END LOOP;
    -- Temporary tables only for the ingest worker's COPY staging; every role may connect
    -- even where a DBA has revoked CONNECT from PUBLIC.
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO carewatch_ingest', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO carewatch_ingest, carewatch_detector,'
                   ' carewatch_alerts, carewatch_api', current_database());
END $$;

-- --- ingest: store what devices send; never who residents are -----------------------------
-- Which site a device belongs to (the topic check) and whom it was assigned to (attribution):
-- not the device's secret hash.
GRANT SELECT (device_id, site_id) ON devices TO carewatch_ingest;
GRANT SELECT (device_id, resident_id, during) ON device_assignments TO carewatch_ingest;
GRANT INSERT ON readings, motion_windows, device_events, device_status, dead_letters
    TO carewatch_ingest;
-- Dead-letter retention (by age and a row cap) deletes by these columns.
GRANT SELECT (id, received_at), DELETE ON dead_letters TO carewatch_ingest;
-- The readings trigger notes what changed (it runs as the writer); the rollup refresh takes
-- the notes and rebuilds the rollups from raw readings.
GRANT SELECT, INSERT, DELETE ON rollup_dirty TO carewatch_ingest;
GRANT SELECT ON readings TO carewatch_ingest;
GRANT SELECT, INSERT, DELETE ON readings_1m, readings_1h TO carewatch_ingest;

-- Retention drops whole chunks, which only the owner may do: this function does it for the
-- ingest worker, for the raw tables only, never younger than a day.
CREATE FUNCTION carewatch_drop_expired(retention_days integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF retention_days IS NULL OR retention_days < 1 THEN
        RAISE EXCEPTION 'retention must be at least one day, not %', retention_days;
    END IF;
    PERFORM public.drop_chunks('public.readings'::regclass,
                               older_than => now() - make_interval(days => retention_days));
    PERFORM public.drop_chunks('public.motion_windows'::regclass,
                               older_than => now() - make_interval(days => retention_days));
END $$;
REVOKE ALL ON FUNCTION carewatch_drop_expired(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION carewatch_drop_expired(integer) TO carewatch_ingest;

-- --- detector: the stream plus what the rules know of a resident; not names or rooms ------
GRANT SELECT (device_id, resident_id, during) ON device_assignments TO carewatch_detector;
GRANT SELECT (resident_id, site_id, unit_id, conditions, fall_risk, news2_scale, timezone,
              rule_overrides) ON residents TO carewatch_detector;
GRANT SELECT (site_id, rule_overrides) ON sites TO carewatch_detector;
GRANT SELECT ON manual_observations TO carewatch_detector;
-- A replayed candidate is skipped by ON CONFLICT (dedupe_key, action, ts), which reads its key.
GRANT INSERT, SELECT (dedupe_key, action, ts) ON alert_candidates TO carewatch_detector;
-- Its snapshots are the rule state it restores: only the detector (and the owner) write them.
GRANT SELECT, INSERT, UPDATE ON detector_snapshots TO carewatch_detector;

-- --- alerts: incidents, escalation, pages (with names and rooms), referral timers ---------
GRANT SELECT ON sites, units, residents, care_team TO carewatch_alerts;
GRANT SELECT ON readings TO carewatch_alerts;
GRANT SELECT, UPDATE (consumed_at, consume_error) ON alert_candidates TO carewatch_alerts;
GRANT SELECT, UPDATE (done_at, status, error) ON alert_commands TO carewatch_alerts;
GRANT SELECT, INSERT, UPDATE ON incidents, alerts, notifications, alert_service_state
    TO carewatch_alerts;
GRANT INSERT ON alert_events, delivery_attempts, ack_links TO carewatch_alerts;
GRANT SELECT, INSERT, UPDATE ON referrals TO carewatch_alerts;
GRANT SELECT, INSERT ON referral_transitions TO carewatch_alerts;
GRANT USAGE ON SEQUENCE referrals_referral_id_seq TO carewatch_alerts;

-- --- api: what staff see and do through the API and web pages -----------------------------
GRANT SELECT ON sites, units, care_team TO carewatch_api;
GRANT INSERT ON care_team TO carewatch_api;
GRANT SELECT, INSERT, UPDATE ON residents TO carewatch_api;
GRANT SELECT, INSERT, UPDATE ON devices TO carewatch_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON device_assignments TO carewatch_api;
GRANT SELECT ON readings, motion_windows, device_events, device_status, dead_letters
    TO carewatch_api;
-- Manual observations from rounds are readings too (a corrected value replaces the first).
GRANT INSERT, UPDATE (value) ON readings TO carewatch_api;
GRANT SELECT, INSERT ON manual_observations TO carewatch_api;
-- Trends read the rollups, and the not yet folded-in minutes from raw; the readings trigger
-- notes a manual reading.
GRANT SELECT ON readings_1m, readings_1h TO carewatch_api;
GRANT SELECT, INSERT ON rollup_dirty TO carewatch_api;
-- The alert board reads the view (the owner's rights join incidents); referrals carry alerts.
GRANT SELECT ON alerts_view, alerts, alert_events, notifications TO carewatch_api;
-- Acknowledge and resolve go through the alert service as commands.
GRANT SELECT, INSERT ON alert_commands TO carewatch_api;
GRANT SELECT, UPDATE ON ack_links TO carewatch_api;
GRANT INSERT ON notifications TO carewatch_api;
GRANT SELECT, INSERT, UPDATE ON referrals TO carewatch_api;
GRANT SELECT, INSERT ON referral_transitions TO carewatch_api;
GRANT USAGE ON SEQUENCE referrals_referral_id_seq TO carewatch_api;
GRANT SELECT, INSERT, UPDATE ON users, refresh_tokens TO carewatch_api;
GRANT SELECT, INSERT ON audit_log TO carewatch_api;
