-- The SMS form of a message (one segment, services/alerts/messages.py): an SMS gateway channel
-- is sent this instead of the title and body. NULL: no short form (the full one is sent).
ALTER TABLE notifications ADD COLUMN short text;
