-- The whole life of an order: payment attempts, the stock it should hold, who shipped what.
ALTER TABLE orders
    -- The current payment attempt, and what orders last heard of it.
    ADD COLUMN attempt          integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
    ADD COLUMN payment_status   text NOT NULL DEFAULT 'pending' CHECK (payment_status IN
        ('pending', 'succeeded', 'failed', 'voided', 'partially_refunded', 'refunded')),
    ADD COLUMN payment_failure  text,
    ADD COLUMN refunded_amount  bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    -- When an unpaid order is canceled.
    ADD COLUMN pay_by           timestamptz,
    -- What the catalog should have done with the order's units; carried out after the
    -- change that sets it commits, until `stock_synced` catches up with `stock_version`.
    ADD COLUMN stock_target     text NOT NULL DEFAULT 'held'
        CHECK (stock_target IN ('held', 'committed', 'released')),
    ADD COLUMN stock_version    integer NOT NULL DEFAULT 0,
    ADD COLUMN stock_synced     integer NOT NULL DEFAULT 0,
    ADD COLUMN stock_tries      integer NOT NULL DEFAULT 0,
    ADD COLUMN stock_lease_until timestamptz;
CREATE INDEX orders_stock_due ON orders (updated_at) WHERE stock_synced < stock_version;
CREATE INDEX orders_unpaid ON orders (pay_by) WHERE status = 'pending_payment';
CREATE INDEX orders_status ON orders (status, id DESC);

-- Who sells each line; lines from before sellers were recorded belong to nobody (the nil id),
-- and only an admin ships them.
ALTER TABLE order_lines ADD COLUMN seller_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE order_lines ALTER COLUMN seller_id DROP DEFAULT;
CREATE INDEX order_lines_seller ON order_lines (seller_id, order_id);

-- Who made each change: a user id, `system`, or a payment provider.
ALTER TABLE order_history ADD COLUMN by text NOT NULL DEFAULT 'system';

-- Each seller's parcel of an order.
CREATE TABLE shipments (
    order_id         uuid NOT NULL REFERENCES orders (id),
    seller_id        uuid NOT NULL,
    status           text NOT NULL CHECK (status IN ('shipped', 'delivered')),
    carrier          text,
    tracking_number  text,
    shipped_by       text NOT NULL,
    shipped_at       timestamptz NOT NULL DEFAULT now(),
    delivered_by     text,
    delivered_at     timestamptz,
    PRIMARY KEY (order_id, seller_id)
);
