-- Events waiting for the relay; a row is deleted once the broker has confirmed it.
CREATE TABLE IF NOT EXISTS outbox (
    id          uuid PRIMARY KEY,
    event_type  text NOT NULL,
    envelope    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- The span that enqueued the event, so its consumers continue the same trace.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent text;

-- One row per event a consumer has applied, written in the same transaction as the effect.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
