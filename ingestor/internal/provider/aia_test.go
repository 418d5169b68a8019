package provider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

// aiaNow is the tests' clock: the certificates below are valid around it.
var aiaNow = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

// pki is a root CA, an intermediate it signed, and the intermediate's DER
// as a CA Issuers URL would serve it.
type pki struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial atomic.Int64

// issue signs tmpl with parent's key (self-signed when parent is nil).
func issue(t testing.TB, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = aiaNow.AddDate(-1, 0, 0), aiaNow.AddDate(1, 0, 0)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newPKI(t testing.TB, name string) pki {
	t.Helper()
	p := pki{rootKey: newKey(t), interKey: newKey(t)}
	p.root = issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " Root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, p.rootKey, nil, nil)
	p.inter = issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " TLS RSA CA G1"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, p.interKey, p.root, p.rootKey)
	return p
}

// leafOnly starts a TLS server for 127.0.0.1 that sends its leaf, signed by
// signer, without the intermediate, naming aiaURL as its CA Issuers URL.
func leafOnly(t testing.TB, signer *x509.Certificate, signerKey *ecdsa.PrivateKey, aiaURL string) *httptest.Server {
	t.Helper()
	key := newKey(t)
	leaf := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "oapi.koreaexim.go.kr"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature, IssuingCertificateURL: []string{aiaURL}}, key, signer, signerKey)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		io.WriteString(w, `[]`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point of some tests
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// caIssuers serves body as a CA Issuers URL does and counts requests.
func caIssuers(t testing.TB, body []byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(body)
	})
	return srv, &hits
}

func rootsOf(cs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range cs {
		pool.AddCert(c)
	}
	return pool
}

func get(t testing.TB, client *http.Client, u string) error {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return nil
}

func TestAIACompletesAChainWithoutItsIntermediate(t *testing.T) {
	p := newPKI(t, "Thawte")
	issuers, hits := caIssuers(t, p.inter.Raw)
	srv := leafOnly(t, p.inter, p.interKey, issuers.URL+"/ThawteTLSRSACAG1.crt")

	// Go alone refuses the chain: the server omits the intermediate.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: rootsOf(p.root)}}}
	err := get(t, plain, srv.URL)
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Fatalf("plain client: %v, want x509: certificate signed by unknown authority", err)
	}

	now := aiaNow
	aia := &provider.AIA{Roots: rootsOf(p.root), TTL: time.Hour, Now: func() time.Time { return now }}
	client := provider.NewHTTPClient(aia, 5*time.Second)
	if err := get(t, client, srv.URL); err != nil {
		t.Fatalf("with AIA: %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("CA Issuers fetched %d times, want 1", hits.Load())
	}
	// A new connection reuses the cached intermediate.
	client.CloseIdleConnections()
	if err := get(t, client, srv.URL); err != nil {
		t.Fatalf("second connection: %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("CA Issuers fetched %d times after a second connection, want 1 (cached)", hits.Load())
	}
	// The cache is bounded in time.
	now = now.Add(time.Hour)
	client.CloseIdleConnections()
	if err := get(t, client, srv.URL); err != nil {
		t.Fatalf("after the TTL: %v", err)
	}
	if hits.Load() != 2 {
		t.Errorf("CA Issuers fetched %d times after the TTL, want 2", hits.Load())
	}
}

func TestAIAAcceptsPEM(t *testing.T) {
	p := newPKI(t, "Thawte")
	issuers, _ := caIssuers(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.inter.Raw}))
	srv := leafOnly(t, p.inter, p.interKey, issuers.URL+"/ca.pem")
	client := provider.NewHTTPClient(&provider.AIA{Roots: rootsOf(p.root), Now: clock(aiaNow)}, 5*time.Second)
	if err := get(t, client, srv.URL); err != nil {
		t.Fatalf("with a PEM intermediate: %v", err)
	}
}

// TestAIARefusesChainsThatStillDoNotVerify: completing a chain never
// lowers the bar. Each case must fail, and no request may reach the server.
func TestAIARefusesChainsThatStillDoNotVerify(t *testing.T) {
	p := newPKI(t, "Thawte")
	other := newPKI(t, "Mallory")
	expired := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Expired CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: aiaNow.AddDate(-2, 0, 0), NotAfter: aiaNow.AddDate(0, 0, -1)}, p.interKey, p.root, p.rootKey)
	notCA := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: p.inter.Subject.CommonName}}, p.interKey, p.root, p.rootKey)
	tests := []struct {
		name     string
		signer   *x509.Certificate
		key      *ecdsa.PrivateKey
		served   []byte // what the CA Issuers URL answers; nil: the URL is down
		wantText string
	}{
		{"intermediate from a root we do not trust", other.inter, other.interKey, other.inter.Raw, "does not verify"},
		{"an unrelated CA served", p.inter, p.interKey, other.inter.Raw, "does not verify"},
		{"expired intermediate", expired, p.interKey, expired.Raw, "does not verify"},
		{"certificate served is not a CA", p.inter, p.interKey, notCA.Raw, "not a CA"},
		{"garbage served", p.inter, p.interKey, []byte("<html>not found</html>"), "CA Issuers certificate"},
		{"CA Issuers URL down", p.inter, p.interKey, nil, "CA Issuers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aiaURL := "http://127.0.0.1:1/ca.crt"
			if tt.served != nil {
				issuers, _ := caIssuers(t, tt.served)
				aiaURL = issuers.URL + "/ca.crt"
			}
			srv := leafOnly(t, tt.signer, tt.key, aiaURL)
			client := provider.NewHTTPClient(&provider.AIA{Roots: rootsOf(p.root), Now: clock(aiaNow)}, 5*time.Second)
			err := get(t, client, srv.URL)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, tt.wantText)
			}
		})
	}
}

// TestAIAChecksTheHostName: a chain that completes is still refused for a
// host its leaf does not name.
func TestAIAChecksTheHostName(t *testing.T) {
	p := newPKI(t, "Thawte")
	issuers, _ := caIssuers(t, p.inter.Raw)
	srv := leafOnly(t, p.inter, p.interKey, issuers.URL+"/ca.crt")
	client := provider.NewHTTPClient(&provider.AIA{Roots: rootsOf(p.root), Now: clock(aiaNow)}, 5*time.Second)
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) // the leaf names 127.0.0.1 only
	if err := get(t, client, u); err == nil {
		t.Fatal("a leaf for 127.0.0.1 was accepted for localhost")
	}
}

// TestKoreaEximThroughAnIncompleteChain: the provider's default client
// completes the chain, so a Korea Eximbank answer over such a server is
// read (here `[]`, nothing published).
func TestKoreaEximThroughAnIncompleteChain(t *testing.T) {
	p := newPKI(t, "Thawte")
	issuers, _ := caIssuers(t, p.inter.Raw)
	srv := leafOnly(t, p.inter, p.interKey, issuers.URL+"/ca.crt")
	k := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(aiaNow),
		Client: provider.NewHTTPClient(&provider.AIA{Roots: rootsOf(p.root), Now: clock(aiaNow)}, 5*time.Second)}
	_, err := k.Fetch(context.Background())
	if !errors.Is(err, provider.ErrNoData) {
		t.Fatalf("Fetch over an incomplete chain: %v, want no data (the bank's [] read)", err)
	}
}

// FuzzParseIssuerCert: whatever a CA Issuers URL answers, the parser never
// panics and accepts only CA certificates.
func FuzzParseIssuerCert(f *testing.F) {
	p := newPKI(f, "Seed")
	f.Add(p.inter.Raw)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.inter.Raw}))
	f.Add([]byte("<html>404</html>"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := provider.ParseIssuerCert(body)
		if err == nil && !c.IsCA {
			t.Errorf("accepted a certificate that is not a CA")
		}
	})
}
