-- The trace of the checkout a payment belongs to: the charge, and the webhook that settles
-- it, continue that trace, though each starts on its own (in the worker, at the provider).
ALTER TABLE payments ADD COLUMN traceparent text;
