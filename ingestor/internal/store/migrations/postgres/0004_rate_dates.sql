-- The bank day (KST, YYYY-MM-DD) a rate belongs to. A daily source (Korea
-- Eximbank) quotes one rate per currency per bank day, and a later fetch of
-- that day is a revision of its observation; its latest rate may be carried
-- over weekends and holidays, and says from which day. NULL on rows stored
-- before this column existed: read as the KST day of recorded_at.
ALTER TABLE rate_observations ADD COLUMN rate_date TEXT CHECK (length(rate_date) = 10);
ALTER TABLE latest_rates ADD COLUMN rate_date TEXT CHECK (length(rate_date) = 10);
-- The bank day of the rates a run stored ('' when it stored none).
ALTER TABLE ingestion_runs ADD COLUMN rate_date TEXT NOT NULL DEFAULT '';
-- Finds a daily source's observation of a day, to revise it.
CREATE INDEX rate_observations_source_day_idx ON rate_observations (source, rate_date, currency_code);
