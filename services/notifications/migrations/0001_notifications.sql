-- Message templates per event and channel, in minijinja (Jinja2) syntax.
CREATE TABLE templates (
    event       text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('email', 'sms')),
    subject     text NOT NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event, channel)
);

INSERT INTO templates (event, channel, subject, body) VALUES
('user.verification_requested', 'email', 'Confirm your email address',
'Hello {{ name }},

please confirm your email address by opening this link:

{{ verify_url }}

The link works once and expires in 24 hours.
'),
('order.placed', 'email', 'We received your order {{ order_id }}',
'Thank you for your order {{ order_id }}.

{% for line in lines %}{{ line.quantity }} x {{ line.name }}  {{ line.unit_price.amount | money(line.unit_price.currency) }}
{% endfor %}
Total: {{ total.amount | money(total.currency) }}

We will write again when the payment is confirmed.
'),
('order.paid', 'email', 'Order confirmed: {{ order_id }}',
'Your payment of {{ total.amount | money(total.currency) }} for order {{ order_id }} was received.
Your order is confirmed and will be shipped soon.
');

-- Every message sent or attempted, one per event and channel.
CREATE TABLE deliveries (
    id          uuid PRIMARY KEY,
    event_id    uuid NOT NULL,
    event       text NOT NULL,
    channel     text NOT NULL,
    recipient   text NOT NULL,
    subject     text NOT NULL,
    status      text NOT NULL CHECK (status IN ('sent', 'failed')),
    attempts    integer NOT NULL DEFAULT 1,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deliveries_event_channel_key UNIQUE (event_id, channel)
);
CREATE INDEX deliveries_recipient ON deliveries (recipient, id DESC);
