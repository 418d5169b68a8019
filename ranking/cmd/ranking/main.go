// Command ranking runs the ratewire country popularity service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/logx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode) // process-wide, so only main may set it
	cfg, err := config.Load(os.Getenv, config.DefaultRankingAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := logx.New(os.Stderr, cfg.LogLevel, cfg.LogFormat, ranking.ServiceName)
	if err := ranking.Run(ctx, cfg, ranking.Options{Logger: log}); err != nil {
		log.Error("ranking stopped", "err", err)
		os.Exit(1)
	}
}
