// Command currency runs the ratewire current-rate service.
//
// `currency replay-dlq --topic T [--since 2h] [--error-class transient] [--group any] [--dry-run]`
// instead moves dead-lettered messages of T back to T (see currency.ReplayDLQ).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/currency"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/logx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode) // process-wide, so only main may set it
	cfg, err := config.Load(os.Getenv, config.DefaultCurrencyAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := logx.New(os.Stderr, cfg.LogLevel, cfg.LogFormat, currency.ServiceName)
	if len(os.Args) > 1 && os.Args[1] == "replay-dlq" {
		if err := currency.ReplayDLQ(ctx, cfg.KafkaBrokers, os.Args[2:], os.Stdout, log); err != nil {
			log.Error("replay-dlq failed", "err", err)
			os.Exit(1)
		}
		return
	}
	if err := currency.Run(ctx, cfg, currency.Options{Logger: log}); err != nil {
		log.Error("currency stopped", "err", err)
		os.Exit(1)
	}
}
