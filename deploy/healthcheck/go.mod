module github.com/ratewire/ratewire/deploy/healthcheck

go 1.26.0
