-- One payment per order; its amount is fixed when the order is placed.
CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    order_id        uuid NOT NULL,
    user_id         uuid NOT NULL,
    amount          bigint NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    provider        text NOT NULL,
    payment_method  text NOT NULL,
    provider_ref    text,
    status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_order_key UNIQUE (order_id)
);

-- Append-only audit log of everything that happened to a payment. A provider event is
-- recorded once: a repeated webhook finds its id here and changes nothing.
CREATE TABLE payment_events (
    id                 uuid PRIMARY KEY,
    payment_id         uuid NOT NULL REFERENCES payments (id),
    kind               text NOT NULL,
    provider_event_id  text,
    data               jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_events_provider_event_key UNIQUE (provider_event_id)
);
CREATE INDEX payment_events_payment ON payment_events (payment_id, created_at);

CREATE FUNCTION payment_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'payment_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payment_events_no_change BEFORE UPDATE OR DELETE ON payment_events
    FOR EACH ROW EXECUTE FUNCTION payment_events_append_only();

-- The built-in sandbox gateway's own state: its payment intents, keyed for idempotency.
CREATE TABLE sandbox_intents (
    id               text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    amount           bigint NOT NULL,
    currency         text NOT NULL,
    payment_method   text NOT NULL,
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
