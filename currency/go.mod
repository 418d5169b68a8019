module github.com/ratewire/ratewire/currency

go 1.26.0

require github.com/ratewire/ratewire/shared v0.0.0

replace github.com/ratewire/ratewire/shared => ../shared
