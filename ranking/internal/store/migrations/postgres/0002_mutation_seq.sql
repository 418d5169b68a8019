-- Every change to the counts (a batch of clicks, a reset) takes the next
-- number of this one-row sequence inside its transaction. The row lock
-- makes numbers commit in order, so a snapshot that reads seq = N contains
-- exactly the changes numbered up to N; the Redis leaderboards record the
-- N they were built from and add only later changes.
CREATE TABLE ranking_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO ranking_seq (id, seq) VALUES (1, 0);

-- What a reset removed, per country, as JSON [{"country_code","clicks"}],
-- and the change number it took.
ALTER TABLE ranking_resets ADD COLUMN removed TEXT NOT NULL DEFAULT '[]';
ALTER TABLE ranking_resets ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
