package stack_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"go.yaml.in/yaml/v4"

	"github.com/ratewire/ratewire/devstack/internal/stack"
)

// alertRules is the shape of deploy/prometheus/alerts.yml that matters to
// an operator loading it into Prometheus.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var (
	metricInExpr = regexp.MustCompile(`\bratewire_[a-z0-9_]+`)
	byClause     = regexp.MustCompile(`by \(([^)]*)\)`)
)

// TestAlertRulesNameExportedMetrics keeps the README's alert rule example
// true: every rule is complete, and every metric and grouping label it
// names is one that a running service exports on /metrics, so a renamed
// metric cannot leave an alert that silently never fires.
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}

	c := plainConfig(t)
	c.BackfillDays = 3
	a, backfilled := runStack(t, c)
	waitBackfill(t, backfilled)
	// Some families appear once their first sample exists (the consumers'
	// after their first messages): scrape until every named one is there.
	var exported map[string][]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		exported = scrapeAll(t, a.Currency, a.Ranking, a.History, a.Ingestor)
		missing := ""
		for _, name := range metricInExpr.FindAllString(string(raw), -1) {
			if _, ok := exported[name]; !ok {
				missing = name
			}
		}
		if missing == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}

	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("group %s: rule %q needs alert, expr, labels.severity and annotations.summary", g.Name, r.Alert)
			}
			names := metricInExpr.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("rule %s: expected a ratewire metric in %q", r.Alert, r.Expr)
			}
			for _, name := range names {
				labels, ok := exported[name]
				if !ok {
					t.Errorf("rule %s: metric %s is not exported by any service", r.Alert, name)
					continue
				}
				for _, m := range byClause.FindAllStringSubmatch(r.Expr, -1) {
					for l := range strings.SplitSeq(m[1], ",") {
						if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
							t.Errorf("rule %s: %s has no label %q (labels %v)", r.Alert, name, l, labels)
						}
					}
				}
			}
		}
	}
	if n < 4 {
		t.Errorf("expected rules for the outbox, consumer lag, dead letters and ingestion, got %d rules", n)
	}
}

// scrapeAll returns the metric families the services at bases export, each
// with the label names its samples carry.
func scrapeAll(t *testing.T, bases ...string) map[string][]string {
	t.Helper()
	exported := map[string][]string{}
	for _, base := range bases {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatalf("scrape %s: %v", base, err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("parse %s/metrics: %v", base, err)
		}
		for name, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if !slices.Contains(exported[name], l.GetName()) {
						exported[name] = append(exported[name], l.GetName())
					}
				}
			}
			if _, ok := exported[name]; !ok {
				exported[name] = nil
			}
		}
	}

	return exported
}

// TestEmbeddedRedisKeepsTime: devstack's miniredis expires keys as the
// stack's clock passes their TTL (it kept every key forever, and a
// devstack under click load grew without bound).
func TestEmbeddedRedisKeepsTime(t *testing.T) {
	c := plainConfig(t)
	clock := c.Clock.(*clockwork.FakeClock)
	a, _ := runStack(t, c)
	waitFor(t, 30*time.Second, "USD served", func() bool {
		status, _ := get(t, a.Gateway+"/api/v1/currencies/USD")
		return status == http.StatusOK
	})
	opts, err := redis.ParseURL(a.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "probe:short", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "probe:long", "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(61 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Exists(ctx, "probe:short").Val() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := rdb.Exists(ctx, "probe:short").Val(); n != 0 {
		t.Errorf("a 1 min key after the stack's clock moved 61 s: expected expired, got EXISTS %d", n)
	}
	if ttl := rdb.TTL(ctx, "probe:long").Val(); ttl > 59*time.Minute || ttl < 58*time.Minute {
		t.Errorf("a 1 h key after 61 s: expected a TTL of about 58m59s, got %v", ttl)
	}
}

// TestStopWhileStarting: a stop (Ctrl-C) right after the stack is up,
// while the services are still migrating and connecting, is a clean stop:
// Run returns nil, not the "context canceled" of a cut-short migration.
func TestStopWhileStarting(t *testing.T) {
	for i := range 3 {
		c := plainConfig(t)
		ctx, cancel := context.WithCancel(context.Background())
		c.Ready = func(stack.Addrs) { cancel() }
		done := make(chan error, 1)
		go func() { done <- stack.Run(ctx, c) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("round %d: stop while starting: expected a clean stop, got %v", i, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: stack did not stop within 60 s", i)
		}
		cancel()
	}
}
