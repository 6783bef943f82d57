-- An order may be paid in several attempts (a declined card, then another): one payment row
-- per attempt. Gateway calls are carried out after the change that asks for them commits
-- (`due`), by whichever instance holds the lease, retried until done.
ALTER TABLE payments DROP CONSTRAINT payments_order_key;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments
    ADD COLUMN attempt           integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
    ADD COLUMN failure_reason    text,
    ADD COLUMN refunded          bigint NOT NULL DEFAULT 0,
    ADD COLUMN cancel_requested  boolean NOT NULL DEFAULT false,
    ADD COLUMN charge_sent       boolean NOT NULL DEFAULT false,
    ADD COLUMN void_sent         boolean NOT NULL DEFAULT false,
    ADD COLUMN due               boolean NOT NULL DEFAULT false,
    ADD COLUMN tries             integer NOT NULL DEFAULT 0,
    ADD COLUMN lease_until       timestamptz,
    ADD CONSTRAINT payments_status_check CHECK (status IN
        ('pending', 'succeeded', 'failed', 'voided', 'partially_refunded', 'refunded')),
    ADD CONSTRAINT payments_refunded_check CHECK (refunded >= 0 AND refunded <= amount),
    ADD CONSTRAINT payments_attempt_key UNIQUE (order_id, attempt);
CREATE INDEX payments_due ON payments (updated_at) WHERE due;

-- Refunds of a payment: each with its gateway reference and state. What is refunded or on
-- its way back never exceeds what was taken (checked under the payment's row lock).
CREATE TABLE refunds (
    id               uuid PRIMARY KEY,
    payment_id       uuid NOT NULL REFERENCES payments (id),
    amount           bigint NOT NULL CHECK (amount > 0),
    status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason           text NOT NULL,
    requested_by     text NOT NULL,
    idempotency_key  text,
    provider_ref     text,
    failure_reason   text,
    due              boolean NOT NULL DEFAULT true,
    tries            integer NOT NULL DEFAULT 0,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_idempotency_key UNIQUE (payment_id, idempotency_key)
);
CREATE INDEX refunds_payment ON refunds (payment_id, created_at);
CREATE INDEX refunds_due ON refunds (updated_at) WHERE due;

-- Orders that were canceled: an attempt that arrives for one afterwards is never charged.
CREATE TABLE closed_orders (
    order_id    uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The sandbox decides each intent's outcome once, and keeps its refunds.
ALTER TABLE sandbox_intents ADD COLUMN status text NOT NULL DEFAULT 'processing'
    CHECK (status IN ('processing', 'succeeded', 'failed', 'canceled'));
CREATE TABLE sandbox_refunds (
    id               text PRIMARY KEY,
    intent_id        text NOT NULL REFERENCES sandbox_intents (id),
    idempotency_key  text NOT NULL UNIQUE,
    amount           bigint NOT NULL CHECK (amount > 0),
    refund_id        uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
