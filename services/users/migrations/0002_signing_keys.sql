-- Ed25519 keys that sign access tokens. Every non-retired key is published in the JWKS;
-- the newest active one signs.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    private_der  bytea NOT NULL,
    public_key   bytea NOT NULL,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
