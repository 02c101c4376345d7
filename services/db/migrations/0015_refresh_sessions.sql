-- Refresh tokens in sessions: a login starts one, each refresh continues it (the new token
-- keeps the old one's session_id). Access tokens name their session (claim `sid`), so what
-- lives as long as a session, the live feed, ends when it is revoked: logout, a spent token
-- presented again, the account deactivated (docs/security.md, issue 13).
ALTER TABLE refresh_tokens ADD COLUMN session_id text NOT NULL DEFAULT gen_random_uuid()::text;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
