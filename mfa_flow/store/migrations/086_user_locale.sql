-- A user's language (issue 27): picks the language of their emails and SMS texts. NULL: the
-- service's default (MFA_FLOW_DEFAULT_LOCALE). Set by PATCH /api/users/{id} {"locale"}.
ALTER TABLE users ADD COLUMN locale text;
