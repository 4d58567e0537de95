-- One active signing key per key type (RSA for RS256, P-256 for ES256, Ed25519 for Ed25519
-- and EdDSA and the audit's checkpoints), instead of one Ed25519 key for everything.
ALTER TABLE signing_keys ADD COLUMN key_type text NOT NULL DEFAULT 'Ed25519'
    CHECK (key_type IN ('RSA', 'P-256', 'Ed25519'));
DROP INDEX one_active_signing_key;
CREATE UNIQUE INDEX one_active_signing_key_per_type ON signing_keys (key_type)
    WHERE retired_at IS NULL AND removed_at IS NULL;
