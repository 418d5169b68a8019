-- The cross-provider check of a run (DESIGN.md §5) as JSON: the reference
-- provider, how many quotes were compared, the ones not published because
-- they differed from the reference by more than the bound, or why no
-- check was made. '' for runs without one and runs recorded before it.
ALTER TABLE ingestion_runs ADD COLUMN cross_check TEXT NOT NULL DEFAULT '';
