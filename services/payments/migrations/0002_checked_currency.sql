-- Currencies look like ISO 4217 codes, and providers are ones Kazna knows.
ALTER TABLE payments ADD CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE payments ADD CONSTRAINT payments_provider_check CHECK (provider IN ('sandbox'));
