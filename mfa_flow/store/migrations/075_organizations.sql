-- Organisations (issue 24): groups of users; one with require_mfa makes MFA mandatory for its
-- members (as mfa.required does), whatever the policy or adaptive MFA says.

CREATE TABLE organizations (
    id           uuid PRIMARY KEY,  -- UUID v7: the list's order is creation order
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    require_mfa  boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Two organisations may not share a name, whatever its case: a user's JSON and the console
-- show organisations by name.
CREATE UNIQUE INDEX organizations_name ON organizations (lower(name));

CREATE TABLE organization_members (
    organization_id  uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
-- A user's organisations: read with the user at every sign-in (does one require MFA?).
CREATE INDEX organization_members_user ON organization_members (user_id, organization_id);
