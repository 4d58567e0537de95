-- Passkey sign-in (issue 27): a discoverable passkey as the first factor, offered in every new
-- sign-in flow's challenge when enabled. ``counts_as_mfa``: a passkey with user verification
-- ends the sign-in on its own (acr mfa); otherwise a factor of another kind follows.

ALTER TABLE mfa_config
    ADD COLUMN passkey_sign_in_enabled boolean NOT NULL DEFAULT false,
    ADD COLUMN passkey_sign_in_counts_as_mfa boolean NOT NULL DEFAULT false,
    ADD COLUMN passkey_sign_in_user_verification text NOT NULL DEFAULT 'required'
        CHECK (passkey_sign_in_user_verification IN ('required', 'preferred'));
