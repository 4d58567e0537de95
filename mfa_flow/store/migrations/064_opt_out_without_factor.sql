-- Issue 21: an opt-out of verification (mfa_skip_on_sign_in) that an account flow made while
-- the user had no primary factor proved nothing: whoever held the password alone could make
-- it. Such an opt-out is marked here; it never holds for a user with a factor, and enrolling
-- a primary factor clears it (mfa_flow/store/user_factors.py). The admin's PATCH is the
-- embedding backend's word and sets an opt-out that is not marked.
ALTER TABLE users ADD COLUMN mfa_skip_without_factor boolean NOT NULL DEFAULT false;

-- Who made an opt-out was not recorded before: one held by a user without a primary factor
-- may have been made with a password alone, so it is treated as such.
UPDATE users SET mfa_skip_without_factor = true
 WHERE mfa_skip_on_sign_in
   AND NOT EXISTS (SELECT 1 FROM mfa_verifications v WHERE v.user_id = users.id AND v.type <> 'backup_code');
