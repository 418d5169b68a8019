-- Daily OHLC of the mid rate per currency per KST calendar day. Long
-- history periods read these instead of raw observations; they are kept
-- when raw observations expire.
CREATE TABLE daily_rates (
    currency_code TEXT NOT NULL,
    day           TEXT NOT NULL CHECK (length(day) = 10), -- KST day, YYYY-MM-DD: one representation on both databases
    open          NUMERIC(30, 10) NOT NULL,
    high          NUMERIC(30, 10) NOT NULL,
    low           NUMERIC(30, 10) NOT NULL,
    close         NUMERIC(30, 10) NOT NULL,
    samples       INTEGER NOT NULL,
    first_at      TIMESTAMPTZ NOT NULL,
    last_at       TIMESTAMPTZ NOT NULL,
    source        TEXT NOT NULL,
    PRIMARY KEY (currency_code, day)
);
CREATE INDEX daily_rates_day_idx ON daily_rates (day);

-- One row per ingestion run: what it did, how long it took, why it failed.
CREATE TABLE ingestion_runs (
    id          TEXT PRIMARY KEY,
    trigger     TEXT NOT NULL,
    status      TEXT NOT NULL,
    provider    TEXT NOT NULL,
    fetched     INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    changed     INTEGER NOT NULL,
    events      INTEGER NOT NULL,
    attempts    TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    duration_ms BIGINT NOT NULL,
    error       TEXT NOT NULL
);
CREATE INDEX ingestion_runs_started_idx ON ingestion_runs (started_at);

-- The transactional outbox: a run's events, written in the run's
-- transaction, published in id order by the relay and then marked sent.
CREATE TABLE outbox (
    id         BIGSERIAL PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    topic      TEXT NOT NULL,
    msg_key    TEXT NOT NULL,
    payload    TEXT NOT NULL,
    headers    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE sent_at IS NULL;
