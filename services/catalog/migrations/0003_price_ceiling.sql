-- Prices stay within 10^12 minor units, so order and cart totals cannot overflow.
ALTER TABLE variants ADD CONSTRAINT variants_price_ceiling CHECK (price_amount <= 1000000000000);
