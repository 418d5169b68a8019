package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestComposeGatewayStream checks that nginx passes the rate stream
// (GET /api/v1/currencies/stream, Server-Sent Events) through as it is
// written: its own location proxies to the currency service with
// buffering off, a read timeout far longer than the stream's 15 s
// heartbeat, and HTTP/1.1 with keep-alive to the upstream.
func TestComposeGatewayStream(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "deploy/gateway/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(string(src), "")
	m := regexp.MustCompile(`location\s+=\s+/api/v1/currencies/stream\s*\{([^}]*)\}`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatal("nginx.conf has no `location = /api/v1/currencies/stream` block")
	}
	block := directives(m[1])
	if got := block["proxy_pass"]; got != "http://currency" {
		t.Errorf("stream location proxy_pass %q, want http://currency (the currency upstream)", got)
	}
	if got := block["proxy_buffering"]; got != "off" {
		t.Errorf("stream location proxy_buffering %q, want off", got)
	}
	if got := block["gzip"]; got == "on" {
		t.Error("stream location compresses (gzip on): nginx would buffer events")
	}
	timeout, err := nginxDuration(block["proxy_read_timeout"])
	if err != nil || timeout < 10*time.Minute {
		t.Errorf("stream location proxy_read_timeout %q (%v), want at least 10m", block["proxy_read_timeout"], err)
	}
	if _, ok := block["proxy_set_header"]; ok {
		t.Error("stream location sets proxy_set_header: it would drop the server's headers (X-Forwarded-For, Connection)")
	}
	// HTTP/1.1 and an empty Connection header, from the server block
	// unless the location overrides them.
	server := directives(regexp.MustCompile(`(?s)(location|upstream)[^{]*\{[^}]*\}`).ReplaceAllString(conf, ""))
	version := block["proxy_http_version"]
	if version == "" {
		version = server["proxy_http_version"]
	}
	if version != "1.1" {
		t.Errorf("the stream is proxied with HTTP %q, want 1.1", version)
	}
	if !regexp.MustCompile(`(?m)^\s*proxy_set_header\s+Connection\s+"";`).MatchString(conf) {
		t.Error(`nginx.conf does not clear the Connection header (proxy_set_header Connection "";)`)
	}
}

// directives returns the simple "name value;" directives of an nginx block
// body (the last of each name).
func directives(body string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*([a-z_]+)\s+([^;{}]*);`).FindAllStringSubmatch(body, -1) {
		out[m[1]] = strings.TrimSpace(m[2])
	}
	return out
}

// nginxDuration reads an nginx time such as 1h, 90s, 5m or 3600.
func nginxDuration(s string) (time.Duration, error) {
	if s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' {
		s += "s"
	}
	return time.ParseDuration(s)
}
