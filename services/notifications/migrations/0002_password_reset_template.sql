INSERT INTO templates (event, channel, subject, body) VALUES
('user.password_reset_requested', 'email', 'Reset your password',
'Hello {{ name }},

someone asked to reset the password of your account. If it was you, open this link:

{{ reset_url }}

The link works once and expires in 30 minutes. If it was not you, ignore this email:
your password stays as it is.
');
