-- The four policies (the contract's "Policies and per-user settings") and the per-user settings.
-- 'user_controlled' is the old name of 'prompt_at_sign_in_and_sign_up': the API still accepts it,
-- the row keeps the canonical name only, so the log and the configuration digest use one name.

ALTER TABLE mfa_config DROP CONSTRAINT mfa_config_policy_check;
UPDATE mfa_config SET policy = 'prompt_at_sign_in_and_sign_up' WHERE policy = 'user_controlled';
ALTER TABLE mfa_config
    ALTER COLUMN policy SET DEFAULT 'prompt_at_sign_in_and_sign_up',
    ADD CONSTRAINT mfa_config_policy_check
        CHECK (policy IN ('mandatory', 'prompt_at_sign_in_and_sign_up', 'prompt_only_at_sign_in', 'no_prompt'));

ALTER TABLE users
    -- treated as under 'mandatory' whatever the policy (an organisation that requires MFA)
    ADD COLUMN mfa_required boolean NOT NULL DEFAULT false,
    -- opted out of verification at sign-in; honoured only under the non-mandatory policies
    ADD COLUMN mfa_skip_on_sign_in boolean NOT NULL DEFAULT false;
