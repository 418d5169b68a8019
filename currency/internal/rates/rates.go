// Package rates is the currency service: current KRW rates per currency,
// served through the rate:{CODE} cache and kept fresh by the ingestor's
// events. HTTP handlers and the Kafka consumer are thin adapters over
// Service.
package rates

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/catalog"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
)

// Rate is one currency's current rate as the service serves and caches
// it: the stored rate (event.Rate, the one declaration of its fields) plus
// what Complete derives. Change and ChangePercent are nil when there is no
// rate from a previous KST day. Its JSON is what the cache stores and GET
// /{code} serves as stored.
type Rate struct {
	event.Rate
	NameEn        string           `json:"currency_name_en"`
	Symbol        string           `json:"symbol"`
	DisplayUnit   int              `json:"display_unit"`
	Change        *decimal.Decimal `json:"change"`
	ChangePercent *decimal.Decimal `json:"change_percent"`
	// CarriedOver says the rate is from an earlier bank day than today
	// (KST): carried over a weekend or holiday, or today's rates are not
	// published yet.
	CarriedOver bool `json:"carried_over"`
	// AsOf is the source's own time of the rate (RecordedAt), named as in
	// every other answer: with fetched_at and next_update_at (from
	// event.Rate) it says how fresh the rate is.
	AsOf time.Time `json:"as_of"`
}

// Store reads the rates the ingestor wrote.
type Store interface {
	// Latest returns the current rate of code, or an apperr not-found.
	Latest(ctx context.Context, code string) (Rate, error)
	// AllLatest returns every current rate, ordered by code.
	AllLatest(ctx context.Context) ([]Rate, error)
	// PreviousClose returns the last rate of code recorded before the
	// instant before, and false when there is none.
	PreviousClose(ctx context.Context, code string, before time.Time) (decimal.Decimal, bool, error)
	// Versions returns the current version of each code that has a rate.
	Versions(ctx context.Context, codes []string) (map[string]int64, error)
}

// Cache is the rate:{CODE} cache. Put keeps whichever of the stored and
// the given rate has the higher version; Invalidate replaces entries older
// than a version floor (and absent ones) with tombstones that carry the
// floor: a tombstone reads as a miss, and a Put below its floor is
// refused, so a fill that read the database before an update cannot land
// after the update's invalidation (see fill). A Put at the floor replaces
// the tombstone.
//
// Writes are kept to what changes the entry: one run of the ingestor
// writes each changed currency once (its exchange_rate_updated), and
// neither the run's cache_invalidation nor its data_processing_completed
// rewrites an entry already at the database's version with the same
// value.
type Cache interface {
	Get(ctx context.Context, code string) (Rate, bool, error)
	// GetRaw returns a hit as the JSON Put stored, undecoded.
	GetRaw(ctx context.Context, code string) ([]byte, bool, error)
	GetMany(ctx context.Context, codes []string) (map[string]Rate, error)
	Put(ctx context.Context, r Rate) error
	// PutMany is Put of each rate in turn, in one write.
	PutMany(ctx context.Context, rs []Rate) error
	// RefreshMany is PutMany that also replaces an entry of the same
	// version whose stored JSON differs from the rate's: what Complete
	// derives (the change, carried_over) can move without a new version.
	// An entry of the same version and the same JSON is left as it is,
	// TTL included.
	RefreshMany(ctx context.Context, rs []Rate) error
	// Invalidate tombstones each code whose entry is older than its floor
	// (a live entry or tombstone of a lower version) or absent, with that
	// floor; an entry at or above its floor is left as it is.
	Invalidate(ctx context.Context, floors map[string]int64) error
	// Clear is Invalidate of every listed code, whatever version its
	// entry holds (the floor is then the larger of the two).
	Clear(ctx context.Context, floors map[string]int64) error
}

// TombstoneTTL is how long an invalidation's version floor lives. A fill
// that takes longer than half of it does not write (see fill), so no fill
// can outlive the floor that guards against it.
const TombstoneTTL = time.Minute

// Service answers rate questions.
type Service struct {
	store Store
	cache Cache
	log   *slog.Logger
	now   func() time.Time

	cat *catalog.Catalog

	mu        sync.Mutex
	codes     []string
	codesRead time.Time

	// prev caches each currency's previous-KST-day close for the day it
	// was read for: the event handler completes every update with it,
	// and it changes only when the day does (or a backfill lands, which
	// prevMaxAge covers).
	prevMu sync.Mutex
	prev   map[string]prevClose

	// hot is the in-process view reads are answered from once it is
	// current (UseView, hot.go); nil: every read takes the cache path.
	hot *hotTier

	// afterFillRead, set by tests only, runs between a fill's database
	// read and its cache write: the window the version guard protects.
	afterFillRead func(code string)
}

type prevClose struct {
	day  time.Time
	val  decimal.Decimal
	ok   bool
	read time.Time
}

// prevMaxAge bounds how long a cached previous close is trusted.
const prevMaxAge = time.Hour

// New builds a Service. now may be nil (time.Now).
func New(store Store, cache Cache, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, cache: cache, log: log, now: now, cat: catalog.Shared(), prev: map[string]prevClose{}}
}

// Catalog returns the currency and country metadata the service uses.
func (s *Service) Catalog() *catalog.Catalog { return s.cat }

var codePattern = regexp.MustCompile(`^[A-Za-z]{3}$`)

// ParseCode checks and upper-cases an ISO 4217 code from user input.
func ParseCode(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !codePattern.MatchString(s) {
		return "", apperr.Invalid("INVALID_CURRENCY_CODE",
			fmt.Sprintf("%q is not a three-letter ISO 4217 currency code", s), map[string]any{"currency_code": s})
	}
	return strings.ToUpper(s), nil
}

// Get returns the current rate of code from the cache, filling the cache
// from the database on a miss. A cache failure falls back to the database.
func (s *Service) Get(ctx context.Context, code string) (Rate, error) {
	r, ok, err := s.cache.Get(ctx, code)
	if err != nil {
		s.log.Warn("rate cache unavailable, reading the database", "currency_code", code, "err", err)
	} else if ok {
		s.readFromCache(r)
		return r, nil
	}
	return s.fill(ctx, code, err == nil)
}

// GetJSON is Get answered as the rate's JSON. A cache hit is served as
// stored, with no decoding or encoding: the hot path of GET /{code}.
func (s *Service) GetJSON(ctx context.Context, code string) ([]byte, error) {
	b, ok, err := s.cache.GetRaw(ctx, code)
	if err != nil {
		s.log.Warn("rate cache unavailable, reading the database", "currency_code", code, "err", err)
	} else if ok {
		s.readFromCacheJSON(code, b)
		return b, nil
	}
	r, err := s.fill(ctx, code, err == nil)
	if err != nil {
		return nil, err
	}
	return encode(r)
}

// encode is the one encoding of a completed rate: the object GET /{code}
// answers, the cache stores and the rate stream sends.
func encode(r Rate) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("encode rate %s: %w", r.CurrencyCode, err))
	}
	return b, nil
}

// CompleteJSON completes a stored or announced rate and encodes it as GET
// /{code} answers it: what the in-process view and the rate stream hold.
func (s *Service) CompleteJSON(ctx context.Context, r Rate) ([]byte, error) {
	r, err := s.Complete(ctx, r)
	if err != nil {
		return nil, err
	}
	return encode(r)
}

// AllLatestJSON reads every current rate from the database (never the
// cache, which may lag it) and returns each completed and encoded as GET
// /{code} answers it, by code: what seeds the in-process view.
//
// It is also how the view is reconciled after a run, so like RefreshAll
// it rereads the previous closes: whichever of the two runs first after a
// backfill must not complete the rates with the closes from before it.
func (s *Service) AllLatestJSON(ctx context.Context) ([]Rate, [][]byte, error) {
	all, err := s.store.AllLatest(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.forgetPreviousCloses()
	out := make([][]byte, len(all))
	for i := range all {
		if all[i], err = s.Complete(ctx, all[i]); err != nil {
			return nil, nil, err
		}
		if out[i], err = encode(all[i]); err != nil {
			return nil, nil, err
		}
	}
	return all, out, nil
}

// fill reads code from the database, completes it and caches it when the
// cache answered (a down cache is not written to).
//
// The race it must survive (DESIGN.md §7): it reads version v, then an update
// commits v+1 and its events land, and only then does this fill write.
// Whichever event comes first guards the key: exchange_rate_updated
// writes v+1, which refuses v, and a cache_invalidation that finds the
// key absent or older than the database (v+1 or later when it is handled)
// leaves a tombstone with that floor, which refuses v too; it leaves an
// entry already at the database's version alone, as that entry refuses v
// itself. A plain delete would let v land on the empty key and stay for
// the TTL. The floor lives TombstoneTTL, and a fill slower than half of
// that (a stalled process) drops its write rather than race the expiry.
func (s *Service) fill(ctx context.Context, code string, cacheUp bool) (Rate, error) {
	start := s.now()
	r, err := s.store.Latest(ctx, code)
	if err != nil {
		return Rate{}, err
	}
	if r, err = s.Complete(ctx, r); err != nil {
		return Rate{}, err
	}
	if s.afterFillRead != nil {
		s.afterFillRead(code)
	}
	if cacheUp && s.now().Sub(start) > TombstoneTTL/2 {
		s.log.Warn("rate cache fill too slow, not written", "currency_code", code)
		cacheUp = false
	}
	if cacheUp {
		if err := s.cache.Put(ctx, r); err != nil {
			s.log.Warn("rate cache fill failed", "currency_code", code, "err", err)
		}
	}
	// What the database answered may be newer than the view (its event is
	// still on its way to the follower): the view takes it too, so no
	// later read from the view answers older (see readFromCache).
	s.applyToView([]Rate{r})
	return r, nil
}

// Complete adds what a stored rate does not carry: its display unit, its
// change against the last rate of the previous KST day, and whether it is
// carried over from an earlier bank day. The last depends on the day it is
// completed on, so a cached entry may say false for up to the cache TTL
// after KST midnight.
//
// Its instants are taken in UTC at the database's microsecond precision,
// so an event's rate and the row it was stored as complete to the same
// JSON, byte for byte: RefreshAll relies on that to leave alone what
// Apply already wrote.
func (s *Service) Complete(ctx context.Context, r Rate) (Rate, error) {
	meta := s.cat.Currency(r.CurrencyCode)
	r.DisplayUnit = meta.DisplayUnit
	r.Symbol = meta.Symbol
	r.NameEn = meta.NameEn
	if meta.NameKo != r.CurrencyCode || r.CurrencyName == "" {
		r.CurrencyName = meta.NameKo // the table's spelling, whatever the provider sent
	}
	r.Rate = r.Rate.UTC()
	r.RecordedAt = r.RecordedAt.Truncate(time.Microsecond)
	r.UpdatedAt = r.UpdatedAt.Truncate(time.Microsecond)
	r.FetchedAt, r.NextUpdateAt = truncPtr(r.FetchedAt), truncPtr(r.NextUpdateAt)
	r.AsOf = r.RecordedAt
	r.RateDate = r.Day() // stored before rate dates existed: the KST day of recorded_at
	r.CarriedOver = r.RateDate < kst.Day(s.now())
	prev, ok, err := s.previousClose(ctx, r.CurrencyCode, kst.Midnight(r.RecordedAt))
	if err != nil {
		return Rate{}, err
	}
	r.Change, r.ChangePercent = nil, nil
	if ok && prev.IsPositive() {
		ch := r.DealBaseRate.Sub(prev)
		pct := ch.Div(prev).Mul(decimal.NewFromInt(100)).Round(4)
		r.Change, r.ChangePercent = &ch, &pct
	}
	return r, nil
}

// truncPtr is *t at the databases' microsecond precision (nil stays nil).
func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.Truncate(time.Microsecond)
	return &u
}

// freshness folds one rate's times into an answer built from several:
// fetched is the latest fetch, next the earliest expected update.
func freshness(fetched, next **time.Time, r Rate) {
	if r.FetchedAt != nil && (*fetched == nil || r.FetchedAt.After(**fetched)) {
		t := *r.FetchedAt
		*fetched = &t
	}
	if r.NextUpdateAt != nil && (*next == nil || r.NextUpdateAt.Before(**next)) {
		t := *r.NextUpdateAt
		*next = &t
	}
}

// forgetPreviousCloses drops the previous closes read so far: a run (or a
// backfill) may have stored earlier days, so the change is recomputed.
func (s *Service) forgetPreviousCloses() {
	s.prevMu.Lock()
	s.prev = map[string]prevClose{}
	s.prevMu.Unlock()
}

// previousClose is store.PreviousClose through the per-day cache.
func (s *Service) previousClose(ctx context.Context, code string, day time.Time) (decimal.Decimal, bool, error) {
	now := s.now()
	s.prevMu.Lock()
	p, hit := s.prev[code]
	s.prevMu.Unlock()
	if hit && p.day.Equal(day) && now.Sub(p.read) < prevMaxAge && now.Sub(p.read) >= 0 {
		return p.val, p.ok, nil
	}
	val, ok, err := s.store.PreviousClose(ctx, code, day)
	if err != nil {
		return decimal.Decimal{}, false, err
	}
	s.prevMu.Lock()
	// Keep only the newest day per code: a late event for an earlier day
	// reads the database instead of evicting today's entry.
	if cur, had := s.prev[code]; !had || !cur.day.After(day) {
		s.prev[code] = prevClose{day: day, val: val, ok: ok, read: now}
	}
	s.prevMu.Unlock()
	return val, ok, nil
}

// Apply puts an updated rate (from an exchange_rate_updated event) into
// the cache; an older version than the cached one is ignored.
func (s *Service) Apply(ctx context.Context, r Rate) error {
	return s.ApplyMany(ctx, []Rate{r})
}

// ApplyMany is Apply of each rate of rs in turn, in one cache write. Of
// several updates of one currency only the newest version (the first one of
// equal versions) is completed and written, which leaves the cache as the
// version guard would have left it after applying them one by one.
func (s *Service) ApplyMany(ctx context.Context, rs []Rate) error {
	at := make(map[string]int, len(rs))
	newest := make([]Rate, 0, len(rs))
	for _, r := range rs {
		i, seen := at[r.CurrencyCode]
		switch {
		case !seen:
			at[r.CurrencyCode] = len(newest)
			newest = append(newest, r)
		case r.Version > newest[i].Version:
			newest[i] = r
		}
	}
	for i := range newest {
		r, err := s.Complete(ctx, newest[i])
		if err != nil {
			return err
		}
		newest[i] = r
	}
	if err := s.cache.PutMany(ctx, newest); err != nil {
		return err
	}
	s.applyToView(newest)
	return nil
}

// Invalidate handles a cache_invalidation: it tombstones the codes whose
// cached entry is older than the database (or absent), with the version
// the database holds now as floor (0 for a code without a rate); see fill
// for the race the floor closes. An entry already at the database's
// version (the run's exchange_rate_updated got there first) is current
// and stays, so the run writes it once.
func (s *Service) Invalidate(ctx context.Context, codes ...string) error {
	floors, err := s.floors(ctx, codes)
	if err != nil || len(floors) == 0 {
		return err
	}
	return s.cache.Invalidate(ctx, floors)
}

// floors returns the database's version of each code, 0 for a code
// without a rate.
func (s *Service) floors(ctx context.Context, codes []string) (map[string]int64, error) {
	if len(codes) == 0 {
		return nil, nil
	}
	versions, err := s.store.Versions(ctx, codes)
	if err != nil {
		return nil, err
	}
	floors := make(map[string]int64, len(codes))
	for _, c := range codes {
		floors[c] = versions[c]
	}
	return floors, nil
}

// RefreshAll completes every current rate from the database after a run
// and writes what the cache lacks or holds differently: a missing or older
// entry, or one of the same version whose completed value moved (its
// change after a backfill or a new KST day). An entry the run's
// exchange_rate_updated already wrote completes to the same bytes and is
// not written again.
func (s *Service) RefreshAll(ctx context.Context) error {
	all, err := s.store.AllLatest(ctx)
	if err != nil {
		return err
	}
	s.forgetPreviousCloses()
	codes := make([]string, 0, len(all))
	done := make([]Rate, 0, len(all))
	for _, r := range all {
		if r, err = s.Complete(ctx, r); err != nil {
			return err
		}
		done = append(done, r)
		codes = append(codes, r.CurrencyCode)
	}
	if err := s.cache.RefreshMany(ctx, done); err != nil {
		return err
	}
	s.setCodes(codes)
	return nil
}

// LatestTable is the answer of GET /latest: units of Base per one unit of
// each currency.
type LatestTable struct {
	Base  string                     `json:"base"`
	Rates map[string]decimal.Decimal `json:"rates"`
	AsOf  time.Time                  `json:"as_of"`
	// Source lists the providers of the rates, comma-separated; Sources
	// says which provider each rate came from (a run takes each currency
	// from the first provider that quotes it).
	Source  string            `json:"source"`
	Sources map[string]string `json:"sources"`
	// FetchedAt is the latest fetch among the rates, NextUpdateAt the
	// earliest update expected of their sources; nil when none says.
	FetchedAt    *time.Time `json:"fetched_at"`
	NextUpdateAt *time.Time `json:"next_update_at"`
	// QuotedAs maps a code to the code its source quoted it under, for
	// rates served from a twin (CNY from CNH); omitted when there is none.
	QuotedAs map[string]string `json:"quoted_as,omitempty"`
}

// crossPlaces is how many decimal places a cross rate keeps.
const crossPlaces = 10

// Latest answers a table of current rates in base for symbols (all known
// currencies when empty). KRW is a valid base and symbol (rate 1 against
// itself); other bases are cross rates through KRW.
func (s *Service) Latest(ctx context.Context, base string, symbols []string) (LatestTable, error) {
	return latestFrom(ctx, base, symbols, s.knownCodes, s.many)
}

// latestFrom is Latest over the given sources of the known codes and of
// the rates: the cache and the database, or the hot tier's snapshot.
func latestFrom(ctx context.Context, base string, symbols []string,
	knownCodes func(context.Context) ([]string, error), many func(context.Context, []string) (map[string]Rate, error)) (LatestTable, error) {
	if len(symbols) == 0 {
		all, err := knownCodes(ctx)
		if err != nil {
			return LatestTable{}, err
		}
		symbols = all
	}
	need := append([]string{}, symbols...)
	if base != "KRW" {
		need = append(need, base)
	}
	got, err := many(ctx, need)
	if err != nil {
		return LatestTable{}, err
	}
	one := decimal.NewFromInt(1)
	baseRate := one
	if base != "KRW" {
		baseRate = got[base].DealBaseRate
	}
	t := LatestTable{Base: base, Rates: make(map[string]decimal.Decimal, len(symbols)), Sources: make(map[string]string, len(symbols))}
	sources := map[string]bool{}
	for _, code := range symbols {
		krw := one
		if code != "KRW" {
			r := got[code]
			krw = r.DealBaseRate
			sources[r.Source] = true
			t.Sources[code] = r.Source
			if r.QuotedAs != "" {
				if t.QuotedAs == nil {
					t.QuotedAs = map[string]string{}
				}
				t.QuotedAs[code] = r.QuotedAs
			}
			if r.RecordedAt.After(t.AsOf) {
				t.AsOf = r.RecordedAt
			}
			freshness(&t.FetchedAt, &t.NextUpdateAt, r)
		}
		if base == "KRW" {
			t.Rates[code] = krw
		} else {
			t.Rates[code] = krw.DivRound(baseRate, crossPlaces)
		}
	}
	t.Source = joinSources(sources)
	return t, nil
}

// many returns the rates of codes (KRW excluded), from the cache where it
// can and the database for the rest; an unknown code is not found.
func (s *Service) many(ctx context.Context, codes []string) (map[string]Rate, error) {
	want := make([]string, 0, len(codes))
	for _, c := range codes {
		if c != "KRW" {
			want = append(want, c)
		}
	}
	got, err := s.cache.GetMany(ctx, want)
	cacheUp := err == nil
	if err != nil {
		s.log.Warn("rate cache unavailable, reading the database", "err", err)
		got = map[string]Rate{}
	}
	for _, c := range want {
		if r, ok := got[c]; ok {
			s.readFromCache(r)
			continue
		}
		r, err := s.fill(ctx, c, cacheUp)
		if err != nil {
			return nil, err
		}
		got[c] = r
	}
	return got, nil
}

// knownCodes lists the currencies with a stored rate, reread from the
// database at most every 30 seconds.
func (s *Service) knownCodes(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	if s.codes != nil && s.now().Sub(s.codesRead) < 30*time.Second {
		c := s.codes
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	all, err := s.store.AllLatest(ctx)
	if err != nil {
		return nil, err
	}
	codes := make([]string, len(all))
	for i, r := range all {
		codes[i] = r.CurrencyCode
	}
	s.setCodes(codes)
	return codes, nil
}

func (s *Service) setCodes(codes []string) {
	sort.Strings(codes)
	s.mu.Lock()
	s.codes, s.codesRead = codes, s.now()
	s.mu.Unlock()
}

func joinSources(m map[string]bool) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// DisplayUnit is the number of units a currency is conventionally quoted
// per in Korea (DESIGN.md §4): 100 for JPY, IDR and VND, 1 otherwise.
func DisplayUnit(code string) int { return catalog.DisplayUnit(code) }
