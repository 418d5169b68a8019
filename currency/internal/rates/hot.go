package rates

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// The hot tier: reads of current rates (GET /{code}, /latest, /multiple,
// /convert) answered from the replica's in-process view (package live)
// once it is current, with no Redis round trip and no JSON decoding per
// request. What a read needs is prepared when the view changes, not per
// request: each rate's /{code} bytes and their ETag, its decoded value
// (decimals for cross rates and conversions), and the default /latest
// answer with its ETag. Other /latest and /multiple answers are computed
// from the decoded values once per view generation and kept (a bounded
// number of them). Until the view is current (a replica starting, or one
// without a view) the same reads take the shared cache path (Get, Latest,
// GetMany, Convert).
//
// Coherence: the view applies a version only when it is newer than the one
// it holds, and this replica's consumer applies what it writes to the
// cache to the view as well (see ApplyMany), so a replica never answers
// older than an update it has applied, and its answers never go back in
// version. A snapshot is rebuilt whenever the view's generation moves,
// before the read that sees the move is answered.

// hotMemoMax bounds the answers kept per snapshot besides the default
// /latest (other bases and symbol lists, /multiple lists): past it an
// answer is computed for its request only.
const hotMemoMax = 256

// UseView makes v the hot tier of this service's reads: while v is
// current they are answered from it (see package doc above), and the
// rates ApplyMany writes to the cache are applied to it as well.
func (s *Service) UseView(v *live.View) {
	s.hot = &hotTier{view: v}
}

// hotTier is the service's view and the snapshot prepared from it.
type hotTier struct {
	view *live.View
	mu   sync.Mutex // serialises rebuilds
	snap atomic.Pointer[snapshot]
}

// snapshot is what reads need of one generation of the view.
type snapshot struct {
	gen   uint64
	rates map[string]*hotRate
	codes []string // sorted; what /latest lists by default
	// latest is the default /latest (base KRW, every currency).
	latest prepared
	// memo keeps the other answers computed from this snapshot; memoN
	// counts them against hotMemoMax.
	memo  sync.Map // string -> prepared
	memoN atomic.Int64
}

// hotRate is one currency as reads need it.
type hotRate struct {
	json []byte // the /{code} object, shared with the view
	etag string
	rate Rate // decoded once, when the view changed
}

// prepared is an answer's data JSON and its ETag.
type prepared struct {
	json []byte
	etag string
}

// current returns the snapshot of the view's current generation, or nil
// when reads must take the cache path (no view, or not current yet).
func (s *Service) current() (*snapshot, error) {
	h := s.hot
	if h == nil || !h.view.Current() {
		return nil, nil
	}
	if sn := h.snap.Load(); sn != nil && sn.gen == h.view.Gen() {
		return sn, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if sn := h.snap.Load(); sn != nil && sn.gen == h.view.Gen() {
		return sn, nil
	}
	sn, err := build(h.view, h.snap.Load())
	if err != nil {
		return nil, err
	}
	h.snap.Store(sn)
	return sn, nil
}

// build prepares the snapshot of the view's current generation, reusing
// prev's entries for the rates that did not change.
func build(v *live.View, prev *snapshot) (*snapshot, error) {
	cs, gen := v.All()
	sn := &snapshot{gen: gen, rates: make(map[string]*hotRate, len(cs)), codes: make([]string, 0, len(cs))}
	for _, c := range cs {
		if prev != nil {
			if old, ok := prev.rates[c.Code]; ok && bytes.Equal(old.json, c.JSON) {
				sn.rates[c.Code] = old
				sn.codes = append(sn.codes, c.Code)
				continue
			}
		}
		hr := &hotRate{json: c.JSON, etag: httpx.ETagOf(c.JSON)}
		if err := json.Unmarshal(c.JSON, &hr.rate); err != nil {
			return nil, apperr.Internal(fmt.Errorf("live view holds an undecodable rate %s: %w", c.Code, err))
		}
		sn.rates[c.Code] = hr
		sn.codes = append(sn.codes, c.Code)
	}
	t, err := latestFrom(context.Background(), "KRW", nil, sn.known, sn.many)
	if err != nil {
		return nil, err
	}
	if sn.latest, err = prepare(t); err != nil {
		return nil, err
	}
	return sn, nil
}

// prepare encodes an answer and its ETag.
func prepare(v any) (prepared, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return prepared{}, apperr.Internal(fmt.Errorf("encode answer: %w", err))
	}
	return prepared{json: b, etag: httpx.ETagOf(b)}, nil
}

// known is knownCodes answered by the snapshot.
func (sn *snapshot) known(context.Context) ([]string, error) { return sn.codes, nil }

// many is Service.many answered by the snapshot: an unknown code is not
// found, as the database answers it.
func (sn *snapshot) many(_ context.Context, codes []string) (map[string]Rate, error) {
	out := make(map[string]Rate, len(codes))
	for _, c := range codes {
		if c == "KRW" {
			continue
		}
		r, err := sn.get(c)
		if err != nil {
			return nil, err
		}
		out[c] = r
	}
	return out, nil
}

// get is Service.Get answered by the snapshot.
func (sn *snapshot) get(code string) (Rate, error) {
	hr, ok := sn.rates[code]
	if !ok {
		return Rate{}, errNotInView
	}
	return hr.rate, nil
}

// errNotInView is the snapshot's answer for a currency it does not hold.
// The read then takes the cache path: the database can hold a rate whose
// event has not reached the view, or none at all (a backfill stores
// rates without per-rate events; the view learns them at the run's
// data_processing_completed). The cache path answers not found for a
// currency the database lacks, and applies one it finds to the view.
var errNotInView = errors.New("currency not in the live view")

// memoized returns the answer kept under key, or computes it with fn and
// keeps it while the snapshot holds fewer than hotMemoMax.
func (sn *snapshot) memoized(key string, fn func() (prepared, error)) (prepared, error) {
	if p, ok := sn.memo.Load(key); ok {
		return p.(prepared), nil
	}
	p, err := fn()
	if err != nil {
		return prepared{}, err
	}
	if sn.memoN.Add(1) <= hotMemoMax {
		sn.memo.Store(key, p)
	}
	return p, nil
}

// RateJSON is GetJSON with the answer's ETag: from the hot tier when it is
// current (the ETag then prepared), else from the cache ("" ETag: the
// caller computes it).
func (s *Service) RateJSON(ctx context.Context, code string) ([]byte, string, error) {
	sn, err := s.current()
	if err != nil {
		return nil, "", err
	}
	if sn == nil {
		b, err := s.GetJSON(ctx, code)
		return b, "", err
	}
	hr, ok := sn.rates[code]
	if !ok {
		b, err := s.GetJSON(ctx, code)
		return b, "", err
	}
	return hr.json, hr.etag, nil
}

// LatestJSON is Latest encoded, with its ETag: prepared per view
// generation on the hot tier.
func (s *Service) LatestJSON(ctx context.Context, base string, symbols []string) ([]byte, string, error) {
	sn, err := s.current()
	if err != nil {
		return nil, "", err
	}
	if sn == nil {
		t, err := s.Latest(ctx, base, symbols)
		if err != nil {
			return nil, "", err
		}
		p, err := prepare(t)
		return p.json, p.etag, err
	}
	if base == "KRW" && len(symbols) == 0 {
		return sn.latest.json, sn.latest.etag, nil
	}
	p, err := sn.memoized("latest "+base+" "+strings.Join(symbols, ","), func() (prepared, error) {
		t, err := latestFrom(ctx, base, symbols, sn.known, sn.many)
		if err != nil {
			return prepared{}, err
		}
		return prepare(t)
	})
	if errors.Is(err, errNotInView) {
		t, err := s.Latest(ctx, base, symbols)
		if err != nil {
			return nil, "", err
		}
		p, err := prepare(t)
		return p.json, p.etag, err
	}
	return p.json, p.etag, err
}

// ManyJSON is GetMany encoded, with its ETag. On the hot tier the answer
// is assembled from the rates' prepared bytes, as json.Marshal of
// Multiple writes it.
func (s *Service) ManyJSON(ctx context.Context, codes []string) ([]byte, string, error) {
	sn, err := s.current()
	if err != nil {
		return nil, "", err
	}
	if sn == nil {
		m, err := s.GetMany(ctx, codes)
		if err != nil {
			return nil, "", err
		}
		p, err := prepare(m)
		return p.json, p.etag, err
	}
	p, err := sn.memoized("multiple "+strings.Join(codes, ","), func() (prepared, error) {
		b := append(make([]byte, 0, 64+len(codes)*1024), `{"rates":[`...)
		for i, c := range codes {
			if c == "KRW" {
				return prepared{}, apperr.NotFound("KRW is the base currency: it has no rate of its own")
			}
			hr, ok := sn.rates[c]
			if !ok {
				return prepared{}, errNotInView
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, hr.json...)
		}
		b = append(b, `],"count":`...)
		b = strconv.AppendInt(b, int64(len(codes)), 10)
		b = append(b, '}')
		return prepared{json: b, etag: httpx.ETagOf(b)}, nil
	})
	if errors.Is(err, errNotInView) {
		m, err := s.GetMany(ctx, codes)
		if err != nil {
			return nil, "", err
		}
		p, err := prepare(m)
		return p.json, p.etag, err
	}
	return p.json, p.etag, err
}

// ConvertHot is Convert from the hot tier's decoded rates when it is
// current, else Convert itself.
func (s *Service) ConvertHot(ctx context.Context, from, to string, amount decimal.Decimal, o ConvertOptions) (Conversion, error) {
	sn, err := s.current()
	if err != nil {
		return Conversion{}, err
	}
	if sn == nil {
		return s.Convert(ctx, from, to, amount, o)
	}
	c, err := convertWith(ctx, func(_ context.Context, code string) (Rate, error) { return sn.get(code) }, from, to, amount, o)
	if errors.Is(err, errNotInView) {
		return s.Convert(ctx, from, to, amount, o)
	}
	return c, err
}

// readFromCache is told each rate the cache path answered from the cache.
// Until the view is current that answer may be newer than the view (another
// replica's consumer wrote it, or this replica's before the view was
// created): the view takes it, so the first reads from the view, once it
// is current, never answer older than the cache path did, nor not found
// for a rate it answered. Once the view is current it is not consulted:
// the hot tier answers those reads.
func (s *Service) readFromCache(r Rate) {
	if s.hot == nil || s.hot.view.Current() {
		return
	}
	s.applyToView([]Rate{r})
}

// readFromCacheJSON is readFromCache of a cached rate as stored: it is
// decoded only while the view is not current (a replica starting).
func (s *Service) readFromCacheJSON(code string, b []byte) {
	if s.hot == nil || s.hot.view.Current() {
		return
	}
	var r Rate
	if err := json.Unmarshal(b, &r); err != nil || r.CurrencyCode != code {
		s.log.Warn("live view: a cached rate does not decode", "currency_code", code, "err", err)
		return
	}
	s.hot.view.Apply(live.Change{Code: code, Version: r.Version, JSON: b})
}

// applyToView applies rates this replica wrote to the cache or read from
// the database to the view as well, so the view is never older than what
// this replica applied or answered, whichever reads an event first.
func (s *Service) applyToView(rs []Rate) {
	if s.hot == nil {
		return
	}
	for _, r := range rs {
		b, err := encode(r)
		if err != nil {
			s.log.Warn("live view: encode an applied rate", "currency_code", r.CurrencyCode, "err", err)
			continue
		}
		s.hot.view.Apply(live.Change{Code: r.CurrencyCode, Version: r.Version, JSON: b})
	}
}
