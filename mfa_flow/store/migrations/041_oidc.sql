-- OpenID Connect: registered clients, pushed authorization requests (RFC 9126), and one
-- authorization per flow with the code and access token it led to. Secrets, codes, request
-- URIs and access tokens are stored as SHA-256 digests only (each carries 256 random bits).

CREATE TABLE oidc_clients (
    id                            text PRIMARY KEY,
    name                          text NOT NULL,
    kind                          text NOT NULL CHECK (kind IN ('asserting', 'sign_in')),
    redirect_uris                 text[] NOT NULL,
    token_endpoint_auth_method    text NOT NULL
        CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt')),
    id_token_signed_response_alg  text NOT NULL CHECK (id_token_signed_response_alg IN ('RS256', 'ES256', 'EdDSA')),
    jwks                          jsonb,
    secret_digest                 bytea,
    previous_secret_digest        bytea,
    previous_secret_expires_at    timestamptz,
    created_at                    timestamptz NOT NULL,
    updated_at                    timestamptz NOT NULL
);
CREATE INDEX oidc_clients_created ON oidc_clients (created_at, id);

-- A pushed request lives 60 s and is used once; the sweep deletes it an hour after it expired.
CREATE TABLE oidc_pushed_requests (
    digest      bytea PRIMARY KEY,          -- SHA-256 of the request_uri's random part
    client_id   text NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    request     jsonb NOT NULL,             -- the checked authorization request
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX oidc_pushed_requests_expiry ON oidc_pushed_requests (expires_at);

-- An authorization is a flow (flow_id), no foreign key to flows: flows may be purged.
CREATE TABLE oidc_authorizations (
    flow_id                  uuid PRIMARY KEY,
    client_id                text NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    request                  jsonb NOT NULL,    -- redirect URI, state, nonce, PKCE challenge, acr, max_age...
    created_at               timestamptz NOT NULL,
    returned_at              timestamptz,       -- when the browser was sent back to the client
    code_digest              bytea UNIQUE,
    code_expires_at          timestamptz,
    code_used_at             timestamptz,
    access_token_digest      bytea UNIQUE,
    access_token_expires_at  timestamptz,
    revoked_at               timestamptz        -- a replayed code revokes what the code issued
);
CREATE INDEX oidc_authorizations_created ON oidc_authorizations (created_at);

-- private_key_jwt assertions seen, so that none is accepted twice (RFC 7523 §3, jti).
CREATE TABLE oidc_client_assertions (
    client_id   text NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oidc_client_assertions_expiry ON oidc_client_assertions (expires_at);
