-- Adaptive MFA and the two no-skip prompt policies (the contract's "Policies, third part" and
-- "Adaptive MFA"). The adaptive settings are one JSON document ({"enabled", "rules": {...}}),
-- checked by the service (mfa_flow/domain/adaptive.py) before it is written; what it leaves
-- out takes its default when read.

ALTER TABLE mfa_config DROP CONSTRAINT mfa_config_policy_check;
ALTER TABLE mfa_config
    ADD CONSTRAINT mfa_config_policy_check
        CHECK (policy IN ('mandatory', 'prompt_at_sign_in_and_sign_up', 'prompt_only_at_sign_in', 'no_prompt',
                          'prompt_at_sign_in_and_sign_up_mandatory', 'prompt_only_at_sign_in_mandatory')),
    ADD COLUMN adaptive jsonb NOT NULL DEFAULT '{"enabled": false}'::jsonb;
