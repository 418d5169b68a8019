package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/apperr"
)

// MsgAdminDisabled is the message of the 403 every admin call gets when no
// admin token is configured: admin endpoints are closed by default.
const MsgAdminDisabled = "admin endpoints are disabled: RATEWIRE_ADMIN_TOKEN is not set"

// Admin login throttle: after AdminMaxFailures failed logins (401 or 403
// for a bad token) from one client address within AdminFailureWindow of
// its first failure, every admin call from that address is 429
// RATE_LIMIT_EXCEEDED with Retry-After until the window has passed.
// Successes do not count and do not clear the count.
const (
	AdminMaxFailures   = 5
	AdminFailureWindow = time.Minute

	// maxAdminClients bounds the addresses one guard tracks: at the bound,
	// expired entries are dropped and then the oldest, so a flood of
	// addresses cannot grow the table.
	maxAdminClients = 4096
)

// RequireAdmin guards admin endpoints with "Authorization: Bearer <token>".
// An empty token disables them (403); a missing or malformed header is 401
// with WWW-Authenticate; a wrong token is 403; an address with too many
// recent failures is 429 (see AdminMaxFailures). Admin answers, success
// or failure, carry "Cache-Control: no-store" and no CORS headers: no
// origin may read them. The client address is c.ClientIP() (trusted
// proxies honoured) and the time is the engine's clock; each returned
// handler keeps its own throttle state.
func RequireAdmin(token string) gin.HandlerFunc {
	// Comparing digests keeps the comparison constant-time in the length too.
	want := sha256.Sum256([]byte(token))
	th := &adminThrottle{clients: map[string]*adminFailures{}}
	return func(c *gin.Context) {
		noStore(c)
		denyCORS(c)
		if token == "" {
			Error(c, apperr.Forbidden(MsgAdminDisabled))
			return
		}
		client, now := c.ClientIP(), clockOf(c)()
		if wait := th.blocked(client, now); wait > 0 {
			Error(c, apperr.RateLimited(wait))
			return
		}
		scheme, got, ok := strings.Cut(c.GetHeader("Authorization"), " ")
		got = strings.TrimSpace(got)
		if !ok || !strings.EqualFold(scheme, "Bearer") || got == "" {
			th.fail(client, now)
			Error(c, apperr.Unauthorized("missing or malformed Authorization: Bearer header"))
			return
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			th.fail(client, now)
			Error(c, apperr.Forbidden("invalid admin token"))
			return
		}
		c.Next()
	}
}

// adminThrottle counts failed admin logins per client address in fixed
// windows that open at an address's first failure.
type adminThrottle struct {
	mu      sync.Mutex
	clients map[string]*adminFailures
}

type adminFailures struct {
	since time.Time // the first failure of the window
	count int
}

// blocked returns how long client must still wait, or 0.
func (t *adminThrottle) blocked(client string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.clients[client]
	if !ok {
		return 0
	}
	left := f.since.Add(AdminFailureWindow).Sub(now)
	if left <= 0 {
		delete(t.clients, client)
		return 0
	}
	if f.count < AdminMaxFailures {
		return 0
	}
	return left
}

// fail records a failed login of client at now.
func (t *adminThrottle) fail(client string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f, ok := t.clients[client]; ok && now.Sub(f.since) < AdminFailureWindow {
		f.count++
		return
	}
	if _, ok := t.clients[client]; !ok && len(t.clients) >= maxAdminClients {
		t.evict(now)
	}
	t.clients[client] = &adminFailures{since: now, count: 1}
}

// evict drops expired entries, and the oldest one if none has expired.
func (t *adminThrottle) evict(now time.Time) {
	var oldest string
	for k, f := range t.clients {
		if now.Sub(f.since) >= AdminFailureWindow {
			delete(t.clients, k)
		} else if oldest == "" || f.since.Before(t.clients[oldest].since) {
			oldest = k
		}
	}
	if len(t.clients) >= maxAdminClients {
		delete(t.clients, oldest)
	}
}
