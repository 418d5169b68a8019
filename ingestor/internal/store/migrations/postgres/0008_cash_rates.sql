-- Cash rates (DESIGN.md §4): cash_buy (현찰 살 때, the bank sells banknotes)
-- and cash_sell (현찰 팔 때, the bank buys them), KRW per one unit. NULL
-- where the source quotes no cash rate (every source but Hana Bank), never
-- invented.
ALTER TABLE rate_observations ADD COLUMN cash_buy NUMERIC(30, 10), ADD COLUMN cash_sell NUMERIC(30, 10);
ALTER TABLE latest_rates ADD COLUMN cash_buy NUMERIC(30, 10), ADD COLUMN cash_sell NUMERIC(30, 10);
