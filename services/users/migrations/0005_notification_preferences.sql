-- How a user wants to be told things: by SMS too (when they have a phone number), and in
-- which language. Every change of these or of the phone bumps contact_version, which goes
-- out with user.contact_changed so a late event never undoes a newer one.
ALTER TABLE users
    ADD COLUMN sms_notifications  boolean NOT NULL DEFAULT true,
    ADD COLUMN language           text NOT NULL DEFAULT 'en'
        CHECK (language ~ '^[a-z]{2}(-[A-Z]{2})?$'),
    ADD COLUMN contact_version    bigint NOT NULL DEFAULT 0;
