package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxBodyBytes bounds every provider body read into memory. The largest
// real answer (ExchangeRate-API, ~165 currencies; a year of Frankfurter
// time series) is well under it; anything larger is refused as an error.
const MaxBodyBytes = 4 << 20

// DefaultTimeout is the whole-request timeout of the client used when a
// provider is given none.
const DefaultTimeout = 10 * time.Second

// defaultClient is shared by providers built without a client; an
// http.Client is safe for concurrent use. Its HTTPS connections complete
// chains a server sends without their intermediate (Korea Eximbank's),
// verified against the system roots (see AIA).
var defaultClient = NewHTTPClient(&AIA{}, DefaultTimeout)

// userAgent names us to providers, as their terms ask.
const userAgent = "ratewire-ingestor/1"

// getter performs the HTTP part common to every provider: a GET with a
// context, a bounded body read, status classification, and redaction of
// the secrets that travel in URLs.
type getter struct {
	name    string
	client  *http.Client
	now     func() time.Time
	secrets []string // redacted from every error; empty strings are ignored
}

// response is a successful transport exchange; the status may still be an
// error status for the provider to interpret.
type response struct {
	status      int
	contentType string
	header      http.Header
	body        []byte
}

// get fetches u. A transport failure, an unreadable or oversized body is a
// classified *Error; any HTTP status comes back as a response.
func (g getter) get(ctx context.Context, u string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return response{}, g.fail(Permanent, 0, fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	client := g.client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		kind := Temporary // timeouts, refused and reset connections, DNS, TLS
		if errors.Is(err, context.Canceled) {
			kind = Permanent
		}
		return response{}, g.fail(kind, 0, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		// A connection cut mid-body (truncated answer) or a timeout while
		// reading it.
		return response{}, g.fail(Temporary, resp.StatusCode, fmt.Errorf("read body: %w", err))
	}
	if len(body) > MaxBodyBytes {
		return response{}, g.fail(Temporary, resp.StatusCode, fmt.Errorf("body exceeds %d bytes", MaxBodyBytes))
	}
	return response{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		header:      resp.Header,
		body:        body,
	}, nil
}

// statusError classifies a non-2xx answer that the provider did not
// recognise as one of its own error bodies: 429 is RateLimited with its
// Retry-After; 408, 425 and 5xx are Temporary (with Retry-After if sent,
// as 503 often does); 3xx (a redirect the client did not follow) is
// Temporary; 401, 403 and other 4xx are Permanent.
func (g getter) statusError(r response) *Error {
	retry := parseRetryAfter(r.header.Get("Retry-After"), g.clock())
	detail := g.snippet(r)
	switch {
	case r.status == http.StatusTooManyRequests:
		e := g.fail(RateLimited, r.status, fmt.Errorf("too many requests%s", detail))
		e.RetryAfter = retry
		return e
	case r.status == http.StatusRequestTimeout || r.status == http.StatusTooEarly || r.status >= 500:
		e := g.fail(Temporary, r.status, fmt.Errorf("server error%s", detail))
		e.RetryAfter = retry
		return e
	case r.status >= 300 && r.status < 400:
		// Name where it points, without query or fragment: a login page's
		// "return to" parameter would carry our URL and key, escaped who
		// knows how many times.
		loc := r.header.Get("Location")
		if lu, err := url.Parse(loc); err == nil {
			lu.RawQuery, lu.Fragment, lu.User = "", "", nil
			loc = lu.String()
		} else {
			loc = "(unparsable)"
		}
		return g.fail(Temporary, r.status, fmt.Errorf("unexpected redirect to %q", g.redact(loc)))
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		e := g.fail(Permanent, r.status, fmt.Errorf("access refused%s", detail))
		e.BadKey = true
		return e
	default:
		return g.fail(Permanent, r.status, fmt.Errorf("unexpected status%s", detail))
	}
}

// requireJSON refuses a body that is not JSON (an HTML error or login page,
// a proxy's text), naming its content type. It looks at the body, not the
// header: providers label JSON inconsistently (Korea Eximbank sends
// text/html for some JSON answers).
func (g getter) requireJSON(r response) *Error {
	b := bytes.TrimLeft(bytes.TrimPrefix(r.body, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		return nil
	}
	ct := r.contentType
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	if ct == "" {
		ct = "none"
	}
	if len(b) == 0 {
		return g.fail(Temporary, r.status, fmt.Errorf("empty body (content type %s)", ct))
	}
	return g.fail(Temporary, r.status, fmt.Errorf("non-JSON body (content type %s)%s", ct, g.snippet(r)))
}

// fail builds a redacted *Error.
func (g getter) fail(kind ErrorKind, status int, err error) *Error {
	return &Error{Provider: g.name, Kind: kind, Status: status, Err: g.redactErr(err)}
}

// redactErr removes secrets from err's message. A *url.Error (which quotes
// the whole request URL, key included) gets its URL redacted and keeps its
// cause, so errors.Is/As still see timeouts and cancellations. If a secret
// survives anywhere else in the message, the chain is replaced by its
// redacted text: a leaked key is worse than a lost error type.
func (g getter) redactErr(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		cp.URL = g.redact(ue.URL)
		if ue == err {
			err = &cp
		} else {
			err = fmt.Errorf("%s", g.redact(err.Error())) // wrapped deeper: keep text only
		}
	}
	if msg := err.Error(); g.redact(msg) != msg {
		return errors.New(g.redact(msg))
	}
	return err
}

// redact replaces every secret, raw or URL-escaped (once or twice), in s.
func (g getter) redact(s string) string {
	for _, sec := range g.secrets {
		if sec == "" {
			continue
		}
		q, p := url.QueryEscape(sec), url.PathEscape(sec)
		for _, form := range []string{sec, q, p, url.QueryEscape(q), url.QueryEscape(p)} {
			s = strings.ReplaceAll(s, form, "REDACTED")
		}
	}
	return s
}

func (g getter) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// snippet is a short, printable excerpt of an error body for messages,
// redacted before it is cut so no partial secret survives.
func (g getter) snippet(r response) string {
	s := g.redact(strings.TrimSpace(string(r.body)))
	if s == "" {
		return ""
	}
	const limit = 120
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return fmt.Sprintf(": %q", s)
}

// parseHTTPDate parses an HTTP-date in any of the three formats HTTP allows.
func parseHTTPDate(v string) (time.Time, error) { return http.ParseTime(v) }
