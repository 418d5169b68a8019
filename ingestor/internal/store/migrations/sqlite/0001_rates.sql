-- SQLite keeps exact decimals as TEXT: NUMERIC affinity would turn them into floats.
-- Raw observations: every quote of every provider, kept for
-- RATEWIRE_RETENTION_DAYS. Rates are KRW per one unit, exact.
CREATE TABLE rate_observations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    currency_code  TEXT NOT NULL,
    source         TEXT NOT NULL,
    deal_base_rate TEXT NOT NULL,
    tts            TEXT,
    ttb            TEXT,
    recorded_at    TIMESTAMP NOT NULL,
    run_id         TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    UNIQUE (currency_code, source, recorded_at)
);
CREATE INDEX rate_observations_code_time_idx ON rate_observations (currency_code, recorded_at);

-- The current rate per currency. version grows by one on every change, so
-- caches can refuse a fill older than what they hold.
CREATE TABLE latest_rates (
    currency_code  TEXT PRIMARY KEY,
    currency_name  TEXT NOT NULL,
    deal_base_rate TEXT NOT NULL,
    tts            TEXT,
    ttb            TEXT,
    source         TEXT NOT NULL,
    recorded_at    TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    version        INTEGER NOT NULL
);
