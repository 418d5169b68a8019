package provider

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// koreaEximOldHost is Korea Eximbank's former API host, cut off on
// 2026-04-30.
const koreaEximOldHost = "www.koreaexim.go.kr"

// versionSegment matches an API version path segment: v1, v2, v6.
var versionSegment = regexp.MustCompile(`^v[0-9]+$`)

// CheckBaseURL validates a base-URL override (RATEWIRE_*_URL) of the
// provider called name at start-up, so a mistake is a clear configuration
// error instead of requests to a wrong path. It must be an http or https
// URL with a host and no query or fragment; for ExchangeRate-API,
// Frankfurter and Hana Bank (Dunamu), whose paths ratewire appends with
// their API version (/v6/..., /v1/...), it must not carry a version
// segment itself: a URL
// ending in /v1 would be asked for /v1/v1/latest, and one pointing at
// another version (Frankfurter's v2, ExchangeRate-API's v4) answers in
// another shape. Korea Eximbank's former host, cut off on 2026-04-30, is
// refused too. Empty means the default host and is fine.
func CheckBaseURL(name, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s base URL: %w", name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s base URL %q: want http(s)://host[:port][/prefix]", name, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s base URL %q: no query, fragment or credentials (keys have their own setting)", name, u.Redacted())
	}
	if name == KoreaEximName && strings.EqualFold(u.Hostname(), koreaEximOldHost) {
		return fmt.Errorf("%s base URL %q: the bank moved its API to %s on 2025-06-25 and cut %s off on 2026-04-30",
			name, raw, KoreaEximURL, koreaEximOldHost)
	}
	want, versioned := map[string]string{ExchangeRateAPIName: "/v6", FrankfurterName: "/v1", HanaName: "/v1"}[name]
	if !versioned {
		return nil
	}
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if versionSegment.MatchString(seg) {
			return fmt.Errorf("%s base URL %q names an API version (/%s): give the host only, ratewire appends %s/... itself",
				name, raw, seg, want)
		}
	}
	return nil
}
