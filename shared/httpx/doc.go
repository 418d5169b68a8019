// Package httpx is the gin plumbing every ratewire service shares: one
// engine constructor with request ids, panic recovery, access logs, a body
// size limit and Prometheus metrics; the DESIGN.md §8 JSON envelope; the single
// mapping from apperr errors to HTTP responses (with rate-limited error
// logs); cached read responses with ETag/304; the edge headers (public
// CORS, nosniff, no-store on admin and error answers) and CORS preflights;
// the admin bearer-token guard with its failed-login throttle; and a
// graceful HTTP server.
//
// Because devstack runs all services in one process, nothing here touches
// global state: no gin.SetMode, no default Prometheus registry, no
// slog.Default. Everything comes in through Options.
package httpx
