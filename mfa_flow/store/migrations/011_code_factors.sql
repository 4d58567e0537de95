-- Email and SMS codes (factors email_code and sms_code).
--
-- An enrolled address or phone is an mfa_verifications row whose `destination` holds it,
-- normalised (a lower-cased domain; a phone in E.164). One of each per user.
ALTER TABLE mfa_verifications DROP CONSTRAINT mfa_verifications_type_check;
ALTER TABLE mfa_verifications ADD CONSTRAINT mfa_verifications_type_check
    CHECK (type IN ('totp', 'webauthn', 'backup_code', 'email_code', 'sms_code'));
ALTER TABLE mfa_verifications ADD COLUMN destination text;
CREATE UNIQUE INDEX one_email_code_per_user ON mfa_verifications (user_id) WHERE type = 'email_code';
CREATE UNIQUE INDEX one_sms_code_per_user ON mfa_verifications (user_id) WHERE type = 'sms_code';

-- Every code a flow sent, written in the transaction of the event that issued it: the
-- ledger the resend gap and the per-flow cap read, and the outbox of the codes mailed over
-- SMTP (`message_sealed` holds the address and the code, encrypted with MFA_FLOW_SECRET_KEY,
-- until the message is sent, fails or expires; then it is erased). Codes that go out by
-- webhook travel in the webhook outbox instead (`message_sealed` stays NULL here).
-- The code itself is never stored in clear: the flow keeps only its keyed digest.
CREATE TABLE code_deliveries (
    id              uuid PRIMARY KEY,
    flow_id         uuid NOT NULL,                 -- no foreign key: flows are partition-ready
    channel         text NOT NULL CHECK (channel IN ('email', 'sms')),
    via             text NOT NULL CHECK (via IN ('smtp', 'webhook')),
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    message_sealed  text,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    attempted_at    timestamptz,
    sent_at         timestamptz,
    last_error      text                           -- the SMTP server's complaint, never the code
);
CREATE INDEX code_deliveries_of_flow ON code_deliveries (flow_id, created_at);
CREATE INDEX code_deliveries_queued ON code_deliveries (created_at) WHERE status = 'queued';

-- verification_code.requested messages still holding their sealed code: the sweep that erases
-- expired ones looks only here.
CREATE INDEX webhook_messages_sealed_codes ON webhook_messages (occurred_at) WHERE data ? 'sealed';
