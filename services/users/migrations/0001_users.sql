-- Accounts. Emails are stored normalised (trimmed, lower-case) and unique.
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL,
    name            text NOT NULL,
    phone           text,
    password_hash   text NOT NULL,
    roles           text[] NOT NULL DEFAULT ARRAY['buyer'],
    email_verified  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(btrim(email)))
);
