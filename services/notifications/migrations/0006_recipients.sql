-- What notifications knows of each user, from user.contact_changed: where SMS goes, whether
-- it is on, the language of their messages. A change applies only over an older version.
CREATE TABLE recipients (
    user_id     uuid PRIMARY KEY,
    phone       text,
    sms         boolean NOT NULL,
    language    text NOT NULL,
    version     bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
