package live_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ratewire/ratewire/currency/internal/live"
)

func ch(code string, v int64) live.Change {
	return live.Change{Code: code, Version: v, JSON: fmt.Appendf(nil, `{"currency_code":%q,"version":%d}`, code, v)}
}

func idsOf(cs []live.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID()
	}
	return out
}

// take returns what s has queued, requiring a notification first.
func take(t *testing.T, s *live.Subscriber) []string {
	t.Helper()
	select {
	case <-s.Ready():
	default:
		t.Fatal("subscriber was not notified")
	}
	return idsOf(s.Take())
}

func TestApplyKeepsTheNewestVersion(t *testing.T) {
	v := live.New(live.Options{})
	v.Seed([]live.Change{ch("USD", 3), ch("JPY", 1)})
	for _, tc := range []struct {
		c    live.Change
		want bool
	}{
		{ch("USD", 3), false}, // what the seed held
		{ch("USD", 2), false}, // older
		{ch("USD", 4), true},
		{ch("USD", 4), false}, // duplicate
		{ch("EUR", 1), true},  // new code
	} {
		if got := v.Apply(tc.c); got != tc.want {
			t.Errorf("Apply(%s) = %v, want %v", tc.c.ID(), got, tc.want)
		}
	}
	if c, ok := v.Get("USD"); !ok || c.Version != 4 {
		t.Errorf("Get(USD) = %v %v, want version 4", c.ID(), ok)
	}
	// Seed never lowers a version either.
	v.Seed([]live.Change{ch("USD", 1)})
	if c, _ := v.Get("USD"); c.Version != 4 {
		t.Errorf("after an older seed USD is %s, want USD:4", c.ID())
	}
}

func TestSubscribeResumes(t *testing.T) {
	v := live.New(live.Options{RingSize: 4})
	v.Seed([]live.Change{ch("USD", 1), ch("JPY", 1), ch("EUR", 1)})
	for _, c := range []live.Change{ch("USD", 2), ch("JPY", 2), ch("USD", 3)} {
		v.Apply(c)
	}
	for _, tc := range []struct {
		name   string
		codes  []string
		lastID string
		want   []string
	}{
		{"fresh: every code's state", nil, "", []string{"EUR:1", "JPY:2", "USD:3"}},
		{"fresh, filtered", []string{"USD"}, "", []string{"USD:3"}},
		{"after USD:2: the replay, then the others' state", nil, "USD:2", []string{"JPY:2", "USD:3", "EUR:1"}},
		{"after USD:2, JPY only", []string{"JPY"}, "USD:2", []string{"JPY:2"}},
		{"after the newest", []string{"USD", "JPY"}, "USD:3", []string{"JPY:2", "USD:3"}},
		{"unknown id", []string{"USD", "EUR"}, "USD:99", []string{"EUR:1", "USD:3"}},
		{"malformed id", []string{"USD"}, "USD-2", []string{"USD:3"}},
		{"code without a rate yet", []string{"GBP"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := v.Subscribe(tc.codes, tc.lastID)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got := idsOf(s.Take())
			if !slices.Equal(got, tc.want) {
				t.Errorf("Subscribe(%v, %q) queued %v, want %v", tc.codes, tc.lastID, got, tc.want)
			}
		})
	}
	// Two more changes push USD:2 out of the ring of 4: resuming after it
	// falls back to the current states.
	v.Apply(ch("EUR", 2))
	v.Apply(ch("GBP", 1))
	s, err := v.Subscribe([]string{"USD", "JPY"}, "USD:2")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := idsOf(s.Take()), []string{"JPY:2", "USD:3"}; !slices.Equal(got, want) {
		t.Errorf("resuming after an id the ring dropped: %v, want %v", got, want)
	}
}

func TestSubscriberGetsChangesInOrder(t *testing.T) {
	v := live.New(live.Options{})
	s, err := v.Subscribe([]string{"USD", "JPY"}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Take(); len(got) != 0 {
		t.Fatalf("empty view queued %v", idsOf(got))
	}
	v.Apply(ch("USD", 1))
	v.Apply(ch("EUR", 1)) // not subscribed
	v.Apply(ch("JPY", 1))
	v.Apply(ch("USD", 2))
	if got, want := take(t, s), []string{"USD:1", "JPY:1", "USD:2"}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}

// A subscriber that does not read never blocks Apply: past its queue
// limit, changes coalesce per code and it ends on the newest of each.
func TestSlowSubscriberCoalesces(t *testing.T) {
	v := live.New(live.Options{QueueLimit: 3})
	slow, err := v.Subscribe(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := v.Subscribe(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	var fastGot []string
	for i := int64(1); i <= 1000; i++ {
		v.Apply(ch("USD", i))
		v.Apply(ch("JPY", i))
		v.Apply(ch("EUR", i))
		fastGot = append(fastGot, idsOf(fast.Take())...)
	}
	if len(fastGot) != 3000 {
		t.Errorf("the reading subscriber got %d changes, want all 3000", len(fastGot))
	}
	if got, want := take(t, slow), []string{"USD:1000", "JPY:1000", "EUR:1000"}; !slices.Equal(got, want) {
		t.Errorf("slow subscriber queued %v, want the newest of each code %v", got, want)
	}
	if slow.Coalesced() != 2997 {
		t.Errorf("Coalesced() = %d, want 2997", slow.Coalesced())
	}
}

func TestBoundAndClose(t *testing.T) {
	v := live.New(live.Options{MaxSubscribers: 2})
	a, _ := v.Subscribe(nil, "")
	b, err := v.Subscribe(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Subscribe(nil, ""); !errors.Is(err, live.ErrTooManySubscribers) {
		t.Fatalf("third subscriber: %v, want ErrTooManySubscribers", err)
	}
	a.Close()
	c, err := v.Subscribe(nil, "")
	if err != nil {
		t.Fatalf("after one left: %v", err)
	}
	if v.Subscribers() != 2 {
		t.Errorf("Subscribers() = %d, want 2", v.Subscribers())
	}
	v.Close()
	for _, s := range []*live.Subscriber{b, c} {
		select {
		case <-s.Done():
		default:
			t.Error("subscriber not ended by Close")
		}
	}
	if _, err := v.Subscribe(nil, ""); !errors.Is(err, live.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	b.Close() // closing after the view is harmless
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code string
		v    int64
		ok   bool
	}{
		{"USD:42", "USD", 42, true},
		{" JPY:1 ", "JPY", 1, true},
		{"USD:0", "", 0, false},
		{"usd:1", "", 0, false},
		{"USD:-1", "", 0, false},
		{"USD:1:2", "", 0, false},
		{"USD:99999999999999999999", "", 0, false},
		{"", "", 0, false},
	} {
		code, v, err := live.ParseID(tc.in)
		if (err == nil) != tc.ok || code != tc.code || v != tc.v {
			t.Errorf("ParseID(%q) = %q %d %v, want %q %d ok=%v", tc.in, code, v, err, tc.code, tc.v, tc.ok)
		}
	}
}

// FuzzParseID: a client's Last-Event-ID is untrusted input. Whatever it
// is, ParseID either refuses it or returns an id that prints back the same.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"USD:42", "JPY:1", "USD:0", "usd:1", "", ":", "USD:", "USD:999999999999999999", "EUR:1\n", "KRW:-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, v, err := live.ParseID(s)
		if err != nil {
			return
		}
		if v < 1 || len(code) != 3 {
			t.Fatalf("ParseID(%q) = %q %d", s, code, v)
		}
		c2, v2, err := live.ParseID(live.Change{Code: code, Version: v}.ID())
		if err != nil || c2 != code || v2 != v {
			t.Fatalf("ParseID(%q) does not round-trip: %q %d %v", s, c2, v2, err)
		}
	})
}

func TestRefresh(t *testing.T) {
	v := live.New(live.Options{})
	v.Seed([]live.Change{ch("USD", 2), ch("JPY", 1)})
	s, err := v.Subscribe(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Take()
	moved := live.Change{Code: "JPY", Version: 1, JSON: []byte(`{"carried_over":true}`)}
	v.Refresh([]live.Change{ch("USD", 2), moved, ch("EUR", 1), ch("USD", 1)})
	// EUR is new: a change; JPY moved at its version: no change, new state.
	if got, want := take(t, s), []string{"EUR:1"}; !slices.Equal(got, want) {
		t.Errorf("a refresh announced %v, want %v", got, want)
	}
	if c, _ := v.Get("JPY"); string(c.JSON) != string(moved.JSON) {
		t.Errorf("JPY after a refresh: %s, want %s", c.JSON, moved.JSON)
	}
	if c, _ := v.Get("USD"); c.Version != 2 {
		t.Errorf("USD after a refresh with an older version: %s", c.ID())
	}
	if v.Applied() != 1 {
		t.Errorf("Applied() = %d, want 1", v.Applied())
	}
}
