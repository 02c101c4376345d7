-- Alerts: the care team and escalation policy (one validated document), incidents and alerts
-- as the alert service last committed them, their timeline, staff commands, the notification
-- outbox with every delivery attempt, one-time acknowledgement links, and the service's state.

-- The care team document (staff with apprise channels, shifts, resident contacts, partner
-- hospitals) and the alert policy, validated before it is stored. Versioned: the alert service
-- reloads when the version moves. Apprise URLs can hold credentials: never logged.
CREATE TABLE care_team (
    version    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document   jsonb NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    stored_by  text NOT NULL
);

-- Why the alert service could not take a candidate (e.g. a resident no longer in the ward).
ALTER TABLE alert_candidates ADD COLUMN consume_error text;

CREATE TABLE incidents (
    incident_id     bigint PRIMARY KEY,
    subject         text NOT NULL,
    audience        text,
    site_id         text NOT NULL,
    unit_id         text,
    resident_id     bigint,
    -- The state machine's status. "notified" means a page was issued; the status shown to
    -- people (incident_status below) stays "open" until some delivery succeeded.
    state           text NOT NULL
        CHECK (state IN ('open', 'notified', 'escalated', 'acknowledged', 'resolved')),
    severity        text NOT NULL,
    title           text NOT NULL,
    opened_at       timestamptz NOT NULL,
    escalation_step integer NOT NULL DEFAULT 0,
    acknowledged_at timestamptz,
    acknowledged_by text,
    acknowledged_via text,
    resolved_at     timestamptz,
    delivered_at    timestamptz,  -- first successful delivery of a page
    updated_at      timestamptz NOT NULL
);
CREATE INDEX incidents_active ON incidents (site_id, unit_id) WHERE state <> 'resolved';

CREATE TABLE alerts (
    alert_id          bigint PRIMARY KEY,
    incident_id       bigint NOT NULL REFERENCES incidents,
    rule_id           text NOT NULL,
    dedupe_key        text NOT NULL,
    subject           text NOT NULL,
    resident_id       bigint,
    title             text NOT NULL,
    severity          text NOT NULL,
    opened_at         timestamptz NOT NULL,
    first_ts          timestamptz NOT NULL,
    last_ts           timestamptz NOT NULL,
    count             integer NOT NULL,
    "values"          jsonb NOT NULL DEFAULT '{}',
    suggestion        text,
    condition_cleared boolean NOT NULL DEFAULT false,
    outcome           text CHECK (outcome IN ('actionable', 'false_alarm', 'already_attended',
                                              'self_cleared')),
    resolved_by       text,
    resolved_at       timestamptz,
    note              text,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_resident ON alerts (resident_id, opened_at DESC);
CREATE INDEX alerts_open ON alerts (alert_id) WHERE resolved_at IS NULL;

-- An alert as people see it: the incident's status, "open" while no page has been delivered.
CREATE VIEW alerts_view AS
SELECT a.*,
       i.site_id, i.unit_id, i.audience, i.escalation_step,
       i.acknowledged_at, i.acknowledged_by, i.acknowledged_via, i.delivered_at,
       CASE
           WHEN a.resolved_at IS NOT NULL THEN 'resolved'
           WHEN i.state = 'notified' AND i.delivered_at IS NULL THEN 'open'
           ELSE i.state
       END AS status
FROM alerts a JOIN incidents i USING (incident_id);

-- The timeline, in commit order: the live feed follows event_id.
CREATE TABLE alert_events (
    event_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL,
    alert_id    bigint,
    ts          timestamptz NOT NULL,
    kind        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_incident ON alert_events (incident_id, event_id);

-- Acknowledge / resolve requests from the API and one-time links. The alert service is the
-- only writer of alert state: it applies these in order and answers in the same row.
CREATE TABLE alert_commands (
    command_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('ack', 'resolve')),
    alert_id    bigint NOT NULL,
    actor       text NOT NULL,
    via         text NOT NULL,
    outcome     text,
    note        text,
    done_at     timestamptz,
    status      integer,  -- HTTP-like: 200 done, 404 unknown, 409 illegal transition, 422 bad
    error       text
);
CREATE INDEX alert_commands_pending ON alert_commands (command_id) WHERE done_at IS NULL;

-- The durable outbox. One row per message per recipient; `channels` are the recipient's
-- apprise URLs at the time (primary first, then fallbacks). A row is delivered once; a failed
-- attempt is retried with backoff, then on the next channel, and never given up on while the
-- page still matters (a page whose incident was acknowledged or resolved is cancelled).
CREATE TABLE notifications (
    notification_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at       timestamptz NOT NULL DEFAULT now(),
    kind             text NOT NULL
        CHECK (kind IN ('page', 'acknowledged', 'update', 'resolved', 'referral')),
    incident_id      bigint,
    referral_id      bigint,
    recipient        text NOT NULL,  -- staff or hospital id from the care team document
    channels         text[] NOT NULL CHECK (cardinality(channels) > 0),
    title            text NOT NULL,
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    channel_index    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    delivered_channel integer,
    last_error       text
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id);

CREATE TABLE delivery_attempts (
    attempt_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications,
    at              timestamptz NOT NULL,
    channel_index   integer NOT NULL,
    scheme          text NOT NULL,  -- the URL's scheme only: the rest may hold credentials
    ok              boolean NOT NULL,
    error           text,
    elapsed_ms      real NOT NULL
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id);

-- Signed one-time acknowledgement links: the signature proves who and which alert, this row
-- makes it single-use.
CREATE TABLE ack_links (
    nonce      text PRIMARY KEY,
    alert_id   bigint NOT NULL,
    staff_id   text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- The alert service's book of incidents, committed with everything it produced.
CREATE TABLE alert_service_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   integer NOT NULL,
    book      bytea NOT NULL,
    saved_at  timestamptz NOT NULL
);

-- Wake the alert service when there is work, the delivery loop when a message is queued, and
-- live feeds when the timeline grows. Statement-level: one wake-up per batch.
CREATE FUNCTION carewatch_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END $$;
CREATE TRIGGER alert_candidates_wake AFTER INSERT ON alert_candidates
    FOR EACH STATEMENT EXECUTE FUNCTION carewatch_notify('carewatch_alerts');
CREATE TRIGGER alert_commands_wake AFTER INSERT ON alert_commands
    FOR EACH STATEMENT EXECUTE FUNCTION carewatch_notify('carewatch_alerts');
CREATE TRIGGER care_team_wake AFTER INSERT ON care_team
    FOR EACH STATEMENT EXECUTE FUNCTION carewatch_notify('carewatch_alerts');
CREATE TRIGGER notifications_wake AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION carewatch_notify('carewatch_outbox');
CREATE TRIGGER alert_events_wake AFTER INSERT ON alert_events
    FOR EACH STATEMENT EXECUTE FUNCTION carewatch_notify('carewatch_alert_events');
