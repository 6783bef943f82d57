-- Password-reset tokens, stored only as SHA-256 hashes; single use, short-lived.
CREATE TABLE password_resets (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Who changed whose roles, from what to what.
CREATE TABLE role_changes (
    id          uuid PRIMARY KEY,
    actor_id    uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_roles   text[] NOT NULL,
    new_roles   text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX role_changes_user ON role_changes (user_id, created_at);

-- Admin search by email prefix.
CREATE INDEX users_email_prefix ON users (email text_pattern_ops);
