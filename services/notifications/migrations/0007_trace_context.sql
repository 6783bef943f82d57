-- The trace of the event a message was queued for, which its sending continues.
ALTER TABLE deliveries ADD COLUMN traceparent text;
