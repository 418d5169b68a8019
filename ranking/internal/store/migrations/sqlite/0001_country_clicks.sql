-- The ranking's source of truth (DESIGN.md §4): click counts per country per
-- KST day. Redis only ever holds what can be rebuilt from this table.
-- SQLite has no DATE type: days are TEXT 'YYYY-MM-DD', which sorts and
-- compares as dates do.
CREATE TABLE country_clicks (
    country_code TEXT NOT NULL CHECK (length(country_code) = 2),
    day          TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    clicks       INTEGER NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (country_code, day)
);
-- Daily, weekly and monthly rankings read one range of days across all countries.
CREATE INDEX country_clicks_day_idx ON country_clicks (day);

-- One row per admin reset of a day, so a reset is never silent.
CREATE TABLE ranking_resets (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    day               TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    removed_countries INTEGER NOT NULL,
    removed_clicks    INTEGER NOT NULL,
    reset_at          TIMESTAMP NOT NULL
);
CREATE INDEX ranking_resets_day_idx ON ranking_resets (day);
