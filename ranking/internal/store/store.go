// Package store keeps the ranking's data in SQL (PostgreSQL or SQLite via
// sqldb): click counts per country per KST day, the source of truth that
// the Redis ranking is rebuilt from, the mutation sequence that orders
// every change to them, and the record of admin resets. It owns these
// tables' migrations, which are embedded so the binary carries its schema.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/shared/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Module is the name the ranking's migrations are recorded under in
// schema_migrations, shared with the other services' modules.
const Module = "ranking"

// Store is the SQL store of the ranking service; it implements rank.Store.
type Store struct {
	db *sqlx.DB
	pg bool
}

var _ rank.Store = (*Store)(nil)

// New wraps an open database; the caller keeps ownership and closes it.
func New(db *sqlx.DB) *Store { return &Store{db: db, pg: sqldb.Is(db, sqldb.Postgres)} }

// Migrate brings the schema up to date. It is safe to run on every start
// and from several processes at once.
func (s *Store) Migrate(ctx context.Context) error {
	// sqldb.Migrate wants the dialect directories at the root.
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", Module, err)
	}
	return sqldb.Migrate(ctx, s.db, Module, fsys)
}

// Ping checks the database, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// nextSeq takes the next mutation number. On PostgreSQL the row lock it
// takes is held until the transaction ends, so mutations commit in
// number order; SQLite serialises write transactions anyway.
func nextSeq(ctx context.Context, tx *sqlx.Tx) (int64, error) {
	var seq int64
	if err := tx.GetContext(ctx, &seq, `UPDATE ranking_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq`); err != nil {
		return 0, fmt.Errorf("take mutation number: %w", err)
	}
	return seq, nil
}

// maxRowsPerStatement keeps an upsert's placeholders (4 per row) well
// under both databases' limits.
const maxRowsPerStatement = 1000

// AddClicks implements rank.Store with multi-row upserts.
func (s *Store) AddClicks(ctx context.Context, deltas []rank.Delta, at time.Time) (int64, map[rank.DayCountry]int64, error) {
	for _, d := range deltas {
		if d.Clicks <= 0 {
			return 0, nil, fmt.Errorf("add clicks: non-positive delta %d for %s on %s", d.Clicks, d.Country, d.Day)
		}
	}
	if s.pg {
		return s.addClicksPostgres(ctx, deltas, at)
	}
	counts := make(map[rank.DayCountry]int64, len(deltas))
	var seq int64
	err := sqldb.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if seq, err = nextSeq(ctx, tx); err != nil {
			return err
		}
		for start := 0; start < len(deltas); start += maxRowsPerStatement {
			chunk := deltas[start:min(start+maxRowsPerStatement, len(deltas))]
			var q strings.Builder
			q.WriteString(`INSERT INTO country_clicks (country_code, day, clicks, updated_at) VALUES `)
			args := make([]any, 0, 4*len(chunk))
			for i, d := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?)")
				args = append(args, d.Country, d.Day.String(), d.Clicks, at.UTC())
			}
			q.WriteString(` ON CONFLICT (country_code, day) DO UPDATE
				SET clicks = country_clicks.clicks + excluded.clicks, updated_at = excluded.updated_at
				RETURNING country_code, day, clicks`)
			rows, err := tx.QueryContext(ctx, tx.Rebind(q.String()), args...)
			if err != nil {
				return fmt.Errorf("add clicks: %w", err)
			}
			for rows.Next() {
				var code string
				var day dayValue
				var n int64
				if err := rows.Scan(&code, &day, &n); err != nil {
					rows.Close()
					return fmt.Errorf("add clicks: scan: %w", err)
				}
				counts[rank.DayCountry{Day: day.Day, Country: code}] = n
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("add clicks: %w", err)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("add clicks: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return seq, counts, nil
}

// addClicksPG is the PostgreSQL form of AddClicks: one statement, so one
// round trip in autocommit instead of BEGIN, two statements and COMMIT,
// and one constant text that pgx prepares once. The insert reads the
// sequence update's row, so the sequence row is locked first, as in
// every other transaction that takes a number (no lock-order deadlock).
//
// It commits asynchronously (synchronous_commit off for this transaction
// only, set by the cfg CTE, which the final SELECT reads so that it runs):
// the commit returns before its WAL reaches the disk, and the WAL writer
// flushes it within 3 x wal_writer_delay (0.6 s by default). A crash of
// the ranking service loses nothing; a crash of PostgreSQL itself (or its
// machine) can lose at most that last fraction of a second of clicks —
// the "at most one second at risk" the design allows — and never
// corrupts or doubles anything. This is what lets the sequence row, which
// every change locks until it commits, pass to the next batch without
// waiting for a disk flush. Resets stay synchronous.
const addClicksPG = `WITH cfg AS (
	SELECT set_config('synchronous_commit', 'off', true) AS v
), s AS (
	UPDATE ranking_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq
), ins AS (
	INSERT INTO country_clicks (country_code, day, clicks, updated_at)
	SELECT t.c, t.d::date, t.n, $4 FROM s, unnest($1::text[], $2::text[], $3::bigint[]) AS t(c, d, n)
	ON CONFLICT (country_code, day) DO UPDATE
		SET clicks = country_clicks.clicks + excluded.clicks, updated_at = excluded.updated_at
	RETURNING country_code, day, clicks
)
SELECT s.seq, ins.country_code, ins.day, ins.clicks FROM cfg, s, ins`

func (s *Store) addClicksPostgres(ctx context.Context, deltas []rank.Delta, at time.Time) (int64, map[rank.DayCountry]int64, error) {
	codes := make([]string, len(deltas))
	days := make([]string, len(deltas))
	ns := make([]int64, len(deltas))
	for i, d := range deltas {
		codes[i], days[i], ns[i] = d.Country, d.Day.String(), d.Clicks
	}
	rows, err := s.db.QueryContext(ctx, addClicksPG, codes, days, ns, at.UTC())
	if err != nil {
		return 0, nil, fmt.Errorf("add clicks: %w", err)
	}
	defer rows.Close()
	var seq int64
	counts := make(map[rank.DayCountry]int64, len(deltas))
	for rows.Next() {
		var code string
		var day dayValue
		var n int64
		if err := rows.Scan(&seq, &code, &day, &n); err != nil {
			return 0, nil, fmt.Errorf("add clicks: scan: %w", err)
		}
		counts[rank.DayCountry{Day: day.Day, Country: code}] = n
	}
	// The statement commits when its result is fully read; an error here
	// (including a failed commit) means nothing was stored.
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("add clicks: %w", err)
	}
	if err := rows.Close(); err != nil {
		return 0, nil, fmt.Errorf("add clicks: %w", err)
	}
	if len(counts) != len(deltas) || seq == 0 {
		return 0, nil, fmt.Errorf("add clicks: stored %d of %d rows", len(counts), len(deltas))
	}
	return seq, counts, nil
}

// Snapshot implements rank.Store. It is one statement, so PostgreSQL (read
// committed) and SQLite alike answer it from one snapshot: the sequence
// number it returns is that of the last change its sums include.
func (s *Store) Snapshot(ctx context.Context, from, to rank.Day) (int64, map[string]int64, error) {
	where, args := "", []any{}
	if !from.IsZero() {
		where, args = ` WHERE day >= ? AND day <= ?`, []any{from.String(), to.String()}
	}
	q := `SELECT '' AS country_code, seq AS clicks FROM ranking_seq WHERE id = 1
		UNION ALL
		SELECT country_code, CAST(SUM(clicks) AS BIGINT) FROM country_clicks` + where + ` GROUP BY country_code`
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot clicks: %w", err)
	}
	defer rows.Close()
	seq, seen := int64(0), false
	counts := map[string]int64{}
	for rows.Next() {
		var code string
		var n int64
		if err := rows.Scan(&code, &n); err != nil {
			return 0, nil, fmt.Errorf("snapshot clicks: scan: %w", err)
		}
		if code == "" {
			seq, seen = n, true
			continue
		}
		if n > 0 {
			counts[code] = n
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("snapshot clicks: %w", err)
	}
	if !seen {
		return 0, nil, fmt.Errorf("snapshot clicks: ranking_seq has no row (migrations not applied?)")
	}
	return seq, counts, nil
}

// CountryTotal implements rank.Store.
func (s *Store) CountryTotal(ctx context.Context, code string) (int64, error) {
	var n int64
	err := s.db.GetContext(ctx, &n, s.db.Rebind(
		`SELECT CAST(COALESCE(SUM(clicks), 0) AS BIGINT) FROM country_clicks WHERE country_code = ?`), code)
	if err != nil {
		return 0, fmt.Errorf("total clicks of %s: %w", code, err)
	}
	return n, nil
}

// DailyCounts implements rank.Store.
func (s *Store) DailyCounts(ctx context.Context, code string, from, to rank.Day) ([]rank.DayCount, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(
		`SELECT day, clicks FROM country_clicks WHERE country_code = ? AND day >= ? AND day <= ? AND clicks > 0 ORDER BY day`),
		code, from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("daily clicks of %s: %w", code, err)
	}
	defer rows.Close()
	var out []rank.DayCount
	for rows.Next() {
		var d dayValue
		var n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("daily clicks of %s: scan: %w", code, err)
		}
		out = append(out, rank.DayCount{Day: d.Day, Clicks: n})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily clicks of %s: %w", code, err)
	}
	return out, nil
}

// ResetDay implements rank.Store. The mutation number is taken first, so
// no click transaction can add to the day between the read and the delete.
func (s *Store) ResetDay(ctx context.Context, day rank.Day, at time.Time) (rank.ResetRecord, error) {
	rec := rank.ResetRecord{Day: day, At: at.UTC().Truncate(time.Microsecond)}
	err := sqldb.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if rec.Seq, err = nextSeq(ctx, tx); err != nil {
			return err
		}
		rec.Removed = nil
		if err := tx.SelectContext(ctx, &rec.Removed, tx.Rebind(
			`SELECT country_code AS country, clicks FROM country_clicks WHERE day = ? AND clicks > 0 ORDER BY country_code`),
			day.String()); err != nil {
			return fmt.Errorf("read clicks of %s: %w", day, err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM country_clicks WHERE day = ?`), day.String()); err != nil {
			return fmt.Errorf("delete clicks of %s: %w", day, err)
		}
		var total int64
		for _, r := range rec.Removed {
			total += r.Clicks
		}
		removed := rec.Removed
		if removed == nil {
			removed = []rank.CountryClicks{}
		}
		js, err := json.Marshal(removed)
		if err != nil {
			return fmt.Errorf("encode removed clicks: %w", err)
		}
		err = tx.GetContext(ctx, &rec.ID, tx.Rebind(
			`INSERT INTO ranking_resets (day, removed_countries, removed_clicks, removed, seq, reset_at)
			 VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			day.String(), len(rec.Removed), total, string(js), rec.Seq, rec.At)
		if err != nil {
			return fmt.Errorf("record reset of %s: %w", day, err)
		}
		return nil
	})
	if err != nil {
		return rank.ResetRecord{}, err
	}
	return rec, nil
}

// Resets returns the recorded resets of a day, oldest first.
func (s *Store) Resets(ctx context.Context, day rank.Day) ([]rank.ResetRecord, error) {
	var rows []struct {
		ID      int64     `db:"id"`
		Seq     int64     `db:"seq"`
		Removed string    `db:"removed"`
		At      time.Time `db:"reset_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(
		`SELECT id, seq, removed, reset_at FROM ranking_resets WHERE day = ? ORDER BY id`), day.String()); err != nil {
		return nil, fmt.Errorf("resets of %s: %w", day, err)
	}
	out := make([]rank.ResetRecord, 0, len(rows))
	for _, r := range rows {
		rec := rank.ResetRecord{ID: r.ID, Day: day, Seq: r.Seq, At: r.At.UTC()}
		if err := json.Unmarshal([]byte(r.Removed), &rec.Removed); err != nil {
			return nil, fmt.Errorf("resets of %s: decode removed: %w", day, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// dayValue scans a day column: PostgreSQL's DATE arrives as time.Time,
// SQLite's TEXT as a string.
type dayValue struct{ rank.Day }

// Scan implements sql.Scanner.
func (d *dayValue) Scan(v any) error {
	var s string
	switch x := v.(type) {
	case time.Time:
		s = x.Format("2006-01-02")
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return fmt.Errorf("day: unexpected %T", v)
	}
	if len(s) > 10 {
		s = s[:10] // a driver that renders a DATE as a timestamp
	}
	day, err := rank.ParseDay(s)
	if err != nil {
		return err
	}
	d.Day = day
	return nil
}

var _ sql.Scanner = (*dayValue)(nil)
