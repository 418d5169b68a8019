-- a second step, to prove ordering
CREATE INDEX items_at_idx ON items (at);
