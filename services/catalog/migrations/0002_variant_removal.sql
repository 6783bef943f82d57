-- A removed variant is no longer sold; orders and held reservations keep their references.
ALTER TABLE variants ADD COLUMN removed_at timestamptz;
