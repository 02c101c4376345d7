-- Reminders to check in (issue 18): one per member of staff, site and local day, sent by the
-- alert service before the first shift of the day begins. The row is written in the same
-- transaction that queues the message, so a restart neither reminds twice nor forgets.
CREATE TABLE staff_checkin_reminders (
    staff_id text NOT NULL,
    site_id  text NOT NULL,
    day      date NOT NULL,
    sent_at  timestamptz NOT NULL,
    PRIMARY KEY (staff_id, site_id, day)
);
GRANT SELECT, INSERT ON staff_checkin_reminders TO carewatch_alerts;
GRANT SELECT ON staff_checkins, staff_people TO carewatch_alerts;
