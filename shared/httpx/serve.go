package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server timeouts. ReadHeaderTimeout guards against slowloris; WriteTimeout
// bounds the slowest handler plus response write.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	ShutdownTimeout   = 10 * time.Second
)

// Worker is a long-running part of a service beside its HTTP server,
// such as its Kafka consumer. Run returns when ctx ends.
type Worker struct {
	Name string
	Run  func(ctx context.Context) error
}

// Serve runs a service's HTTP server and its workers until ctx ends. It
// serves h on ln, or on a new listener at addr when ln is nil (a bind
// failure is returned at once). The workers run on a context of their own
// that ends only once HTTP has stopped, so a consumer commits the message
// in hand after the last request was answered; Serve waits for every
// worker and joins their errors with the server's. A clean shutdown is nil.
func Serve(ctx context.Context, ln net.Listener, addr string, h http.Handler, log *slog.Logger, workers ...Worker) error {
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	done := make(chan error, len(workers))
	for _, w := range workers {
		go func() {
			if err := w.Run(workCtx); err != nil {
				done <- fmt.Errorf("%s: %w", w.Name, err)
				return
			}
			done <- nil
		}()
	}
	var err error
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			err = fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	if err == nil {
		err = serveListener(ctx, ln, h, log)
	}
	stopWorkers()
	for range workers {
		err = errors.Join(err, <-done)
	}
	return err
}

// A HandlerListener is a listener that wants to know the handler served
// on it. devstack's gateway runs in the same process as the services and
// calls their handlers directly through it, rather than a connection to
// their ports.
type HandlerListener interface {
	net.Listener
	// Serving is called with the handler once, before the server starts
	// accepting connections.
	Serving(h http.Handler)
}

// serveListener serves h on ln until ctx is done, then gives in-flight
// requests ShutdownTimeout to finish. It closes ln.
func serveListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = discardLogger
	}
	if hl, ok := ln.(HandlerListener); ok {
		hl.Serving(h)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	addr := ln.Addr().String()
	log.Info("http server listening", "addr", addr)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		// Serve never returns nil; anything here is a real failure.
		return fmt.Errorf("serve http on %s: %w", addr, err)
	case <-ctx.Done():
	}

	// ctx is already done: shut down under a fresh deadline.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http on %s: %w", addr, err)
	}
	if shutdownErr != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down http server on %s: %w", addr, shutdownErr)
	}
	log.Info("http server stopped", "addr", addr)
	return nil
}
