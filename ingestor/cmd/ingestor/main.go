// Command ingestor runs the ratewire collection service, or with the
// backfill subcommand loads historical rates:
//
//	ingestor                       run the service
//	ingestor backfill -provider frankfurter -from 2026-01-01 -to 2026-11-20
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/logx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	gin.SetMode(gin.ReleaseMode) // process-wide, so only main may set it
	cfg, err := ingestor.LoadConfig(os.Getenv, config.DefaultIngestorAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	log := logx.New(os.Stderr, cfg.LogLevel, cfg.LogFormat, ingestor.ServiceName)
	if len(args) > 0 && args[0] == "backfill" {
		return backfill(ctx, cfg, args[1:])
	}
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "unknown command %q (want no argument, or backfill)\n", args[0])
		return 2
	}
	if err := ingestor.Run(ctx, cfg, ingestor.Options{Logger: log}); err != nil {
		log.Error("ingestor stopped", "err", err)
		return 1
	}
	return 0
}

func backfill(ctx context.Context, cfg ingestor.Config, args []string) int {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	prov := fs.String("provider", ingestor.ProviderFrankfurter, "frankfurter, koreaexim or simulated")
	from := fs.String("from", time.Now().AddDate(0, -6, 0).Format(time.DateOnly), "first day, YYYY-MM-DD (KST)")
	to := fs.String("to", time.Now().Format(time.DateOnly), "last day, YYYY-MM-DD (KST)")
	step := fs.Duration("step", 0, "spacing of simulated quotes (default 5m)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f, err1 := kst.ParseDay(*from)
	t, err2 := kst.ParseDay(*to)
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "backfill: -from and -to must be dates like 2026-01-31")
		return 2
	}
	log := logx.New(os.Stderr, cfg.LogLevel, cfg.LogFormat, ingestor.ServiceName)
	res, err := ingestor.Backfill(ctx, cfg, ingestor.BackfillOptions{
		Provider: *prov, From: f, To: t.Add(24*time.Hour - time.Second), Step: *step, Logger: log,
	})
	if err != nil {
		log.Error("backfill failed", "err", err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}
