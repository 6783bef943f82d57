-- Stripe and PayPal next to the sandbox.
ALTER TABLE payments DROP CONSTRAINT payments_provider_check;
ALTER TABLE payments ADD CONSTRAINT payments_provider_check
    CHECK (provider IN ('sandbox', 'stripe', 'paypal'));
-- What the buyer must do before the charge can go on (3-D Secure, a PayPal approval).
ALTER TABLE payments ADD COLUMN action jsonb;
-- When payments last asked the provider about a pending payment (reconciliation).
ALTER TABLE payments ADD COLUMN checked_at timestamptz;
CREATE INDEX payments_pending ON payments (updated_at) WHERE status = 'pending';

-- The audit log becomes a hash chain. Rows are appended unsealed (`seq` is the order of
-- appending); the sealer gives each its place in the chain, the hash of the row before it,
-- and its own hash over its content and that one.
ALTER TABLE payment_events
    ADD COLUMN seq        bigserial,
    ADD COLUMN position   bigint,
    ADD COLUMN prev_hash  bytea,
    ADD COLUMN hash       bytea,
    ADD CONSTRAINT payment_events_position_key UNIQUE (position);
CREATE INDEX payment_events_unsealed ON payment_events (seq) WHERE hash IS NULL;

-- Still append-only: the one change a row may have is being sealed, once, with nothing else
-- of it changing.
CREATE OR REPLACE FUNCTION payment_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND (NEW.id, NEW.payment_id, NEW.kind, NEW.provider_event_id, NEW.data, NEW.created_at, NEW.seq)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.payment_id, OLD.kind, OLD.provider_event_id, OLD.data, OLD.created_at, OLD.seq)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'payment_events is append-only';
END;
$$ LANGUAGE plpgsql;
