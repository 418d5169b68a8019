package ranking_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// behindGateway runs the service with its only client, 127.0.0.1, as the
// trusted gateway: X-Forwarded-For names the client address.
func behindGateway(t *testing.T, opts ranking.Options) *service {
	return startServiceEnv(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t), noon, opts,
		map[string]string{"RATEWIRE_TRUSTED_PROXIES": "127.0.0.1/32"})
}

// clickFrom posts a click on country from addr (X-Forwarded-For) with id
// (X-Client-Id, none when empty) and returns the status, Retry-After and
// the decoded answer.
func (s *service) clickFrom(t testing.TB, addr, id, country string) (int, string, clickData, string) {
	t.Helper()
	h := map[string]string{"X-Forwarded-For": addr}
	if id != "" {
		h["X-Client-Id"] = id
	}
	resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/click?country="+country, nil, h)
	var d clickData
	scope := ""
	if env.Success {
		if err := json.Unmarshal(env.Data, &d); err != nil {
			t.Fatalf("decode click: %v", err)
		}
	} else if env.Error != nil {
		scope, _ = env.Error.Details["scope"].(string)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), d, scope
}

// TestRotatingClientIDsDoNotEscapeTheAddress is the observed abuse: one
// sequential client sending a new X-Client-Id with every click. With the
// defaults, the first 8 ids are clients of their own (8 counted clicks),
// every later id is the address's own client: 1 more counted, then
// duplicates until its 60 per minute are used, then 429.
func TestRotatingClientIDsDoNotEscapeTheAddress(t *testing.T) {
	s := behindGateway(t, ranking.Options{})
	byStatus := map[int]int{}
	for i := range 600 {
		st, ra, _, _ := s.clickFrom(t, "198.51.100.7", fmt.Sprintf("rot-%d", i), "US")
		byStatus[st]++
		if st == http.StatusTooManyRequests {
			if n, err := strconv.Atoi(ra); err != nil || n < 1 || n > 60 {
				t.Fatalf("click %d: Retry-After %q, want 1..60", i, ra)
			}
		}
	}
	want := map[int]int{http.StatusCreated: 9, http.StatusOK: 59, http.StatusTooManyRequests: 532}
	if fmt.Sprint(byStatus) != fmt.Sprint(want) {
		t.Errorf("600 clicks with rotating ids from one address: statuses %v, want %v", byStatus, want)
	}
	if got := s.ranking(t, "period=daily").order(); got != "1:US=9" {
		t.Errorf("ranking: %s, want 1:US=9", got)
	}
}

// TestAddressBudget: clicks per address are limited whatever ids are
// sent; the per-client limit still holds per (address, id); another
// address is unaffected; the address window ends.
func TestAddressBudget(t *testing.T) {
	s := behindGateway(t, ranking.Options{RateLimit: 3, AddressRateLimit: 5, AddressClientIDs: 4})
	const home = "198.51.100.7"
	type step struct {
		id, country string
		status      int
		scope       string
	}
	for i, st := range []step{
		{"a", "JP", 201, ""}, {"a", "US", 201, ""}, {"a", "FR", 201, ""},
		{"a", "DE", 429, "client"}, // a's own limit; the address has used 3 of 5
		{"b", "JP", 201, ""}, {"b", "US", 201, ""},
		{"b", "FR", 429, "address"}, // b is under its limit, the address is not
		{"c", "FR", 429, "address"}, // a new id does not help
		{"", "FR", 429, "address"},  // nor no id
	} {
		status, ra, _, scope := s.clickFrom(t, home, st.id, st.country)
		if status != st.status || scope != st.scope {
			t.Fatalf("step %d (id %q on %s): status %d scope %q, want %d %q", i, st.id, st.country, status, scope, st.status, st.scope)
		}
		if status == 429 {
			if n, err := strconv.Atoi(ra); err != nil || n < 1 || n > 60 {
				t.Errorf("step %d: Retry-After %q, want 1..60", i, ra)
			}
		}
	}
	// The same id from another address is another client.
	if status, _, d, _ := s.clickFrom(t, "198.51.100.8", "a", "FR"); status != 201 || !d.Counted {
		t.Errorf("id a from another address: status %d counted %v, want 201 counted", status, d.Counted)
	}
	if got := s.ranking(t, "period=daily").order(); got != "1:FR=2 1:JP=2 1:US=2" {
		t.Errorf("ranking: %s, want 1:FR=2 1:JP=2 1:US=2", got)
	}
	s.redis.Mini.FastForward(61 * time.Second)
	if status, _, _, _ := s.clickFrom(t, home, "c", "DE"); status != 201 {
		t.Errorf("after the window: status %d, want 201", status)
	}
}

// TestClientIDsPerAddressBounded: up to AddressClientIDs ids per address
// each have their own duplicate window (people behind one NAT); further
// ids count as the address's own client, the one without an id.
func TestClientIDsPerAddressBounded(t *testing.T) {
	s := behindGateway(t, ranking.Options{AddressClientIDs: 2})
	const home = "198.51.100.7"
	for i, st := range []struct {
		id      string
		status  int
		counted bool
	}{
		{"a", 201, true}, {"b", 201, true},
		{"c", 201, true},  // 3rd id: the address's own client, its first JP
		{"d", 200, false}, // 4th id: that client again, inside the duplicate window
		{"", 200, false},  // no id: that client too
		{"a", 200, false}, // a's own duplicate window
	} {
		status, _, d, _ := s.clickFrom(t, home, st.id, "JP")
		if status != st.status || d.Counted != st.counted {
			t.Errorf("click %d by id %q: status %d counted %v, want %d %v", i, st.id, status, d.Counted, st.status, st.counted)
		}
	}
	if status, _, d, _ := s.clickFrom(t, "198.51.100.8", "d", "JP"); status != 201 || d.DailyClicks != 4 {
		t.Errorf("id d from another address: status %d daily %d, want 201 and 4", status, d.DailyClicks)
	}
}

// TestDistinctAddressesBehindTrustedGateway: 80 users behind the trusted
// gateway are 80 clients, each counted. From a peer that is not a trusted
// proxy, X-Forwarded-For is ignored: the 80 clicks are one client's.
func TestDistinctAddressesBehindTrustedGateway(t *testing.T) {
	for _, tt := range []struct {
		name, trusted string
		daily         int64
	}{
		{"trusted", "127.0.0.1/32", 80},
		{"untrusted", "10.0.0.0/8", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startServiceEnv(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t), noon, ranking.Options{},
				map[string]string{"RATEWIRE_TRUSTED_PROXIES": tt.trusted})
			counted := 0
			for i := range 80 {
				status, _, d, _ := s.clickFrom(t, fmt.Sprintf("203.0.113.%d", i+1), "", "US")
				if status == http.StatusCreated && d.Counted {
					counted++
				}
			}
			if got := s.ranking(t, "period=daily"); len(got.Rankings) != 1 || got.Rankings[0].Clicks != tt.daily || int64(counted) != tt.daily {
				t.Errorf("80 clicks on US from 80 forwarded addresses: daily %s, %d answered counted; want US=%d", got.order(), counted, tt.daily)
			}
		})
	}
}
