-- A delivery went out on a channel Kazna has, as templates already do.
ALTER TABLE deliveries ADD CONSTRAINT deliveries_channel_check CHECK (channel IN ('email', 'sms'));
