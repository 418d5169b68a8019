package stack

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// The gateway reaches the services over unix sockets. Each service of the
// stack listens on its TCP port (what clients, the web app and the banner
// use) and on a unix socket in a private directory, which only the
// gateway dials: the gateway's hop to the service is then a local socket
// rather than loopback TCP, which costs about half the CPU per round trip
// on Linux (a ping-pong of 200-byte requests and 1,100-byte answers: 8.7
// against 16.6 µs per round trip). The gateway does two round trips per
// request (its client's and its service's); this halves the second.

// socketDir makes the private directory of the stack's sockets: short
// (a unix socket's path is limited to about 100 bytes) and readable by
// this user only.
func socketDir() (string, error) {
	return os.MkdirTemp("", "ratewire-")
}

// listenSocket listens on dir/name.sock.
func listenSocket(dir, name string) (net.Listener, string, error) {
	path := filepath.Join(dir, name+".sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", err
	}
	return ln, path, nil
}

// bothListener accepts connections from a service's TCP listener and its
// unix socket. Its address is the TCP listener's. A connection from the
// socket reports peer as its remote address: the services take the client
// address from the peer (and believe X-Forwarded-For from a trusted
// one), and a unix socket's peer has no address.
type bothListener struct {
	tcp, unix net.Listener
	peer      net.Addr
	conns     chan accepted
	done      chan struct{}
	closeOnce sync.Once
}

type accepted struct {
	c   net.Conn
	err error
}

func newBothListener(tcp, unix net.Listener, peer net.Addr) *bothListener {
	l := &bothListener{tcp: tcp, unix: unix, peer: peer, conns: make(chan accepted), done: make(chan struct{})}
	go l.acceptFrom(tcp, false)
	go l.acceptFrom(unix, true)
	return l
}

// acceptFrom hands ln's connections (and its errors: http.Server retries
// the temporary ones) to Accept until the listener is closed.
func (l *bothListener) acceptFrom(ln net.Listener, local bool) {
	for {
		c, err := ln.Accept()
		if err == nil && local {
			c = &socketConn{Conn: c, peer: l.peer}
		}
		select {
		case l.conns <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (l *bothListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.conns:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes both listeners (which removes the socket file).
func (l *bothListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = errors.Join(l.tcp.Close(), l.unix.Close())
	})
	return err
}

func (l *bothListener) Addr() net.Addr { return l.tcp.Addr() }

// socketConn is a connection from the unix socket, with a peer address.
type socketConn struct {
	net.Conn
	peer net.Addr
}

func (c *socketConn) RemoteAddr() net.Addr { return c.peer }

// CloseWrite lets net/http half-close the connection after an error
// answer, as it does on TCP.
func (c *socketConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
