-- Orders. Amounts are integer minor units in the order's currency.
CREATE TABLE orders (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL,
    email             text NOT NULL,
    status            text NOT NULL CHECK (status IN
                        ('pending_payment', 'paid', 'shipped', 'delivered', 'canceled', 'refunded')),
    total_amount      bigint NOT NULL CHECK (total_amount >= 0),
    currency          text NOT NULL,
    payment_method    text NOT NULL,
    shipping_address  jsonb NOT NULL,
    payment_id        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user ON orders (user_id, id DESC);

CREATE TABLE order_lines (
    order_id    uuid NOT NULL REFERENCES orders (id),
    variant_id  uuid NOT NULL,
    product_id  uuid NOT NULL,
    name        text NOT NULL,
    sku         text NOT NULL,
    quantity    bigint NOT NULL CHECK (quantity > 0),
    unit_price  bigint NOT NULL CHECK (unit_price >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, variant_id)
);

-- Every status an order has been in, and when.
CREATE TABLE order_history (
    order_id    uuid NOT NULL REFERENCES orders (id),
    status      text NOT NULL,
    note        text,
    at          timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_history_order ON order_history (order_id, at);

-- Idempotency keys of POST /orders: a retry with the same key and body gets the first answer.
CREATE TABLE idempotency_keys (
    user_id          uuid NOT NULL,
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    response_status  smallint,
    response_body    jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
