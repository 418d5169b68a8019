// Command web runs the ratewire web app for travellers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gin.SetMode(gin.ReleaseMode) // process-wide, so only main may set it
	cfg, err := web.LoadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := logx.New(os.Stderr, cfg.LogLevel, cfg.LogFormat, web.ServiceName)
	if err := web.Run(ctx, cfg, web.Options{Logger: log}); err != nil {
		log.Error("web stopped", "err", err)
		os.Exit(1)
	}
}
