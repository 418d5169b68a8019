package board_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking/internal/board"
	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

var today = rank.DayOf(time.Date(2026, 11, 18, 12, 0, 0, 0, kst.Zone))

func deltas(kv ...any) []rank.Delta {
	var out []rank.Delta
	for i := 0; i < len(kv); i += 2 {
		out = append(out, rank.Delta{Day: today, Country: kv[i].(string), Clicks: int64(kv[i+1].(int))})
	}
	return out
}

// scores reads a board that must be live.
func scores(t *testing.T, b *board.Boards, bd rank.Board) string {
	t.Helper()
	got, ok, err := b.Scores(t.Context(), bd)
	if err != nil || !ok {
		t.Fatalf("Scores(%s) = %v, ok %v, err %v; want a live board", bd.ID(), got, ok, err)
	}
	return fmt.Sprint(got)
}

// TestBoardsContract runs on miniredis and a real Redis. The interleavings
// are the ones a crash, a flush or another instance can produce between
// a SQL commit and its Redis update.
func TestBoardsContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := t.Context()
		b := board.New(r.Client, r.Prefix)
		daily := rank.BoardFor(rank.Daily, today)
		all := rank.BoardFor(rank.All, today)

		if _, ok, err := b.Scores(ctx, daily); ok || err != nil {
			t.Fatalf("Scores of a board never built: ok %v err %v, want not live", ok, err)
		}
		// Change 1 arrives before any board exists: parked, not applied.
		st, err := b.Apply(ctx, 1, deltas("JP", 2))
		if err != nil || len(st) != 0 {
			t.Fatalf("Apply to no live board = %v %v, want no standings", st, err)
		}
		// A rebuild read SQL at seq 0 (before change 1 committed) but
		// writes after it was parked: the parked change is added.
		if err := b.Fill(ctx, daily, 0, map[string]int64{}); err != nil {
			t.Fatal(err)
		}
		if got := scores(t, b, daily); got != "map[JP:2]" {
			t.Errorf("daily after fill at 0 with change 1 parked = %s, want map[JP:2]", got)
		}
		// A rebuild whose snapshot already holds change 1 does not add it again.
		if err := b.Fill(ctx, all, 1, map[string]int64{"JP": 2}); err != nil {
			t.Fatal(err)
		}
		if got := scores(t, b, all); got != "map[JP:2]" {
			t.Errorf("all after fill at 1 = %s, want map[JP:2] (the parked change is in the snapshot)", got)
		}
		// A second fill of a live board changes nothing.
		if err := b.Fill(ctx, all, 1, map[string]int64{"JP": 99}); err != nil {
			t.Fatal(err)
		}
		if got := scores(t, b, all); got != "map[JP:2]" {
			t.Errorf("all after a second fill = %s, want map[JP:2] (live boards are not replaced)", got)
		}

		// Live boards: changes apply once, with competition ranks.
		st, err = b.Apply(ctx, 2, deltas("US", 2, "FR", 1))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(st[daily]); got != "map[FR:{1 3} US:{2 1}]" {
			t.Errorf("daily standings after change 2 = %s, want US 2 rank 1 (tied with JP), FR 1 rank 3", got)
		}
		if got := scores(t, b, all); got != "map[FR:1 JP:2 US:2]" {
			t.Errorf("all after change 2 = %s, want map[FR:1 JP:2 US:2]", got)
		}

		// A reset is a negative change; out of order with a click it still sums right.
		if _, err := b.Apply(ctx, 4, deltas("US", -3)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Apply(ctx, 3, deltas("US", 1)); err != nil {
			t.Fatal(err)
		}
		if got := scores(t, b, daily); got != "map[FR:1 JP:2]" {
			t.Errorf("daily after +1 and a reset of 3 = %s, want US gone", got)
		}

		// Invalidate: changes park until the next fill, which adds only newer ones.
		if err := b.Invalidate(ctx, daily); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.Scores(ctx, daily); ok {
			t.Error("Scores after Invalidate: live, want a rebuild")
		}
		if _, err := b.Apply(ctx, 6, deltas("KR", 1)); err != nil {
			t.Fatal(err)
		}
		// The rebuild's snapshot (at 6) holds change 6 and change 5, whose
		// instance was slow to reach Redis: 5 arrives after the fill and
		// must not be added to daily again, but is new to the all board.
		if err := b.Fill(ctx, daily, 6, map[string]int64{"FR": 1, "JP": 2, "KR": 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Apply(ctx, 5, deltas("KR", 1)); err != nil {
			t.Fatal(err)
		}
		if got := scores(t, b, daily); got != "map[FR:1 JP:2 KR:2]" {
			t.Errorf("daily after invalidate, fill and a late change = %s, want map[FR:1 JP:2 KR:2]", got)
		}
		if got := scores(t, b, all); got != "map[FR:1 JP:2 KR:2]" {
			t.Errorf("all = %s, want map[FR:1 JP:2 KR:2]", got)
		}
		for _, k := range []string{"board:daily:2026-11-18", "marker:daily:2026-11-18"} {
			ttl, err := r.Client.PTTL(ctx, r.Prefix+"ranking:{lb}:"+k).Result()
			if err != nil || ttl <= 0 || ttl > board.BoardTTL {
				t.Errorf("TTL of %s = %v %v, want within %v", k, ttl, err, board.BoardTTL)
			}
		}
		if _, err := b.Apply(ctx, 7, []rank.Delta{{Day: today, Country: "jp", Clicks: 1}}); err == nil {
			t.Error("Apply with a lower-case code succeeded, want an error")
		}
	})
}

func TestLimiterContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := t.Context()
		l := board.NewLimiter(r.Client, r.Prefix, board.LimiterConfig{Limit: 3, Window: time.Minute, Dedupe: 10 * time.Second})
		alice := rank.Client{Addr: "192.0.2.1", ID: "alice"}
		want := []rank.Admission{
			{Allowed: true, First: true},  // JP
			{Allowed: true, First: false}, // JP again: inside the duplicate window
			{Allowed: true, First: true},  // US
		}
		for i, c := range []string{"JP", "JP", "US"} {
			got, err := l.Admit(ctx, alice, c)
			if err != nil || got != want[i] {
				t.Errorf("click %d on %s = %+v %v, want %+v", i, c, got, err, want[i])
			}
		}
		got, err := l.Admit(ctx, alice, "FR")
		if err != nil || got.Allowed || got.Scope != rank.ScopeClient || got.RetryAfter <= 0 || got.RetryAfter > time.Minute {
			t.Errorf("4th click in the window = %+v %v, want refused with 0 < RetryAfter <= 1m", got, err)
		}
		if got, err := l.Admit(ctx, rank.Client{Addr: "192.0.2.1", ID: "bob"}, "JP"); err != nil || !got.Allowed || !got.First {
			t.Errorf("another client = %+v %v, want allowed and first", got, err)
		}
		if r.Mini != nil {
			r.Mini.FastForward(61 * time.Second)
			if got, err := l.Admit(ctx, alice, "JP"); err != nil || !got.Allowed || !got.First {
				t.Errorf("after the window = %+v %v, want allowed and first again", got, err)
			}
		}
	})
}

// TestLimiterAddressContract runs on miniredis and a real Redis: the
// address budget holds whatever ids are sent, ids beyond the bound are
// the address's own client, and addresses are independent.
func TestLimiterAddressContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := t.Context()
		l := board.NewLimiter(r.Client, r.Prefix, board.LimiterConfig{
			Limit: 2, Window: time.Minute, Dedupe: 10 * time.Second, AddressLimit: 5, AddressIDs: 2,
		})
		const addr = "2001:db8::7" // an IPv6 address has colons: the key must still be one tag
		type step struct {
			id, country string
			want        rank.Admission
		}
		for i, st := range []step{
			{"a", "JP", rank.Admission{Allowed: true, First: true}},
			{"b", "JP", rank.Admission{Allowed: true, First: true}},
			{"c", "JP", rank.Admission{Allowed: true, First: true}},  // 3rd id: the address's own client
			{"d", "JP", rank.Admission{Allowed: true, First: false}}, // 4th id: the same client, a repeat
			{"", "US", rank.Admission{Scope: rank.ScopeClient}},      // no id: that client's 3rd click, over 2
			{"a", "US", rank.Admission{Allowed: true, First: true}},  // 5th admitted click of the address
			{"b", "US", rank.Admission{Scope: rank.ScopeAddress}},    // b is under its limit, the address is not
			{"e", "FR", rank.Admission{Scope: rank.ScopeAddress}},
		} {
			got, err := l.Admit(ctx, rank.Client{Addr: addr, ID: st.id}, st.country)
			if err != nil {
				t.Fatalf("click %d: %v", i, err)
			}
			if !st.want.Allowed && (got.RetryAfter <= 0 || got.RetryAfter > time.Minute) {
				t.Errorf("click %d (id %q on %s): RetryAfter %v, want within the 1m window", i, st.id, st.country, got.RetryAfter)
			}
			got.RetryAfter = 0
			if got != st.want {
				t.Errorf("click %d (id %q on %s) = %+v, want %+v", i, st.id, st.country, got, st.want)
			}
		}
		if got, err := l.Admit(ctx, rank.Client{Addr: "2001:db8::8", ID: "c"}, "JP"); err != nil || !got.Allowed || !got.First {
			t.Errorf("id c from another address = %+v %v, want allowed and first", got, err)
		}
		if r.Mini != nil {
			r.Mini.FastForward(61 * time.Second)
			if got, err := l.Admit(ctx, rank.Client{Addr: addr, ID: "e"}, "FR"); err != nil || !got.Allowed || !got.First {
				t.Errorf("new id after the window = %+v %v, want allowed and first", got, err)
			}
		}
	})
}
