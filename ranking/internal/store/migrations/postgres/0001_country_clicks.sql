-- The ranking's source of truth (DESIGN.md §4): click counts per country per
-- KST day. Redis only ever holds what can be rebuilt from this table.
CREATE TABLE country_clicks (
    country_code TEXT NOT NULL CHECK (length(country_code) = 2),
    day          DATE NOT NULL,
    clicks       BIGINT NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (country_code, day)
);
-- Daily, weekly and monthly rankings read one range of days across all countries.
CREATE INDEX country_clicks_day_idx ON country_clicks (day);

-- One row per admin reset of a day, so a reset is never silent.
CREATE TABLE ranking_resets (
    id                BIGSERIAL PRIMARY KEY,
    day               DATE NOT NULL,
    removed_countries INTEGER NOT NULL,
    removed_clicks    BIGINT NOT NULL,
    reset_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX ranking_resets_day_idx ON ranking_resets (day);
