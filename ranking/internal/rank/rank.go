// Package rank is the ranking service: it counts clicks on countries per
// KST day and answers the daily, weekly, monthly and all-time rankings.
//
// SQL is the source of truth. Every change to the counts — a group of
// clicks or an admin reset — is one SQL transaction that also takes the
// next number of a mutation sequence; the Redis leaderboards are a cache
// that knows which sequence number each board was built up to, so a
// change is added to a board exactly once whatever order the SQL commit,
// the Redis update and a rebuild from SQL happen in (see Boards). A board
// that Redis lost, or that missed an update, is rebuilt from SQL.
//
// HTTP handlers are thin adapters over Service; the store, the boards and
// the abuse limiter are ports declared here and implemented elsewhere.
package rank

import (
	"context"
	"time"

	"github.com/ratewire/ratewire/shared/country"
)

// Delta is a change of one country's clicks on one day: positive for
// clicks, negative for what a reset removed.
type Delta struct {
	Day     Day
	Country string
	Clicks  int64
}

// DayCountry keys a count.
type DayCountry struct {
	Day     Day
	Country string
}

// DayCount is one day's clicks of one country.
type DayCount struct {
	Day    Day
	Clicks int64
}

// CountryClicks is one country's clicks.
type CountryClicks struct {
	Country string `json:"country_code"`
	Clicks  int64  `json:"clicks"`
}

// ResetRecord is what an admin reset removed, as recorded in SQL.
type ResetRecord struct {
	ID      int64
	Day     Day
	Seq     int64
	Removed []CountryClicks
	At      time.Time
}

// Store is the durable side: per-KST-day counts in SQL.
type Store interface {
	// AddClicks adds positive deltas, aggregated so that each (day,
	// country) appears once, in one transaction that takes the next
	// mutation sequence number. It returns that number and each row's
	// count after the transaction.
	AddClicks(ctx context.Context, deltas []Delta, at time.Time) (seq int64, counts map[DayCountry]int64, err error)
	// Snapshot sums every country's clicks over the days from..to (both
	// zero: all days), in one consistent read that also returns the
	// sequence number of the last mutation it includes.
	Snapshot(ctx context.Context, from, to Day) (seq int64, counts map[string]int64, err error)
	// CountryTotal is a country's clicks over all days.
	CountryTotal(ctx context.Context, code string) (int64, error)
	// DailyCounts returns a country's non-zero days within from..to.
	DailyCounts(ctx context.Context, code string, from, to Day) ([]DayCount, error)
	// ResetDay removes a day's counts, recording what it removed, in one
	// transaction that takes the next mutation sequence number.
	ResetDay(ctx context.Context, day Day, at time.Time) (ResetRecord, error)
}

// Standing is a country's score and competition rank on one board.
type Standing struct {
	Clicks int64
	Rank   int
}

// Boards is the Redis side: one sorted set per board, each with a marker
// holding the sequence number it was built up to.
type Boards interface {
	// Apply adds the deltas of mutation seq to each of their boards that
	// is live and does not include seq yet; for a board that is being
	// rebuilt it parks them so the rebuild adds them. It returns the new
	// standing of each country on each live board.
	Apply(ctx context.Context, seq int64, deltas []Delta) (map[Board]map[string]Standing, error)
	// Scores returns a live board's scores; ok is false when the board
	// must be rebuilt from SQL first.
	Scores(ctx context.Context, b Board) (scores map[string]int64, ok bool, err error)
	// Fill builds board b from counts read from SQL up to mutation seq,
	// plus anything parked for it after seq, unless it is live already.
	Fill(ctx context.Context, b Board, seq int64, counts map[string]int64) error
	// Invalidate marks boards for rebuilding from SQL.
	Invalidate(ctx context.Context, boards ...Board) error
}

// Client is who sent a click, as the rate limits see it. Addr is the
// client address (the peer, or what a trusted gateway reports in
// X-Forwarded-For) and always limits; ID, the optional X-Client-Id,
// only tells apart people behind one address and never escapes the
// address's own limits.
type Client struct {
	Addr string
	ID   string
}

// Scope names the limit that refused a click.
type Scope string

// Scopes of a refusal.
const (
	// ScopeClient is the per-client limit of one (address, id).
	ScopeClient Scope = "client"
	// ScopeAddress is the budget of the address, all ids together.
	ScopeAddress Scope = "address"
)

// Admission is the limiter's verdict on one click.
type Admission struct {
	// Allowed is false when the client or its address is over its limit.
	Allowed bool
	// Scope says which limit refused the click when Allowed is false.
	Scope Scope
	// RetryAfter is when a refused client may try again.
	RetryAfter time.Duration
	// First is false when the same client clicked the same country within
	// the duplicate window: the click is answered but not counted.
	First bool
}

// Limiter is the abuse guard shared by every instance.
type Limiter interface {
	Admit(ctx context.Context, client Client, country string) (Admission, error)
}

// Countries resolves what a user typed to a country.
type Countries interface {
	Lookup(input string) (country.Country, bool)
	ByCode(code string) (country.Country, bool)
}
