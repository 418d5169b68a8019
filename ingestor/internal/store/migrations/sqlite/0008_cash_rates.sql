-- Cash rates (DESIGN.md §4): cash_buy (현찰 살 때, the bank sells banknotes)
-- and cash_sell (현찰 팔 때, the bank buys them), KRW per one unit, exact
-- decimals as TEXT. NULL where the source quotes no cash rate (every
-- source but Hana Bank), never invented.
ALTER TABLE rate_observations ADD COLUMN cash_buy TEXT;
ALTER TABLE rate_observations ADD COLUMN cash_sell TEXT;
ALTER TABLE latest_rates ADD COLUMN cash_buy TEXT;
ALTER TABLE latest_rates ADD COLUMN cash_sell TEXT;
