package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// AIA completes TLS chains that a server sends without their intermediate
// certificate, as Korea Eximbank's is reported to (DESIGN.md §5). Browsers
// and curl fetch the missing intermediate from the leaf's Authority
// Information Access "CA Issuers" URL; Go's TLS stack does not
// (golang/go#31773) and fails with "certificate signed by unknown
// authority". AIA does what the browsers do, without ever skipping
// verification:
//
//  1. A connection first handshakes normally against Roots.
//  2. Only when that fails for an unknown authority, the intermediates
//     named by the leaf's CA Issuers URLs are fetched (bounded in size and
//     time, cached for TTL), and the leaf is verified against Roots with
//     them, for the host name asked. A chain that still does not verify is
//     refused with the verification error.
//  3. The connection is made again. Since crypto/tls takes no extra
//     intermediates, the verified intermediates are added to a copy of
//     Roots for that host only, and a VerifyConnection hook verifies every
//     such connection's full chain again against Roots themselves, so the
//     intermediate is never trusted on its own.
//
// Later connections to the host go straight to step 3 while the cache
// holds. Proxied requests (HTTPS_PROXY) do not pass through AIA.
type AIA struct {
	// Roots are the trust anchors; nil means the system roots.
	Roots *x509.CertPool
	// Fetch is the client that downloads CA Issuers certificates (plain
	// HTTP, as CAs serve them); nil means one with a 5 s timeout.
	Fetch *http.Client
	// TTL bounds how long fetched intermediates are reused (never past
	// their own expiry); zero means 24 hours.
	TTL time.Duration
	// Now is the clock of the cache and of verification; nil means
	// time.Now.
	Now func() time.Time
	// Dialer dials the TCP connections; nil means a net.Dialer with a 10 s
	// timeout.
	Dialer *net.Dialer

	mu    sync.Mutex
	hosts map[string]aiaEntry // host name -> verified intermediates
}

// aiaEntry is a cached set of verified intermediates.
type aiaEntry struct {
	certs   []*x509.Certificate
	expires time.Time
}

// Limits of CA Issuers fetching: one certificate is a few KB; a chain
// missing more than aiaMaxDepth certificates is not worth completing.
const (
	aiaMaxBytes    = 64 << 10
	aiaMaxDepth    = 3
	aiaMaxHosts    = 64
	aiaDefaultTTL  = 24 * time.Hour
	aiaDialTimeout = 10 * time.Second
)

var aiaDefaultFetch = &http.Client{Timeout: 5 * time.Second}

// NewHTTPClient is an http.Client with the given timeout whose HTTPS
// connections complete missing intermediates through a (see AIA).
func NewHTTPClient(a *AIA, timeout time.Duration) *http.Client {
	if a == nil {
		a = &AIA{}
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialTLSContext:        a.DialTLSContext,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
	}}
}

// DialTLSContext dials addr and returns a TLS connection whose chain
// verified against Roots, completed through AIA when the server sent it
// incomplete. It has the signature of http.Transport.DialTLSContext.
func (a *AIA) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tls dial %s: %w", addr, err)
	}
	if inter, ok := a.cached(host); ok {
		conn, err := a.handshake(ctx, network, addr, a.completedConfig(host, inter))
		if _, unknown := unknownAuthority(err); !unknown {
			return conn, err
		}
		a.forget(host) // the server changed its chain: complete it afresh
	}
	conn, err := a.handshake(ctx, network, addr, &tls.Config{ServerName: host, RootCAs: a.Roots, MinVersion: tls.VersionTLS12})
	presented, unknown := unknownAuthority(err)
	if !unknown {
		return conn, err
	}
	inter, err := a.complete(ctx, host, presented)
	if err != nil {
		return nil, err
	}
	return a.handshake(ctx, network, addr, a.completedConfig(host, inter))
}

// unknownAuthority reports whether err is a handshake that failed only
// because the chain did not reach a root, and returns the chain the server
// presented.
func unknownAuthority(err error) ([]*x509.Certificate, bool) {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &cve) || !errors.As(err, &uae) || len(cve.UnverifiedCertificates) == 0 {
		return nil, false
	}
	return cve.UnverifiedCertificates, true
}

// handshake dials and completes a TLS handshake with cfg.
func (a *AIA) handshake(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
	d := a.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: aiaDialTimeout}
	}
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// complete fetches the intermediates the presented chain lacks, verifies
// the leaf with them against Roots for host, and caches them.
func (a *AIA) complete(ctx context.Context, host string, presented []*x509.Certificate) ([]*x509.Certificate, error) {
	leaf := presented[0]
	pool := x509.NewCertPool()
	for _, c := range presented[1:] {
		pool.AddCert(c)
	}
	var fetched []*x509.Certificate
	next := leaf // whose issuer to fetch: the leaf, then each fetched one
	for {
		_, err := leaf.Verify(a.verifyOptions(host, pool))
		if err == nil {
			break
		}
		if len(fetched) > 0 && (len(next.IssuingCertificateURL) == 0 || len(fetched) == aiaMaxDepth) {
			return nil, fmt.Errorf("tls %s: chain does not verify even with its AIA intermediates: %w", host, err)
		}
		if len(next.IssuingCertificateURL) == 0 {
			return nil, fmt.Errorf("tls %s: chain incomplete and no AIA CA Issuers URL to complete it: %w", host, err)
		}
		c, ferr := a.fetchIssuer(ctx, next.IssuingCertificateURL)
		if ferr != nil {
			return nil, fmt.Errorf("tls %s: chain incomplete: %w", host, ferr)
		}
		pool.AddCert(c)
		fetched = append(fetched, c)
		next = c
	}
	expires := a.now().Add(a.ttl())
	for _, c := range fetched {
		if c.NotAfter.Before(expires) {
			expires = c.NotAfter
		}
	}
	a.mu.Lock()
	if a.hosts == nil || len(a.hosts) >= aiaMaxHosts {
		a.hosts = map[string]aiaEntry{}
	}
	a.hosts[host] = aiaEntry{certs: fetched, expires: expires}
	a.mu.Unlock()
	return fetched, nil
}

// fetchIssuer downloads the first CA Issuers certificate that parses, DER
// or PEM, over http(s).
func (a *AIA) fetchIssuer(ctx context.Context, urls []string) (*x509.Certificate, error) {
	client := a.Fetch
	if client == nil {
		client = aiaDefaultFetch
	}
	var errs []error
	for _, u := range urls {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
			errs = append(errs, fmt.Errorf("CA Issuers URL %.80q is not http(s)", u))
			continue
		}
		c, err := fetchCert(ctx, client, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return c, nil
	}
	return nil, errors.Join(errs...)
}

func fetchCert(ctx context.Context, client *http.Client, u string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("CA Issuers %s: %w", u, err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("CA Issuers: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CA Issuers %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, aiaMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("CA Issuers %s: read: %w", u, err)
	}
	if len(body) > aiaMaxBytes {
		return nil, fmt.Errorf("CA Issuers %s: more than %d bytes", u, aiaMaxBytes)
	}
	return parseIssuerCert(body)
}

// parseIssuerCert reads a CA Issuers answer: one DER certificate, as RFC
// 5280 §4.2.2.1 says, or PEM, as some CAs serve. It must be a CA.
func parseIssuerCert(body []byte) (*x509.Certificate, error) {
	if b, _ := pem.Decode(body); b != nil && b.Type == "CERTIFICATE" {
		body = b.Bytes
	}
	c, err := x509.ParseCertificate(body)
	if err != nil {
		return nil, fmt.Errorf("CA Issuers certificate: %w", err)
	}
	if !c.IsCA {
		return nil, errors.New("CA Issuers certificate is not a CA")
	}
	return c, nil
}

// completedConfig trusts host's verified intermediates as anchors for the
// handshake, and re-verifies every chain against Roots proper.
func (a *AIA) completedConfig(host string, inter []*x509.Certificate) *tls.Config {
	anchors := a.Roots
	if anchors == nil {
		if sys, err := x509.SystemCertPool(); err == nil {
			anchors = sys
		} else {
			anchors = x509.NewCertPool()
		}
	} else {
		anchors = anchors.Clone()
	}
	for _, c := range inter {
		anchors.AddCert(c)
	}
	return &tls.Config{
		ServerName: host,
		RootCAs:    anchors,
		MinVersion: tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no peer certificate")
			}
			pool := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				pool.AddCert(c)
			}
			for _, c := range inter {
				pool.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(a.verifyOptions(host, pool)); err != nil {
				return fmt.Errorf("tls %s: chain completed through AIA does not verify: %w", host, err)
			}
			return nil
		},
	}
}

func (a *AIA) verifyOptions(host string, intermediates *x509.CertPool) x509.VerifyOptions {
	return x509.VerifyOptions{
		DNSName:       host,
		Roots:         a.Roots,
		Intermediates: intermediates,
		CurrentTime:   a.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// forget drops host's cached intermediates.
func (a *AIA) forget(host string) {
	a.mu.Lock()
	delete(a.hosts, host)
	a.mu.Unlock()
}

// cached returns host's intermediates while they are fresh.
func (a *AIA) cached(host string) ([]*x509.Certificate, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.hosts[host]
	if !ok {
		return nil, false
	}
	if !a.now().Before(e.expires) {
		delete(a.hosts, host)
		return nil, false
	}
	return e.certs, true
}

func (a *AIA) ttl() time.Duration {
	if a.TTL > 0 {
		return a.TTL
	}
	return aiaDefaultTTL
}

func (a *AIA) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
