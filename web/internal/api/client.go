// Package api is the web app's client of ratewire's public REST APIs
// (DESIGN.md §8). The app has no database of its own: every figure it shows
// comes through here, decoded from the one envelope the services share.
// Failures are classified (service down, not found, bad input, not enough
// data, ...) so that pages can say what happened in words a person
// understands and never show a raw answer.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Kind classifies a failed call by what the person looking at the page can
// do about it.
type Kind int

// Kinds of Error.
const (
	// KindDown: the service did not answer (refused, timed out, 502/503).
	KindDown Kind = iota + 1
	// KindNotFound: the thing asked for does not exist (404, unknown code).
	KindNotFound
	// KindInvalid: the request was refused as malformed (400).
	KindInvalid
	// KindUnknownCountry: a country name or code nobody knows (INVALID_COUNTRY).
	KindUnknownCountry
	// KindUnavailable: the data is not there yet (422: no spread quoted,
	// not enough history).
	KindUnavailable
	// KindLimited: too many requests (429).
	KindLimited
	// KindInternal: anything else (500, an answer that does not decode).
	KindInternal
)

// Error is a failed call. Code and Message are the service's own (for
// logs and for choosing words), never shown to people verbatim.
type Error struct {
	Kind    Kind
	Service string
	Status  int
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: status %d %s %s", e.Service, e.Status, e.Code, e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of err, or KindInternal when err is not an Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Endpoints are the base URLs (scheme://host:port, no path) of the four
// services; each may be the gateway's.
type Endpoints struct {
	Currency, History, Ranking, Ingestor string
}

// Client calls the public APIs with a bounded time per call.
type Client struct {
	ep      Endpoints
	http    *http.Client
	timeout time.Duration
}

// DefaultTimeout bounds one server-side call: a page waits at most this
// for a slow service before saying it is unreachable.
const DefaultTimeout = 3 * time.Second

// maxBody bounds what is read from one answer (a year of hourly candles is
// well under it).
const maxBody = 8 << 20

// New returns a client of ep. timeout <= 0 means DefaultTimeout; hc nil
// means a client of its own.
func New(ep Endpoints, timeout time.Duration, hc *http.Client) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               nil, // the services are ours; never through an environment proxy
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     60 * time.Second,
		}}
	}
	return &Client{ep: ep, http: hc, timeout: timeout}
}

// Endpoints returns the base URLs the client calls.
func (c *Client) Endpoints() Endpoints { return c.ep }

type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// get fetches base+path+query and decodes the envelope's data into out.
func (c *Client) get(ctx context.Context, service, base, path string, q url.Values, out any) error {
	return c.do(ctx, http.MethodGet, service, base, path, q, out)
}

func (c *Client) do(ctx context.Context, method, service, base, path string, q url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := strings.TrimRight(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return &Error{Kind: KindInternal, Service: service, Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Kind: KindDown, Service: service, Err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &Error{Kind: KindDown, Service: service, Status: resp.StatusCode, Err: fmt.Errorf("read %s: %w", path, err)}
	}
	var env envelope
	if jerr := json.Unmarshal(body, &env); jerr != nil {
		// A gateway's HTML error page or a truncated answer.
		kind := KindInternal
		if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout {
			kind = KindDown
		}
		return &Error{Kind: kind, Service: service, Status: resp.StatusCode, Err: fmt.Errorf("decode %s: %w", path, jerr)}
	}
	if resp.StatusCode >= 300 || !env.Success {
		e := &Error{Service: service, Status: resp.StatusCode}
		if env.Error != nil {
			e.Code, e.Message = env.Error.Code, env.Error.Message
		}
		e.Kind = classify(resp.StatusCode, e.Code)
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &Error{Kind: KindInternal, Service: service, Status: resp.StatusCode, Err: fmt.Errorf("decode %s data: %w", path, err)}
	}
	return nil
}

func classify(status int, code string) Kind {
	switch {
	case code == "INVALID_COUNTRY":
		return KindUnknownCountry
	case code == "INVALID_CURRENCY_CODE" && status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusUnprocessableEntity:
		return KindUnavailable
	case status == http.StatusTooManyRequests:
		return KindLimited
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return KindDown
	case status >= 400 && status < 500:
		return KindInvalid
	default:
		return KindInternal
	}
}

// Text fetches a plain-text document (a service's /metrics) from base+path.
func (c *Client) Text(ctx context.Context, service, base, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return nil, &Error{Kind: KindInternal, Service: service, Err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Kind: KindDown, Service: service, Err: fmt.Errorf("GET %s: %w", path, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &Error{Kind: KindDown, Service: service, Status: resp.StatusCode, Err: fmt.Errorf("read %s: %w", path, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Kind: classify(resp.StatusCode, ""), Service: service, Status: resp.StatusCode}
	}
	return body, nil
}

// Bytes fetches base+path as is (a service's /openapi.json).
func (c *Client) Bytes(ctx context.Context, service, base, path string) ([]byte, error) {
	return c.Text(ctx, service, base, path)
}
