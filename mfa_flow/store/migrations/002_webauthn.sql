-- Passkeys and security keys (WebAuthn credentials), one per mfa_verifications row.

-- A stable random handle per user for WebAuthn (no personal data in it); set on first use.
ALTER TABLE users ADD COLUMN webauthn_user_handle bytea UNIQUE;

CREATE TABLE webauthn_credentials (
    verification_id  uuid PRIMARY KEY REFERENCES mfa_verifications (id) ON DELETE CASCADE,
    credential_id    bytea NOT NULL UNIQUE,  -- unique across all users
    public_key       bytea NOT NULL,         -- COSE key
    sign_count       bigint NOT NULL,
    transports       text[] NOT NULL DEFAULT '{}',
    aaguid           text NOT NULL,
    backup_eligible  boolean NOT NULL,
    backed_up        boolean NOT NULL
);
