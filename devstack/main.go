// Command devstack runs the whole ratewire platform in one process on
// embedded infrastructure: `go run ./devstack` from the repository root.
// Any RATEWIRE_DATABASE_URL, RATEWIRE_REDIS_URL or RATEWIRE_KAFKA_BROKERS
// that is set is used instead of the embedded default, and every other
// RATEWIRE_* setting is passed through to the services.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/devstack/internal/stack"
)

func main() {
	c := stack.DefaultConfig()
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the SQLite database (when RATEWIRE_DATABASE_URL is unset)")
	fs.StringVar(&c.Host, "host", c.Host, "interface the services listen on")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	gin.SetMode(gin.ReleaseMode) // process-wide, so only main may set it
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := stack.Run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		stop()
		os.Exit(1)
	}
}
