-- The cross-provider check of a run (DESIGN.md §5) as JSON: the reference
-- provider, how many quotes were compared, the ones not published because
-- they differed from the reference by more than the bound, or why no
-- check was made. '' for runs without one and runs recorded before it.
ALTER TABLE ingestion_runs ADD COLUMN cross_check TEXT NOT NULL DEFAULT '';

-- Freshness of each latest rate (DESIGN.md §4): when ratewire fetched it
-- from its source, and when the source was then expected to publish its
-- next update. NULL for rows stored before, and next_update_at for
-- sources without a schedule (the simulator).
ALTER TABLE latest_rates ADD COLUMN fetched_at TIMESTAMP;
ALTER TABLE latest_rates ADD COLUMN next_update_at TIMESTAMP;
