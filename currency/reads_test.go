package currency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// readPaths are the reads of current rates the in-process view answers;
// each answer tells the USD mid rate it was built from.
var readPaths = map[string]func(data json.RawMessage) (string, error){
	"/api/v1/currencies/USD": func(d json.RawMessage) (string, error) {
		var v struct {
			Mid string `json:"deal_base_rate"`
		}
		err := json.Unmarshal(d, &v)
		return v.Mid, err
	},
	"/api/v1/currencies/latest?symbols=USD,EUR": func(d json.RawMessage) (string, error) {
		var v struct {
			Rates map[string]string `json:"rates"`
		}
		err := json.Unmarshal(d, &v)
		return v.Rates["USD"], err
	},
	"/api/v1/currencies/latest": func(d json.RawMessage) (string, error) {
		var v struct {
			Rates map[string]string `json:"rates"`
		}
		err := json.Unmarshal(d, &v)
		return v.Rates["USD"], err
	},
	"/api/v1/currencies/multiple?symbols=EUR,USD": func(d json.RawMessage) (string, error) {
		var v struct {
			Rates []struct {
				Mid string `json:"deal_base_rate"`
			} `json:"rates"`
		}
		if err := json.Unmarshal(d, &v); err != nil || len(v.Rates) != 2 {
			return "", fmt.Errorf("multiple: %s", d)
		}
		return v.Rates[1].Mid, nil
	},
	"/api/v1/currencies/convert?from=USD&to=KRW&amount=1&rate_type=mid": func(d json.RawMessage) (string, error) {
		var v struct {
			Rate string `json:"rate"`
		}
		err := json.Unmarshal(d, &v)
		return v.Rate, err
	},
}

// readVersion GETs path and returns the USD version its answer was built
// from (the tests' mids are 1000 + version), 0 before USD has a rate.
func readVersion(base, path string) (int64, error) {
	resp, err := http.Get(base + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return 0, nil // before USD has a rate
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var e httpx.Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return 0, fmt.Errorf("GET %s: %s: %w", path, body, err)
	}
	mid, err := readPaths[path](e.Data)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %s: %w", path, e.Data, err)
	}
	if mid == "" {
		return 0, nil // /latest before USD has a rate
	}
	return decimal.RequireFromString(mid).Sub(decimal.NewFromInt(1000)).IntPart(), nil
}

// liveCurrent reports whether a replica answers reads from its view.
func liveCurrent(base string) bool {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(body), "\nratewire_currency_live_current 1\n")
}

// TestReadsCoherentOnEveryReplica runs two replicas in one consumer group
// (each applies some partitions to the shared cache) that answer reads
// from their in-process views, while clients read /USD, /latest,
// /multiple and /convert from both during a run of USD updates: on each
// replica and endpoint the version answered never goes back, and both
// end on the last update.
func TestReadsCoherentOnEveryReplica(t *testing.T) {
	cfg, brokers := sharedInfra(t)
	now := func() time.Time { return at.Add(time.Hour) }
	reps := map[string]replica{
		"a": startReplica(t, cfg, currency.Options{Now: now}),
		"b": startReplica(t, cfg, currency.Options{Now: now}),
	}
	for name, r := range reps {
		waitFor(t, func() bool { return liveCurrent(r.base) }, "replica "+name+" answering from its view")
	}
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "test"})
	defer w.Close()
	ctx := context.Background()
	if err := w.Publish(ctx, update(t, "EUR", "1500", 1)); err != nil {
		t.Fatal(err)
	}

	const last = 30
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	reads := make(chan int, 64)
	for name, r := range reps {
		for path := range readPaths {
			wg.Go(func() {
				prev, n := int64(0), 0
				defer func() { reads <- n }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					v, err := readVersion(r.base, path)
					if err != nil {
						errs <- fmt.Errorf("replica %s: %w", name, err)
						return
					}
					if v < prev {
						errs <- fmt.Errorf("replica %s %s: version %d after %d", name, path, v, prev)
						return
					}
					prev = v
					n++
				}
			})
		}
	}
	for v := int64(1); v <= last; v++ {
		if err := w.Publish(ctx, update(t, "USD", fmt.Sprint(1000+v), v)); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range reps {
		for path := range readPaths {
			waitFor(t, func() bool { v, _ := readVersion(r.base, path); return v == last },
				fmt.Sprintf("replica %s %s at version %d", name, path, last))
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	close(reads)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for n := range reads {
		total += n
	}
	t.Logf("%d reads while %d updates landed", total, last)
}
