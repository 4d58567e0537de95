-- Adaptive MFA's memory of a user (the contract's "Adaptive MFA"): the user's successful
-- sign-ins, with where and from which browser they came, kept MFA_FLOW_SIGN_IN_HISTORY_DAYS
-- (the worker's upkeep deletes older rows) and erased with the user. The log never holds
-- these: it is append-only and outlives the user.
CREATE TABLE sign_ins (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    flow_id    uuid NOT NULL,
    at         timestamptz NOT NULL,
    country    text,             -- ISO 3166-1 alpha-2
    region     text,
    city       text,
    latitude   double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude  double precision CHECK (longitude BETWEEN -180 AND 180),
    device     text              -- a digest of the browser's device_id, never the id itself
);
CREATE INDEX sign_ins_user_at ON sign_ins (user_id, at DESC, id DESC);
CREATE INDEX sign_ins_at ON sign_ins (at);

-- The last successful sign-in's time outlives the history's retention (rule long_inactivity),
-- and the times of the user's recent failed first factors and proofs (rule failure_burst; at
-- most a week's and 1000 of them are kept, the largest window a rule may look at).
ALTER TABLE users
    ADD COLUMN last_sign_in_at timestamptz,
    ADD COLUMN recent_failures timestamptz[] NOT NULL DEFAULT '{}';
