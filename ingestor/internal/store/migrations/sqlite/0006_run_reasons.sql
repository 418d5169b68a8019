-- The public reason of a run that stored nothing ("no rates published",
-- "database unavailable"...): what GET /api/v1/ingest/runs shows anyone,
-- while error keeps the full cause for the admin. '' on success and on
-- runs recorded before reasons existed.
ALTER TABLE ingestion_runs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
