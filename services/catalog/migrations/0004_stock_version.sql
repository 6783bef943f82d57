-- Counts each variant's stock changes, so readers of `catalog.stock.changed` can tell a late
-- copy from a newer one.
ALTER TABLE variants ADD COLUMN stock_version bigint NOT NULL DEFAULT 0;
