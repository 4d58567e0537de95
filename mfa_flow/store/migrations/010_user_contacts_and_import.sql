-- Users gain an email address and a phone number (both normalised by the service: email with
-- a lower-case domain, phone in E.164), and the algorithm of their stored password digest, so
-- that users imported from another system keep their digest until their first sign-in, when
-- it is replaced by argon2id.
ALTER TABLE users
    ADD COLUMN email text,
    ADD COLUMN phone text,
    -- what made password_hash (when there is one): argon2 unless the user was imported
    ADD COLUMN password_algorithm text NOT NULL DEFAULT 'argon2'
        CHECK (password_algorithm IN ('argon2', 'bcrypt', 'scrypt', 'pbkdf2_sha256'));

-- One user per address and per phone number (a second is 409; users without one are many),
-- compared case-insensitively for email. These indexes also serve the Management API's prefix
-- search (GET /api/users?search=): in the "C" collation a prefix is a plain range of the index (lower(x) >= p AND lower(x) < p
-- followed by the highest code point), whatever the database's own collation.
CREATE UNIQUE INDEX users_email_key ON users ((lower(email) COLLATE "C"));
CREATE UNIQUE INDEX users_phone_key ON users ((phone COLLATE "C"));
CREATE INDEX users_username_search ON users ((lower(username) COLLATE "C"));
