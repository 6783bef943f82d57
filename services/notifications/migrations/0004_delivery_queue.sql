-- Deliveries become a queue that tells the truth: a message is recorded `queued` when its
-- event arrives, with what it says, and the worker tries it (`retrying` between tries) until
-- it is `sent` or `failed`. One message per event, channel and recipient.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('queued', 'sent', 'retrying', 'failed'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_channel_key;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_channel_recipient_key
    UNIQUE (event_id, channel, recipient);
ALTER TABLE deliveries ALTER COLUMN attempts SET DEFAULT 0;
ALTER TABLE deliveries
    ADD COLUMN body                 text NOT NULL DEFAULT '',
    ADD COLUMN html                 text,
    ADD COLUMN provider             text,
    ADD COLUMN provider_message_id  text,
    ADD COLUMN next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_until          timestamptz,
    ADD COLUMN sent_at              timestamptz;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('queued', 'retrying');
CREATE INDEX deliveries_status ON deliveries (status, id DESC);
