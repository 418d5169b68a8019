package rank

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/country"
)

// Limits of the API (DESIGN.md §8).
const (
	MaxLimit     = 50
	DefaultLimit = 10
	MaxStatsDays = 90
	DefaultDays  = 7
)

// Error codes of the ranking API.
const (
	CodeInvalidCountry = "INVALID_COUNTRY"
	CodeInvalidPeriod  = "INVALID_PERIOD"
)

// Timeouts of work the service does on its own behalf rather than for one
// request, so that one impatient client cannot abort a whole batch.
const (
	flushTimeout   = 10 * time.Second
	rebuildTimeout = 10 * time.Second
)

// Config wires a Service.
type Config struct {
	Store     Store
	Boards    Boards
	Limiter   Limiter
	Countries Countries
	// Now is the clock that decides a click's KST day; nil is time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Registry receives the service's metrics; nil registers nowhere.
	Registry prometheus.Registerer
	// MaxBatch caps the clicks written in one SQL transaction; 0 is 1000.
	MaxBatch int
}

// Service is the ranking's business logic. Its methods are safe for
// concurrent use; Close must be called to write the last clicks.
type Service struct {
	store     Store
	boards    Boards
	limiter   Limiter
	countries Countries
	now       func() time.Time
	log       *slog.Logger
	m         *serviceMetrics

	batch *batcher
	fill  singleflight.Group

	staleMu sync.Mutex
	stale   map[Board]bool // boards that missed an update while Redis failed

	redisLog throttle // "Redis is failing" warnings
	sqlLog   throttle // "clicks not stored" errors
}

// New returns a Service and starts its click writer.
func New(c Config) *Service {
	s := &Service{
		store: c.Store, boards: c.Boards, limiter: c.Limiter, countries: c.Countries,
		now: c.Now, log: c.Logger, stale: map[Board]bool{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.m = newServiceMetrics(c.Registry, s.log)
	maxBatch := c.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 1000
	}
	s.batch = newBatcher(s, maxBatch)
	return s
}

// Close stops accepting clicks, writes every click already accepted and
// returns when they are stored. Call it after the HTTP server has stopped.
func (s *Service) Close() { s.batch.close() }

// ClickResult answers a click (DESIGN.md §8).
type ClickResult struct {
	country.Country
	DailyClicks int64  `json:"daily_clicks"`
	TotalClicks int64  `json:"total_clicks"`
	CurrentRank int    `json:"current_rank"`
	Date        string `json:"date"`
	// Counted is false for a repeated click inside the duplicate window.
	Counted bool `json:"counted"`
}

// LookupCountry resolves a name or code, or fails with INVALID_COUNTRY.
func (s *Service) LookupCountry(input string) (country.Country, error) {
	c, ok := s.countries.Lookup(input)
	if !ok {
		shown := input
		if len(shown) > 64 {
			shown = shown[:64]
		}
		return country.Country{}, apperr.Invalid(CodeInvalidCountry,
			"unknown country: give a Korean or English country name or an ISO 3166 alpha-2 or alpha-3 code",
			map[string]any{"country": shown})
	}
	return c, nil
}

// Click counts one click by client on the country input names. A client
// or address over its rate limit gets RATE_LIMIT_EXCEEDED (details.scope
// says which); a repeat inside the duplicate window is answered with
// Counted false. When Redis, which
// holds the limits, is down, clicks are admitted (fail open) and still
// counted in SQL. The result is sent only once the click is committed.
func (s *Service) Click(ctx context.Context, client Client, input string) (ClickResult, error) {
	c, err := s.LookupCountry(input)
	if err != nil {
		return ClickResult{}, err
	}
	day := DayOf(s.now())
	adm, err := s.limiter.Admit(ctx, client, c.Code)
	if err != nil {
		s.redisFailed("admit", err)
		adm = Admission{Allowed: true, First: true}
	}
	if !adm.Allowed {
		s.m.clicks.WithLabelValues("rate_limited").Inc()
		e := apperr.RateLimited(adm.RetryAfter)
		if adm.Scope == ScopeAddress {
			e.Message = "too many clicks from this address, retry later"
		}
		if adm.Scope != "" {
			e.Details = map[string]any{"scope": string(adm.Scope)}
		}
		return ClickResult{}, e
	}
	res := ClickResult{Country: c, Date: day.String(), Counted: adm.First}
	var live map[Board]map[string]Standing
	if adm.First {
		out, err := s.batch.add(ctx, Delta{Day: day, Country: c.Code, Clicks: 1})
		if err != nil {
			return ClickResult{}, err
		}
		s.m.clicks.WithLabelValues("counted").Inc()
		res.DailyClicks = out.counts[DayCountry{day, c.Code}]
		live = out.standings
	} else {
		s.m.clicks.WithLabelValues("duplicate").Inc()
	}
	if err := s.standing(ctx, &res, day, live); err != nil {
		return ClickResult{}, err
	}
	return res, nil
}

// standing fills in what a click answer still lacks: from the boards the
// batch just updated when Redis answered, from SQL otherwise.
func (s *Service) standing(ctx context.Context, res *ClickResult, day Day, live map[Board]map[string]Standing) error {
	code := res.Code
	dailyB, allB := BoardFor(Daily, day), BoardFor(All, day)
	d, dok := live[dailyB][code]
	a, aok := live[allB][code]
	if dok && aok {
		res.DailyClicks, res.CurrentRank, res.TotalClicks = d.Clicks, d.Rank, a.Clicks
		return nil
	}
	daily, err := s.boardScores(ctx, dailyB)
	if err != nil {
		return err
	}
	res.DailyClicks = max(res.DailyClicks, daily[code])
	res.CurrentRank = competitionRank(daily, code)
	if aok {
		res.TotalClicks = a.Clicks
	} else if res.TotalClicks, err = s.store.CountryTotal(ctx, code); err != nil {
		return apperr.Unavailable("count clicks", err)
	}
	return nil
}

// competitionRank is 1 + the number of countries with more clicks.
func competitionRank(scores map[string]int64, code string) int {
	mine, above := scores[code], 0
	for _, n := range scores {
		if n > mine {
			above++
		}
	}
	return above + 1
}

// Entry is one line of a ranking.
type Entry struct {
	Rank int `json:"rank"`
	country.Country
	Clicks int64 `json:"clicks"`
}

// Ranking answers GET /api/v1/rankings.
type Ranking struct {
	Period Period `json:"period"`
	Date   string `json:"date"`
	// StartDate and EndDate bound the period (inclusive, KST days); both
	// are null for all.
	StartDate *string `json:"start_date"`
	EndDate   *string `json:"end_date"`
	// TotalClicks and TotalCountries cover the whole period, not only the
	// entries returned.
	TotalClicks    int64   `json:"total_clicks"`
	TotalCountries int     `json:"total_countries"`
	Rankings       []Entry `json:"rankings"`
}

// Rankings returns the top limit countries of the period containing day
// (today when zero). Ties share a rank (1, 2, 2, 4) and are ordered by
// country code.
func (s *Service) Rankings(ctx context.Context, p Period, day Day, limit int) (Ranking, error) {
	if day.IsZero() {
		day = DayOf(s.now())
	}
	b := BoardFor(p, day)
	scores, err := s.boardScores(ctx, b)
	if err != nil {
		return Ranking{}, err
	}
	out := Ranking{Period: p, Date: day.String(), Rankings: []Entry{}}
	if p != All {
		start, end := b.Start.String(), b.End().String()
		out.StartDate, out.EndDate = &start, &end
	}
	type cc struct {
		code string
		n    int64
	}
	list := make([]cc, 0, len(scores))
	for code, n := range scores {
		if n > 0 {
			list = append(list, cc{code, n})
			out.TotalClicks += n
		}
	}
	out.TotalCountries = len(list)
	slices.SortFunc(list, func(a, b cc) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.code, b.code)
	})
	for i, e := range list {
		if len(out.Rankings) == limit {
			break
		}
		rank := i + 1
		if i > 0 && list[i-1].n == e.n {
			rank = out.Rankings[i-1].Rank
		}
		c, ok := s.countries.ByCode(e.code)
		if !ok {
			// A country x/text no longer lists: still counted, named by code.
			c = country.Country{Code: e.code, NameKo: e.code, NameEn: e.code}
		}
		out.Rankings = append(out.Rankings, Entry{Rank: rank, Country: c, Clicks: e.n})
	}
	return out, nil
}

// boardScores reads board b from Redis, rebuilding it from SQL when Redis
// lost it, and reads SQL directly when Redis is down.
func (s *Service) boardScores(ctx context.Context, b Board) (map[string]int64, error) {
	// While boards that missed an update cannot be invalidated, Redis is
	// not trusted: the answer comes from SQL.
	healthy := s.heal(ctx)
	if healthy {
		scores, ok, err := s.boards.Scores(ctx, b)
		if err == nil && ok {
			return scores, nil
		}
		if err != nil {
			s.redisFailed("read board", err)
		}
	}
	// One rebuild per board at a time; the others wait for its answer.
	v, err, _ := s.fill.Do(b.ID(), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rebuildTimeout)
		defer cancel()
		seq, counts, err := s.store.Snapshot(rctx, b.Start, b.End())
		if err != nil {
			return nil, apperr.Unavailable("read rankings", err)
		}
		if !healthy {
			return counts, nil
		}
		if ferr := s.boards.Fill(rctx, b, seq, counts); ferr != nil {
			s.redisFailed("rebuild board", ferr)
		} else {
			s.m.rebuilds.Inc()
			s.log.Info("leaderboard rebuilt from SQL", "board", b.ID(), "seq", seq, "countries", len(counts))
		}
		return counts, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(map[string]int64), nil
}

// Warm rebuilds today's boards from SQL at start. It invalidates them
// first, so that clicks an earlier process stored in SQL but crashed
// before adding to Redis are not missing from them. Errors are logged:
// reads rebuild lazily anyway.
func (s *Service) Warm(ctx context.Context) {
	boards := BoardsOf(DayOf(s.now()))
	if err := s.boards.Invalidate(ctx, boards...); err != nil {
		s.redisFailed("invalidate boards", err)
		return
	}
	for _, b := range boards {
		if _, err := s.boardScores(ctx, b); err != nil {
			s.log.Warn("warm leaderboard", "board", b.ID(), "err", err)
		}
	}
}

// markStale remembers boards that may have missed an update; heal
// invalidates them as soon as Redis answers again.
func (s *Service) markStale(boards []Board) {
	s.staleMu.Lock()
	for _, b := range boards {
		s.stale[b] = true
	}
	s.staleMu.Unlock()
}

// It reports whether the boards can be trusted: nothing was stale or the
// stale boards are now invalidated.
func (s *Service) heal(ctx context.Context) bool {
	s.staleMu.Lock()
	defer s.staleMu.Unlock()
	if len(s.stale) == 0 {
		return true
	}
	list := make([]Board, 0, len(s.stale))
	for b := range s.stale {
		list = append(list, b)
	}
	if err := s.boards.Invalidate(ctx, list...); err != nil {
		s.redisFailed("invalidate boards", err)
		return false // still failing; try again next time
	}
	clear(s.stale)
	s.log.Info("stale leaderboards invalidated; they will be rebuilt from SQL", "boards", len(list))
	return true
}

// logEvery is how often a repeating failure is logged; the lines in
// between are counted and reported with the next one.
const logEvery = 10 * time.Second

// redisFailed counts a Redis failure and logs it at most every logEvery
// on the service's clock, so an outage does not flood the log with one
// line per click.
func (s *Service) redisFailed(op string, err error) {
	s.m.redisErrors.WithLabelValues(op).Inc()
	if ok, sup := s.redisLog.allow(s.now(), 1); ok {
		s.log.Warn("redis failed; serving from SQL (limits fail open)", "op", op, "err", err,
			"suppressed_errors", sup.events)
	}
}

// storeFailed logs a batch of clicks SQL did not store (each is answered
// 503): one line per batch with its size, and at most one every logEvery,
// with what was suppressed since the last.
func (s *Service) storeFailed(clicks int, err error) {
	if ok, sup := s.sqlLog.allow(s.now(), clicks); ok {
		s.log.Error("store clicks failed; clicks answered 503", "clicks", clicks, "err", err,
			"suppressed_batches", sup.events, "suppressed_clicks", sup.items)
	}
}

// throttle lets one log line through per logEvery and counts the rest.
type throttle struct {
	mu         sync.Mutex
	last       time.Time
	suppressed suppressed
}

// suppressed counts the events, and the items in them, not logged.
type suppressed struct{ events, items int }

// allow reports whether an event at now, of items things, is logged, and
// if so what was suppressed since the last logged one. A clock set back
// (a test's fake clock) lets the event through.
func (t *throttle) allow(now time.Time, items int) (bool, suppressed) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < logEvery && !now.Before(t.last) {
		t.suppressed.events++
		t.suppressed.items += items
		return false, suppressed{}
	}
	sup := t.suppressed
	t.last, t.suppressed = now, suppressed{}
	return true, sup
}

// Stats answers GET /api/v1/rankings/stats/{country}.
type Stats struct {
	country.Country
	Days         int        `json:"days"`
	StartDate    string     `json:"start_date"`
	EndDate      string     `json:"end_date"`
	TotalClicks  int64      `json:"total_clicks"`
	DailyAverage float64    `json:"daily_average"`
	Daily        []DayStats `json:"daily"`
}

// DayStats is one day of Stats.
type DayStats struct {
	Date   string `json:"date"`
	Clicks int64  `json:"clicks"`
}

// Stats returns a country's clicks over the last days KST days (today
// included), day by day with zeros filled in. It reads SQL, the truth.
func (s *Service) Stats(ctx context.Context, c country.Country, days int) (Stats, error) {
	end := DayOf(s.now())
	start := end.AddDays(-(days - 1))
	rows, err := s.store.DailyCounts(ctx, c.Code, start, end)
	if err != nil {
		return Stats{}, apperr.Unavailable("read click statistics", err)
	}
	byDay := make(map[Day]int64, len(rows))
	for _, r := range rows {
		byDay[r.Day] = r.Clicks
	}
	out := Stats{Country: c, Days: days, StartDate: start.String(), EndDate: end.String(), Daily: make([]DayStats, 0, days)}
	for d := start; !end.Before(d); d = d.AddDays(1) {
		n := byDay[d]
		out.TotalClicks += n
		out.Daily = append(out.Daily, DayStats{Date: d.String(), Clicks: n})
	}
	out.DailyAverage = math.Round(float64(out.TotalClicks)/float64(days)*100) / 100
	return out, nil
}

// ResetResult answers POST /api/v1/rankings/reset.
type ResetResult struct {
	ResetID          int64           `json:"reset_id"`
	Date             string          `json:"date"`
	RemovedCountries int             `json:"removed_countries"`
	RemovedClicks    int64           `json:"removed_clicks"`
	Removed          []CountryClicks `json:"removed"`
	ResetAt          time.Time       `json:"reset_at"`
}

// Reset removes every click of one KST day (today when zero), records what
// it removed in ranking_resets, and takes it off the boards.
func (s *Service) Reset(ctx context.Context, day Day) (ResetResult, error) {
	if day.IsZero() {
		day = DayOf(s.now())
	}
	rec, err := s.store.ResetDay(ctx, day, s.now().UTC())
	if err != nil {
		return ResetResult{}, apperr.Unavailable("reset rankings", err)
	}
	out := ResetResult{ResetID: rec.ID, Date: day.String(), Removed: rec.Removed, ResetAt: rec.At}
	if out.Removed == nil {
		out.Removed = []CountryClicks{}
	}
	deltas := make([]Delta, 0, len(rec.Removed))
	for _, r := range rec.Removed {
		out.RemovedCountries++
		out.RemovedClicks += r.Clicks
		deltas = append(deltas, Delta{Day: day, Country: r.Country, Clicks: -r.Clicks})
	}
	s.applyToBoards(ctx, rec.Seq, deltas)
	s.log.Info("rankings reset", "date", out.Date, "removed_countries", out.RemovedCountries,
		"removed_clicks", out.RemovedClicks, "reset_id", out.ResetID)
	return out, nil
}

// applyToBoards adds one committed mutation to the boards. If Redis fails
// the boards it touches are marked stale and rebuilt from SQL later: SQL
// already has the mutation, so nothing is lost and nothing is doubled.
func (s *Service) applyToBoards(ctx context.Context, seq int64, deltas []Delta) map[Board]map[string]Standing {
	if len(deltas) == 0 {
		return nil
	}
	var st map[Board]map[string]Standing
	err := errRedisUntrusted
	if s.heal(ctx) {
		st, err = s.boards.Apply(ctx, seq, deltas)
	}
	if err != nil {
		s.redisFailed("apply clicks", err)
		var boards []Board
		for _, d := range deltas {
			boards = append(boards, BoardsOf(d.Day)...)
		}
		s.markStale(boards)
		return nil
	}
	return st
}

// errRedisUntrusted stands for a Redis update skipped because earlier
// failures are not repaired yet.
var errRedisUntrusted = errors.New("redis boards await invalidation")

// errClosed answers a click that arrives while the service stops.
var errClosed = apperr.Unavailable("ranking is shutting down", errors.New("click writer closed"))

// serviceMetrics are the ranking's own Prometheus metrics.
type serviceMetrics struct {
	clicks      *prometheus.CounterVec
	rebuilds    prometheus.Counter
	redisErrors *prometheus.CounterVec
	batchSize   prometheus.Histogram
}

func newServiceMetrics(reg prometheus.Registerer, log *slog.Logger) *serviceMetrics {
	m := &serviceMetrics{
		clicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratewire_ranking_clicks_total",
			Help: "Clicks received, by result: counted, duplicate (inside the window) or rate_limited.",
		}, []string{"result"}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratewire_ranking_board_rebuilds_total",
			Help: "Leaderboards rebuilt from SQL because Redis did not have them.",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratewire_ranking_redis_errors_total",
			Help: "Redis operations that failed and fell back to SQL or failed open, by operation.",
		}, []string{"op"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ratewire_ranking_batch_clicks",
			Help:    "Clicks written per SQL transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 4, 6),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.clicks, m.rebuilds, m.redisErrors, m.batchSize} {
			if err := reg.Register(c); err != nil {
				// Only a second Service on one registry gets here; its
				// metrics stay unexported rather than failing the process.
				log.Error("register ranking metrics", "err", err)
			}
		}
	}
	return m
}
