-- Every status an order has been in is one the state machine knows, and currencies look like
-- ISO 4217 codes, as they do everywhere else.
ALTER TABLE order_history ADD CONSTRAINT order_history_status_check CHECK (status IN
    ('pending_payment', 'paid', 'shipped', 'delivered', 'canceled', 'refunded'));
ALTER TABLE orders ADD CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$');
