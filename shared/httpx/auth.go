package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/apperr"
)

// MsgAdminDisabled is the message of the 403 every admin call gets when no
// admin token is configured: admin endpoints are closed by default.
const MsgAdminDisabled = "admin endpoints are disabled: RATEWIRE_ADMIN_TOKEN is not set"

// RequireAdmin guards admin endpoints with "Authorization: Bearer <token>".
// An empty token disables them (403); a missing or malformed header is 401
// with WWW-Authenticate; a wrong token is 403.
func RequireAdmin(token string) gin.HandlerFunc {
	// Comparing digests keeps the comparison constant-time in the length too.
	want := sha256.Sum256([]byte(token))
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store") // admin answers are never cached
		if token == "" {
			Error(c, apperr.Forbidden(MsgAdminDisabled))
			return
		}
		scheme, got, ok := strings.Cut(c.GetHeader("Authorization"), " ")
		got = strings.TrimSpace(got)
		if !ok || !strings.EqualFold(scheme, "Bearer") || got == "" {
			Error(c, apperr.Unauthorized("missing or malformed Authorization: Bearer header"))
			return
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			Error(c, apperr.Forbidden("invalid admin token"))
			return
		}
		c.Next()
	}
}
