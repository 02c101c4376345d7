-- People who log in (roles, and the sites/units they may see), their refresh tokens, and the
-- audit log of every read and change of resident data.
CREATE TABLE users (
    user_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash text NOT NULL,  -- argon2id
    role          text NOT NULL
        CHECK (role IN ('admin', 'physician', 'nurse', 'caregiver', 'integrator')),
    -- Scope: NULL site = every site (admins, integrators); empty units = every unit of it.
    site_id       text REFERENCES sites,
    unit_ids      text[] NOT NULL DEFAULT '{}',
    -- Who they are in the care team document (acknowledgements are in their name), and for
    -- staff of a partner hospital, which one (they act on the hospital's side of referrals).
    staff_id      text,
    hospital_id   text,
    active        boolean NOT NULL DEFAULT true,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Opaque refresh tokens, stored hashed; rotated on every use. A revoked token presented
-- again means it was stolen: every token of that user is revoked.
CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,  -- e.g. resident.read, alert.ack, observation.create
    resource    text NOT NULL,  -- e.g. resident/12, alert/40
    resident_id bigint,
    site_id     text,
    method      text NOT NULL,
    path        text NOT NULL,
    client      text,           -- the caller's address
    status      integer NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_resident ON audit_log (resident_id, at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
