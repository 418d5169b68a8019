-- Retention deletes observations by age.
CREATE INDEX rate_observations_recorded_idx ON rate_observations (recorded_at);
