// Command healthcheck is the container healthcheck of the ratewire service
// images. The images are distroless (no shell, no curl), and the services
// stay free of probe-only code, so each image carries this static binary
// beside its service and docker-compose.yml runs it as
//
//	/healthcheck http://127.0.0.1:8001/readyz
//
// Without a URL (the image's own HEALTHCHECK, which cannot expand
// variables) it probes /readyz on 127.0.0.1 at the port of
// RATEWIRE_HTTP_ADDR, the address the service listens on.
//
// It exits 0 when the URL answers 2xx within the timeout and 1 otherwise,
// printing why, which `docker inspect` shows in the container's health log.
// It has no dependencies beyond the standard library so every Dockerfile can
// build it with GOWORK=off before the service modules are even copied in.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// timeout stays below the compose healthcheck timeout, so a slow answer is
// reported by this binary rather than killed by Docker.
const timeout = 4 * time.Second

func main() {
	var url string
	switch len(os.Args) {
	case 1:
		u, err := readyURL(os.Getenv("RATEWIRE_HTTP_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "healthcheck:", err)
			os.Exit(2)
		}
		url = u
	case 2:
		url = os.Args[1]
	default:
		fmt.Fprintln(os.Stderr, "usage: healthcheck [URL]")
		os.Exit(2)
	}
	if err := check(url); err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		os.Exit(1)
	}
}

// readyURL is the /readyz URL of a service listening on addr (host:port;
// the host is ignored, the probe runs in the service's container).
func readyURL(addr string) (string, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("RATEWIRE_HTTP_ADDR %q: want host:port (or pass the URL)", addr)
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz", nil
}

func check(url string) error {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}
