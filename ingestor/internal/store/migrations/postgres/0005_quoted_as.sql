-- The code a source quoted a latest rate under when it is not the rate's
-- own: CNY served from a CNH quote (or CNH from CNY) says so. '' when the
-- source quoted the currency itself.
ALTER TABLE latest_rates ADD COLUMN quoted_as TEXT NOT NULL DEFAULT '';
