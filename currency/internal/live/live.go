// Package live is the currency service's in-process view of the latest
// rates: every replica keeps it complete (seeded from the database at
// start) and current (it follows every partition of exchange_rate_updated
// itself, see package follower), so any replica can tell any subscriber
// about every change, whichever replica's consumer-group member applied it
// to the cache. It also keeps a bounded ring of recent changes, so a
// subscriber that reconnects with the id of the last change it saw
// resumes where it left off, and it fans changes out to subscribers
// without ever waiting for a slow one (DESIGN.md §8, GET /stream).
//
// The view holds each rate as the JSON that GET /api/v1/currencies/{code}
// answers (the rates service builds it); it never decodes or re-encodes it.
package live

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Change is one rate as the view holds it: a currency at a version, and
// the JSON object GET /{code} answers for it.
type Change struct {
	Code    string
	Version int64
	// JSON is the rate's /{code} object; it is shared and never modified.
	JSON []byte
	// seq orders the changes this view applied; 0 for seeded state.
	seq uint64
}

// ID is the change's Server-Sent Events id: CODE:version. It names the same
// change on every replica.
func (c Change) ID() string { return c.Code + ":" + strconv.FormatInt(c.Version, 10) }

// Defaults of Options.
const (
	DefaultRingSize       = 4096
	DefaultMaxSubscribers = 1000
	// DefaultQueueLimit is how many changes a subscriber may have queued
	// before new ones coalesce per code (see Subscriber).
	DefaultQueueLimit = 256
)

// Options bounds a View; zero fields take the defaults.
type Options struct {
	// RingSize is how many recent changes are kept for resumption.
	RingSize int
	// MaxSubscribers bounds the subscribers at once; Subscribe refuses
	// more with ErrTooManySubscribers.
	MaxSubscribers int
	// QueueLimit is a subscriber's queue length past which changes
	// coalesce per code.
	QueueLimit int
}

// ErrTooManySubscribers is Subscribe's answer past Options.MaxSubscribers.
var ErrTooManySubscribers = errors.New("live: too many subscribers")

// ErrClosed is Subscribe's answer once the view is closed.
var ErrClosed = errors.New("live: view closed")

// View is the latest rate of every currency, the ring of recent changes
// and the subscribers. It is safe for concurrent use.
type View struct {
	opts Options

	mu     sync.Mutex
	latest map[string]Change
	ring   []Change // circular, ring[head] is the oldest once full
	head   int
	seq    uint64
	subs   map[*Subscriber]struct{}
	closed bool

	ready     chan struct{}
	readyOnce sync.Once

	// gen counts the changes of latest (applied, seeded or refreshed):
	// readers that keep something derived from the view (package rates'
	// prepared answers) rebuild it when gen moves, with one atomic load
	// per request.
	gen atomic.Uint64
	// current says the view is following the stream (see MarkCurrent).
	current atomic.Bool
}

// New returns an empty view; it is not ready until MarkReady.
func New(o Options) *View {
	if o.RingSize <= 0 {
		o.RingSize = DefaultRingSize
	}
	if o.MaxSubscribers <= 0 {
		o.MaxSubscribers = DefaultMaxSubscribers
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = DefaultQueueLimit
	}
	return &View{opts: o, latest: map[string]Change{}, ring: make([]Change, 0, o.RingSize),
		subs: map[*Subscriber]struct{}{}, ready: make(chan struct{})}
}

// MarkReady says the view has been seeded: it is complete from now on.
func (v *View) MarkReady() { v.readyOnce.Do(func() { close(v.ready) }) }

// Ready is closed once the view is seeded.
func (v *View) Ready() <-chan struct{} { return v.ready }

// MarkCurrent says the view is not only seeded but following the stream
// from offsets read after the seed, and has applied what the database
// held then: from now on it is at least as new as anything this replica
// applied, so reads of current rates may be answered from it.
func (v *View) MarkCurrent() { v.current.Store(true) }

// Current reports whether MarkCurrent was called: one atomic load, for
// every read of a current rate.
func (v *View) Current() bool { return v.current.Load() }

// Gen is the view's generation: it moves whenever a held rate changes
// (Apply, Seed or Refresh), so what is derived from All at one generation
// is current until Gen moves.
func (v *View) Gen() uint64 { return v.gen.Load() }

// All returns every held rate, ordered by code, and the generation they
// are of.
func (v *View) All() ([]Change, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Change, 0, len(v.latest))
	for _, c := range v.latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, v.gen.Load()
}

// Seed sets the state of each rate that is newer than the one held,
// without announcing it: the state a view starts from. Use Apply for
// changes subscribers must hear about.
func (v *View) Seed(cs []Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range cs {
		if cur, ok := v.latest[c.Code]; !ok || c.Version > cur.Version {
			c.seq = 0
			v.latest[c.Code] = c
			v.gen.Add(1)
		}
	}
}

// Refresh reconciles the view with a fresh read of every rate: a newer
// version is applied (announced, as Apply does); the same version with
// other JSON replaces the held one silently. What the rates service
// derives (the change against the previous KST day, carried_over) can
// move without a new version, after a backfill or at KST midnight; it is
// not a rate change, so subscribers are not told, but later subscribers
// get the corrected state.
func (v *View) Refresh(cs []Change) {
	for _, c := range cs {
		if v.Apply(c) {
			continue
		}
		v.mu.Lock()
		if cur, ok := v.latest[c.Code]; ok && cur.Version == c.Version && string(cur.JSON) != string(c.JSON) {
			c.seq = cur.seq
			v.latest[c.Code] = c
			v.gen.Add(1)
		}
		v.mu.Unlock()
	}
}

// Apply applies c if its version is newer than the one held for its code,
// records it in the ring and queues it for every subscriber of the code.
// It reports whether c was applied; an older or equal version (a
// duplicate, or a change the seed already held) is ignored. It never
// blocks on a subscriber.
func (v *View) Apply(c Change) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if cur, ok := v.latest[c.Code]; ok && c.Version <= cur.Version {
		return false
	}
	v.seq++
	c.seq = v.seq
	v.latest[c.Code] = c
	v.gen.Add(1)
	if len(v.ring) < cap(v.ring) {
		v.ring = append(v.ring, c)
	} else {
		v.ring[v.head] = c
		v.head = (v.head + 1) % len(v.ring)
	}
	for s := range v.subs {
		if s.wants(c.Code) {
			s.push(c)
		}
	}
	return true
}

// Get returns the rate the view holds for code.
func (v *View) Get(code string) (Change, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.latest[code]
	return c, ok
}

// Len is how many currencies the view holds.
func (v *View) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.latest)
}

// Applied is how many changes the view has applied since it started.
func (v *View) Applied() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seq
}

// Subscribers is how many subscribers are connected.
func (v *View) Subscribers() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.subs)
}

// Close ends every subscription (their Done closes) and refuses new ones.
func (v *View) Close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	for s := range v.subs {
		s.end()
	}
	v.subs = map[*Subscriber]struct{}{}
}

// Subscribe starts a subscription to the changes of codes (every code when
// empty). Its queue starts with what the subscriber lacks, by this rule:
//
//   - lastID names a change still in the ring (CODE:version, as this or any
//     other replica sent it): every later change of the subscribed codes,
//     in the order this view applied them, then the current state of each
//     other subscribed code. Replicas follow the partitions of
//     exchange_rate_updated at their own pace, so another replica may have
//     sent changes of other partitions before lastID that this one applied
//     after it, or the reverse; the current states cover that, so a
//     subscriber that moves between replicas loses nothing either. A
//     subscriber ends with the newest version of every code; ids it
//     already saw may repeat, and a client keeps the highest version per
//     code.
//   - lastID is empty, unknown or older than the ring: the current state
//     of each subscribed code.
//
// Changes applied after Subscribe follow in order. The caller must Close
// the subscriber.
func (v *View) Subscribe(codes []string, lastID string) (*Subscriber, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, ErrClosed
	}
	if len(v.subs) >= v.opts.MaxSubscribers {
		return nil, ErrTooManySubscribers
	}
	s := &Subscriber{v: v, limit: v.opts.QueueLimit, notify: make(chan struct{}, 1), done: make(chan struct{}), at: map[string]int{}}
	if len(codes) > 0 {
		s.codes = make(map[string]bool, len(codes))
		for _, c := range codes {
			s.codes[c] = true
		}
	}
	// The backlog is queued in full: it is bounded by the ring and the
	// number of currencies.
	replayed := map[string]bool{}
	if i, ok := v.find(lastID); ok {
		for j := i + 1; j < len(v.ring); j++ {
			c := v.ring[(v.head+j)%len(v.ring)]
			if s.wants(c.Code) {
				s.queue = append(s.queue, c)
				replayed[c.Code] = true
			}
		}
	}
	codesNow := make([]string, 0, len(v.latest))
	for code := range v.latest {
		if s.wants(code) && !replayed[code] {
			codesNow = append(codesNow, code)
		}
	}
	sort.Strings(codesNow)
	for _, code := range codesNow {
		s.queue = append(s.queue, v.latest[code])
	}
	for i, c := range s.queue {
		s.at[c.Code] = i
	}
	if len(s.queue) > 0 {
		s.notify <- struct{}{}
	}
	v.subs[s] = struct{}{}
	return s, nil
}

// find returns the ring position (0 = oldest) of the change lastID names.
func (v *View) find(lastID string) (int, bool) {
	code, version, err := ParseID(lastID)
	if err != nil {
		return 0, false
	}
	for i := len(v.ring) - 1; i >= 0; i-- {
		c := v.ring[(v.head+i)%len(v.ring)]
		if c.Code == code && c.Version == version {
			return i, true
		}
	}
	return 0, false
}

var idPattern = regexp.MustCompile(`^([A-Z]{3}):([0-9]{1,18})$`)

// ParseID reads an event id, CODE:version (an upper-case ISO 4217 code,
// a positive version), as a client sends it back in Last-Event-ID.
func ParseID(s string) (string, int64, error) {
	m := idPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", 0, fmt.Errorf("event id %q is not CODE:version (e.g. USD:42)", s)
	}
	v, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || v < 1 {
		return "", 0, fmt.Errorf("event id %q: version must be a positive integer", s)
	}
	return m[1], v, nil
}

// Subscriber is one subscription. Its queue keeps every change in order
// while it holds fewer than Options.QueueLimit; past that, a change of a
// code already queued replaces the queued one in place (coalesced per
// code), so a slow subscriber skips intermediate versions but always ends
// on the newest one, its queue stays bounded by the number of currencies,
// and Apply never waits for it.
type Subscriber struct {
	v      *View
	codes  map[string]bool // nil: every code
	limit  int
	notify chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	queue  []Change
	at     map[string]int // code -> index of its newest queued change
	ended  bool
	merged int
}

func (s *Subscriber) wants(code string) bool { return s.codes == nil || s.codes[code] }

// push queues c; the view's lock is held.
func (s *Subscriber) push(c Change) {
	s.mu.Lock()
	if i, ok := s.at[c.Code]; ok && len(s.queue) >= s.limit {
		s.queue[i] = c
		s.merged++
	} else {
		s.at[c.Code] = len(s.queue)
		s.queue = append(s.queue, c)
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Ready receives a value when changes are queued.
func (s *Subscriber) Ready() <-chan struct{} { return s.notify }

// Done is closed when the view closes.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Take returns the queued changes, oldest first, and empties the queue.
func (s *Subscriber) Take() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	clear(s.at)
	return q
}

// Coalesced is how many changes were replaced by newer ones of the same
// code because the subscriber fell behind.
func (s *Subscriber) Coalesced() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.merged
}

func (s *Subscriber) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		close(s.done)
	}
}

// Close ends the subscription and frees its place.
func (s *Subscriber) Close() {
	s.v.mu.Lock()
	delete(s.v.subs, s)
	s.v.mu.Unlock()
	s.end()
}
