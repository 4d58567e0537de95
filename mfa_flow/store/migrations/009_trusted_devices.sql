-- Trusted devices ("remember this device"): a device that proved a second factor may stand in
-- for verification at the user's later sign-ins, until it expires or is revoked.

ALTER TABLE mfa_config
    ADD COLUMN trusted_devices_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN trusted_devices_days integer NOT NULL DEFAULT 30
        CHECK (trusted_devices_days BETWEEN 1 AND 365);

-- Revoking a device deletes its row: nothing of a revoked device is kept that could be honoured.
CREATE TABLE trusted_devices (
    id            uuid PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_digest  bytea NOT NULL UNIQUE,  -- SHA-256 of the device token (256 random bits); never the token
    flow_id       uuid,                   -- the sign-in that trusted it (no foreign key: flows may be purged)
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz
);
CREATE INDEX trusted_devices_user ON trusted_devices (user_id, created_at);
CREATE INDEX trusted_devices_expiry ON trusted_devices (expires_at);
