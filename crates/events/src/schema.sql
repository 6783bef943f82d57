-- Run as one statement list, so as one transaction. Instances starting at once (replicas,
-- a migration job beside its services) take turns: two `CREATE TABLE IF NOT EXISTS` of one
-- table at the same moment would fail the second.
SELECT pg_advisory_xact_lock(hashtext('kazna.events.schema'));

-- Events waiting for the relay; a row is deleted once the broker has confirmed it.
CREATE TABLE IF NOT EXISTS outbox (
    id          uuid PRIMARY KEY,
    event_type  text NOT NULL,
    envelope    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The span that enqueued the event, so its consumers continue the same trace. Added only
-- where it is missing: an ALTER would lock the outbox from its relays at every start.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'outbox'
                     AND column_name = 'traceparent') THEN
        ALTER TABLE outbox ADD COLUMN traceparent text;
    END IF;
END
$$;

-- One row per event a consumer has applied, written in the same transaction as the effect.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
