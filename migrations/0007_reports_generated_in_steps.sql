-- Reports are generated in steps: the report's row first (not ready), then
-- its parts in short transactions while the logs are read in a read-only
-- one, then the row is marked ready. A report being generated thus holds no
-- transaction id for long (which would hold back the live tail) and is
-- invisible until ready. `touched_at` is renewed with every part, so the
-- rows of a generation that died with its diagd are recognised and removed.

ALTER TABLE reports ADD COLUMN ready boolean NOT NULL DEFAULT true;
ALTER TABLE reports ADD COLUMN touched_at timestamptz;
CREATE INDEX reports_not_ready ON reports (touched_at) WHERE NOT ready;
