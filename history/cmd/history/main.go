// Command history runs the ratewire history and statistics service.
//
// `history replay-dlq --topic T [--since 2h] [--error-class transient] [--group any] [--dry-run]`
// instead moves dead-lettered messages of T back to T (see history.ReplayDLQ).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/history"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/logx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode) // process-wide, so only main may set it
	cfg, err := config.Load(os.Getenv, config.DefaultHistoryAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := logx.New(os.Stderr, cfg.LogLevel, cfg.LogFormat, history.ServiceName)
	if len(os.Args) > 1 && os.Args[1] == "replay-dlq" {
		if err := history.ReplayDLQ(ctx, cfg.KafkaBrokers, os.Args[2:], os.Stdout, log); err != nil {
			log.Error("replay-dlq failed", "err", err)
			os.Exit(1)
		}
		return
	}
	if err := history.Run(ctx, cfg, history.Options{Logger: log}); err != nil {
		log.Error("history stopped", "err", err)
		os.Exit(1)
	}
}
