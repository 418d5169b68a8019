// Package series is the history service: rate series of any currency in
// any base over a period, with their statistics, comparisons, technical
// indicators and a forecast, cached in Redis per currency pair. The HTTP
// handlers and the Kafka consumer are thin adapters over Service.
package series

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ratewire/ratewire/shared/httpx"
)

// Cache holds computed answers under logical keys (history:..., stats:...,
// analysis:...), each indexed under the currencies it involves so an
// update of one currency drops exactly its entries. Fills are guarded by
// per-currency generations: Lookup returns the generations current when
// the database was about to be read, and Fill refuses to write when any of
// them moved since (an invalidation ran in between, so the answer may
// predate the update).
type Cache interface {
	// Lookup returns the payload under key (nil on a miss) and the
	// current generation of each of codes.
	Lookup(ctx context.Context, key string, codes []string) ([]byte, []int64, error)
	// Fill stores payload under key for ttl and indexes it under codes,
	// unless a generation of codes differs from gens. It reports whether
	// it wrote.
	Fill(ctx context.Context, key string, codes []string, gens []int64, payload []byte, ttl time.Duration) (bool, error)
	// Invalidate bumps code's generation and drops every entry indexed
	// under it, returning how many entries it dropped.
	Invalidate(ctx context.Context, code string) (int, error)
}

// Service answers the history API.
type Service struct {
	store Store
	cache Cache
	log   *slog.Logger
	now   func() time.Time
}

// New builds a Service. cache may be nil (no caching); now may be nil
// (time.Now).
func New(store Store, cache Cache, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, cache: cache, log: log, now: now}
}

// Now is the service's clock, which decides where periods end.
func (s *Service) Now() time.Time { return s.now() }

// TTL is how long an answer over w stays cached: 15 minutes for a day up
// to an hour for a quarter and longer. Updates drop entries sooner.
func TTL(w Window) time.Duration {
	span := w.To.Sub(w.From)
	switch {
	case span <= 25*time.Hour:
		return 15 * time.Minute
	case span <= 8*24*time.Hour:
		return 30 * time.Minute
	case span <= 32*24*time.Hour:
		return 45 * time.Minute
	default:
		return time.Hour
	}
}

// Invalidate drops every cached answer involving code as base or target.
func (s *Service) Invalidate(ctx context.Context, code string) (int, error) {
	if s.cache == nil || code == Home {
		return 0, nil
	}
	return s.cache.Invalidate(ctx, code)
}

// involved lists the currencies an entry depends on; KRW is left out, its
// rate (1) never changes.
func involved(codes ...string) []string {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if c != Home {
			out = append(out, c)
		}
	}
	return out
}

// Encoded is an answer as JSON with its strong ETag (httpx.ETagOf of the
// JSON), the one form the service answers in: the handlers serve it and
// the cache keeps it as it is, so a hit is served without decoding or
// hashing. The answer types (History, Stats, ...) are what is marshalled,
// and what a client decodes the JSON into.
type Encoded struct {
	JSON []byte
	ETag string
}

// etagLen is the length of a quoted ETag: 32 hex digits in quotes.
const etagLen = 34

func encoded(b []byte) Encoded { return Encoded{JSON: b, ETag: httpx.ETagOf(b)} }

// withQuotedAs adds "quoted_as" (code -> the code its source quoted it
// under) to an answer's JSON object when any of its currencies is served
// from a twin (CNY from CNH), so every history answer says where its
// numbers came from without each answer type carrying the field.
func withQuotedAs(b []byte, qa map[string]string) []byte {
	if len(qa) == 0 || len(b) < 2 || b[0] != '{' {
		return b
	}
	field, _ := json.Marshal(qa) // a map of strings always marshals
	out := make([]byte, 0, len(b)+len(field)+16)
	out = append(out, `{"quoted_as":`...)
	out = append(out, field...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	return append(out, b[1:]...)
}

// cached answers an encoded answer from the cache under key, or computes
// it, fills the cache and answers. Entries hold the ETag followed by the
// JSON. A failing cache is logged and bypassed: Redis down means answers
// from the database.
func cached[T any](ctx context.Context, s *Service, key string, codes []string, ttl time.Duration, compute func() (T, error)) (Encoded, error) {
	encode := func() (Encoded, error) {
		v, err := compute()
		if err != nil {
			return Encoded{}, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return Encoded{}, err
		}
		qa, err := s.store.QuotedAs(ctx, involved(codes...))
		if err != nil {
			return Encoded{}, err
		}
		return encoded(withQuotedAs(b, qa)), nil
	}
	if s.cache == nil {
		return encode()
	}
	codes = involved(codes...)
	payload, gens, err := s.cache.Lookup(ctx, key, codes)
	if err != nil {
		s.log.Warn("history cache unavailable, reading the database", "key", key, "err", err)
		return encode()
	}
	// Entries are written only by Fill below; a cheap shape check stands
	// in for re-validating tens of kilobytes on every hit.
	if n := len(payload); n > etagLen+1 && payload[0] == '"' && payload[etagLen-1] == '"' &&
		payload[etagLen] == '{' && payload[n-1] == '}' {
		return Encoded{JSON: payload[etagLen:], ETag: string(payload[:etagLen])}, nil
	}
	e, err := encode()
	if err != nil {
		return Encoded{}, err
	}
	entry := make([]byte, 0, etagLen+len(e.JSON))
	entry = append(append(entry, e.ETag...), e.JSON...)
	if _, err := s.cache.Fill(ctx, key, codes, gens, entry, ttl); err != nil {
		s.log.Warn("history cache fill failed", "key", key, "err", err)
	}
	return e, nil
}
