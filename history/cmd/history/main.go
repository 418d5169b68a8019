// Command history runs the ratewire history and statistics service.
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
	if err := history.Run(ctx, cfg, history.Options{Logger: log}); err != nil {
		log.Error("history stopped", "err", err)
		os.Exit(1)
	}
}
