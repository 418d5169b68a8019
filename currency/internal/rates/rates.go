// Package rates is the currency service: current KRW rates per currency,
// served through the rate:{CODE} cache and kept fresh by the ingestor's
// events. HTTP handlers and the Kafka consumer are thin adapters over
// Service.
package rates

import (
	"context"
	"encoding/json"
	"errors"
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
)

// Rate is one currency's current rate in KRW per one unit, exact. TTS and
// TTB are nil when the source quotes no spread; Change and ChangePercent
// are nil when there is no rate from a previous KST day.
type Rate struct {
	Code          string           `json:"currency_code"`
	Name          string           `json:"currency_name"`
	NameEn        string           `json:"currency_name_en"`
	Symbol        string           `json:"symbol"`
	DealBaseRate  decimal.Decimal  `json:"deal_base_rate"`
	TTS           *decimal.Decimal `json:"tts"`
	TTB           *decimal.Decimal `json:"ttb"`
	DisplayUnit   int              `json:"display_unit"`
	Change        *decimal.Decimal `json:"change"`
	ChangePercent *decimal.Decimal `json:"change_percent"`
	Source        string           `json:"source"`
	RecordedAt    time.Time        `json:"recorded_at"`
	// RateDate is the bank day (KST, YYYY-MM-DD) the rate belongs to: for
	// Korea Eximbank the day it was published for.
	RateDate string `json:"rate_date"`
	// CarriedOver says the rate is from an earlier bank day than today
	// (KST): carried over a weekend or holiday, or today's rates are not
	// published yet.
	CarriedOver bool  `json:"carried_over"`
	Version     int64 `json:"version"`
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
// the given rate has the higher version; Invalidate replaces entries with
// tombstones that carry a version floor: a tombstone reads as a miss, and
// a Put below its floor is refused, so a fill that read the database
// before an update cannot land after the update's invalidation (see
// fill). A Put at the floor replaces the tombstone.
type Cache interface {
	Get(ctx context.Context, code string) (Rate, bool, error)
	// GetRaw returns a hit as the JSON Put stored, undecoded.
	GetRaw(ctx context.Context, code string) ([]byte, bool, error)
	GetMany(ctx context.Context, codes []string) (map[string]Rate, error)
	Put(ctx context.Context, r Rate) error
	// PutMany is Put of each rate in turn, in one write.
	PutMany(ctx context.Context, rs []Rate) error
	// RefreshMany is PutMany that also replaces entries of the same
	// version.
	RefreshMany(ctx context.Context, rs []Rate) error
	Invalidate(ctx context.Context, floors map[string]int64) error
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
		return b, nil
	}
	r, err := s.fill(ctx, code, err == nil)
	if err != nil {
		return nil, err
	}
	b, err = json.Marshal(r)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("encode rate %s: %w", code, err))
	}
	return b, nil
}

// fill reads code from the database, completes it and caches it when the
// cache answered (a down cache is not written to).
//
// The race it must survive (DESIGN §7): it reads version v, then an update
// commits v+1, its exchange_rate_updated event writes v+1 and its
// cache_invalidation clears the key, and only then does this fill write.
// A plain delete would let v land on the empty key and stay for the TTL;
// instead Invalidate leaves a tombstone whose floor is the version the
// database held when the invalidation was handled (v+1 or later), which
// refuses v. The floor lives TombstoneTTL, and a fill slower than half of
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
	return r, nil
}

// Complete adds what a stored rate does not carry: its display unit, its
// change against the last rate of the previous KST day, and whether it is
// carried over from an earlier bank day. The last depends on the day it is
// completed on, so a cached entry may say false for up to the cache TTL
// after KST midnight.
func (s *Service) Complete(ctx context.Context, r Rate) (Rate, error) {
	meta := s.cat.Currency(r.Code)
	r.DisplayUnit = meta.DisplayUnit
	r.Symbol = meta.Symbol
	r.NameEn = meta.NameEn
	if meta.NameKo != r.Code || r.Name == "" {
		r.Name = meta.NameKo // the table's spelling, whatever the provider sent
	}
	r.RecordedAt = r.RecordedAt.UTC()
	if r.RateDate == "" { // stored before rate dates existed
		r.RateDate = r.RecordedAt.In(kst).Format(time.DateOnly)
	}
	r.CarriedOver = r.RateDate < s.now().In(kst).Format(time.DateOnly)
	prev, ok, err := s.previousClose(ctx, r.Code, StartOfKSTDay(r.RecordedAt))
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
		i, seen := at[r.Code]
		switch {
		case !seen:
			at[r.Code] = len(newest)
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
	return s.cache.PutMany(ctx, newest)
}

// Invalidate drops codes from the cache, leaving tombstones whose floor
// is each code's version in the database now (0 for a code without a
// rate): see fill for the race this closes.
func (s *Service) Invalidate(ctx context.Context, codes ...string) error {
	if len(codes) == 0 {
		return nil
	}
	versions, err := s.store.Versions(ctx, codes)
	if err != nil {
		return err
	}
	floors := make(map[string]int64, len(codes))
	for _, c := range codes {
		floors[c] = versions[c]
	}
	return s.cache.Invalidate(ctx, floors)
}

// RefreshAll rewrites every cached rate from the database, after a run.
func (s *Service) RefreshAll(ctx context.Context) error {
	all, err := s.store.AllLatest(ctx)
	if err != nil {
		return err
	}
	// A run (or a backfill) may have stored earlier days: forget the
	// previous closes read so far, and rewrite entries of the same version
	// so their change is recomputed.
	s.prevMu.Lock()
	s.prev = map[string]prevClose{}
	s.prevMu.Unlock()
	codes := make([]string, 0, len(all))
	done := make([]Rate, 0, len(all))
	for _, r := range all {
		if r, err = s.Complete(ctx, r); err != nil {
			return err
		}
		done = append(done, r)
		codes = append(codes, r.Code)
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
	Base   string                     `json:"base"`
	Rates  map[string]decimal.Decimal `json:"rates"`
	AsOf   time.Time                  `json:"as_of"`
	Source string                     `json:"source"`
}

// crossPlaces is how many decimal places a cross rate keeps.
const crossPlaces = 10

// Latest answers a table of current rates in base for symbols (all known
// currencies when empty). KRW is a valid base and symbol (rate 1 against
// itself); other bases are cross rates through KRW.
func (s *Service) Latest(ctx context.Context, base string, symbols []string) (LatestTable, error) {
	if len(symbols) == 0 {
		all, err := s.knownCodes(ctx)
		if err != nil {
			return LatestTable{}, err
		}
		symbols = all
	}
	need := append([]string{}, symbols...)
	if base != "KRW" {
		need = append(need, base)
	}
	got, err := s.many(ctx, need)
	if err != nil {
		return LatestTable{}, err
	}
	one := decimal.NewFromInt(1)
	baseRate := one
	if base != "KRW" {
		baseRate = got[base].DealBaseRate
	}
	t := LatestTable{Base: base, Rates: make(map[string]decimal.Decimal, len(symbols))}
	sources := map[string]bool{}
	for _, code := range symbols {
		krw := one
		if code != "KRW" {
			r := got[code]
			krw = r.DealBaseRate
			sources[r.Source] = true
			if r.RecordedAt.After(t.AsOf) {
				t.AsOf = r.RecordedAt
			}
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
		if _, ok := got[c]; ok {
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
		codes[i] = r.Code
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
// per in Korea (DESIGN §4): 100 for JPY, IDR and VND, 1 otherwise.
func DisplayUnit(code string) int { return catalog.DisplayUnit(code) }

var kst = time.FixedZone("KST", 9*3600)

// StartOfKSTDay is midnight in Korea of the KST day that contains t.
func StartOfKSTDay(t time.Time) time.Time {
	k := t.In(kst)
	return time.Date(k.Year(), k.Month(), k.Day(), 0, 0, 0, 0, kst).UTC()
}

// ErrNotFound is what stores wrap when a currency has no rate.
var ErrNotFound = errors.New("no rate for currency")
