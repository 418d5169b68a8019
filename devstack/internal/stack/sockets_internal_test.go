package stack

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
)

// TestBothListener: a service listening on its port and its unix socket
// serves both; a connection from the socket names the configured peer as
// its remote address (what the services trust X-Forwarded-For from);
// closing stops both and removes the socket file.
func TestBothListener(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := socketDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	unix, path, err := listenSocket(dir, "currency")
	if err != nil {
		t.Fatal(err)
	}
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
	ln := newBothListener(tcp, unix, peer)
	if ln.Addr().String() != tcp.Addr().String() {
		t.Errorf("address %s, want the TCP listener's %s", ln.Addr(), tcp.Addr())
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RemoteAddr)
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	get := func(c *http.Client) string {
		t.Helper()
		resp, err := c.Get("http://" + tcp.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	overTCP := get(&http.Client{Transport: &http.Transport{}})
	if host, _, _ := net.SplitHostPort(overTCP); host != "127.0.0.1" {
		t.Errorf("remote address over TCP = %q", overTCP)
	}
	overSocket := get(&http.Client{Transport: &http.Transport{Dial: func(string, string) (net.Conn, error) { return net.Dial("unix", path) }}})
	if overSocket != "127.0.0.1:0" {
		t.Errorf("remote address over the socket = %q, want the peer 127.0.0.1:0", overSocket)
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after close: %v", err)
	}
	if _, err := net.Dial("tcp", tcp.Addr().String()); err == nil {
		t.Error("the TCP port still accepts after close")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after close = %v, want net.ErrClosed", err)
	}
}
