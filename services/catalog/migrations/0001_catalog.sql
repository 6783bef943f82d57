-- The category tree.
CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    parent_id   uuid REFERENCES categories (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX categories_parent ON categories (parent_id);

-- Products; ids are UUIDv7, so ordering by id is ordering by creation.
CREATE TABLE products (
    id            uuid PRIMARY KEY,
    seller_id     uuid NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    images        jsonb NOT NULL DEFAULT '[]',
    attributes    jsonb NOT NULL DEFAULT '{}',
    category_ids  uuid[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'hidden', 'deleted')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_status_id ON products (status, id DESC);
CREATE INDEX products_categories ON products USING gin (category_ids);

-- Variants carry price and stock. `reserved` units are held for unpaid orders;
-- the checks make overselling impossible whatever the application does.
CREATE TABLE variants (
    id            uuid PRIMARY KEY,
    product_id    uuid NOT NULL REFERENCES products (id),
    sku           text NOT NULL,
    options       jsonb NOT NULL DEFAULT '{}',
    price_amount  bigint NOT NULL CHECK (price_amount >= 0),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    stock         bigint NOT NULL CHECK (stock >= 0),
    reserved      bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT variants_sku_key UNIQUE (sku),
    CONSTRAINT variants_reserved_within_stock CHECK (reserved <= stock)
);
CREATE INDEX variants_product ON variants (product_id);

-- Stock held for an order, one row per line.
CREATE TABLE reservations (
    order_id    uuid NOT NULL,
    variant_id  uuid NOT NULL REFERENCES variants (id),
    quantity    bigint NOT NULL CHECK (quantity > 0),
    status      text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'committed', 'released')),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, variant_id)
);
CREATE INDEX reservations_expiry ON reservations (expires_at) WHERE status = 'held';
