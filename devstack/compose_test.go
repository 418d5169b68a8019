package main_test

// The compose test: docker-compose.yml can only be run where there is a
// Docker engine, so this test loads it with compose-go (the loader of
// `docker compose` itself) and checks it against the code it deploys: the
// KRaft quorum, the topics of shared/event, the RATEWIRE_* settings that
// shared/config reads, the hosts and ports each service is pointed at, the
// gateway's routes, healthchecks and the Dockerfiles. No Docker, no network.

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/web"
)

// repoRoot is the repository root, seen from the devstack module's
// directory where `go test` runs this file.
const repoRoot = ".."

// testPassword stands in for the POSTGRES_PASSWORD that .env must supply.
const testPassword = "compose-test-password"

// appServices are the four service modules and the web app, each built by
// deploy/Dockerfile from its cmd/<name>, and the listen address it
// defaults to.
var appServices = map[string]string{
	"ingestor": config.DefaultIngestorAddr,
	"currency": config.DefaultCurrencyAddr,
	"history":  config.DefaultHistoryAddr,
	"ranking":  config.DefaultRankingAddr,
	"web":      web.DefaultAddr,
}

// deliberatelyUnset lists, per service, the RATEWIRE_* variables that the
// service reads but docker-compose.yml leaves unset on purpose, each with
// the reason. Every other variable it reads must be in the service's
// environment, so a setting added to shared/config (or to the ingestor's
// own config.go) fails this test until the compose file sets it or this
// list says why not. Variables a service does not read must not be set on
// it: provider keys reach the ingestor's container only.
var deliberatelyUnset = map[string]map[string]string{
	"ingestor": {"RATEWIRE_REDIS_URL": "the ingestor reaches caches through Kafka events (cache_invalidation), never Redis"},
	"currency": {},
	"history":  {},
	"ranking":  {"RATEWIRE_KAFKA_BROKERS": "ranking is independent of Kafka (DESIGN.md §1)"},
	"web": {
		"RATEWIRE_DATABASE_URL":  "the web app is a client of the public APIs, with no database",
		"RATEWIRE_REDIS_URL":     "the web app is a client of the public APIs, with no cache",
		"RATEWIRE_KAFKA_BROKERS": "the web app is a client of the public APIs, not of Kafka",
		"RATEWIRE_ADMIN_TOKEN":   "the web app calls public endpoints only",
		"RATEWIRE_API_URL":       "every service's own URL is set (RATEWIRE_CURRENCY_URL, ...)",
		"RATEWIRE_API_TIMEOUT":   "the default (3 s) suits the compose network",
	},
}

// loadCompose loads docker-compose.yml the way `docker compose` would with
// .env.example copied to .env, plus env; the process environment is not
// consulted, so the result is the same everywhere.
func loadCompose(t testing.TB, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot),
		cli.WithEnv(env), // before the env file, which does not override
		cli.WithEnvFiles(filepath.Join(repoRoot, ".env.example")),
		cli.WithDotEnv,
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func project(t testing.TB) *types.Project {
	t.Helper()
	p, err := loadCompose(t, "POSTGRES_PASSWORD="+testPassword)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// env returns a service's environment as plain strings; present reports
// whether a variable is set at all (an empty value counts as set).
func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		} else {
			out[k] = ""
		}
	}
	return out
}

// kafkaNode is one broker+controller of the compose file.
type kafkaNode struct {
	service   string
	id        string
	listeners map[string]string // listener name -> port
	advertise map[string]string // listener name -> host:port
	env       map[string]string
}

func kafkaNodes(t testing.TB, p *types.Project) map[string]kafkaNode {
	t.Helper()
	nodes := map[string]kafkaNode{}
	for name, s := range p.Services {
		e := env(s)
		if !strings.HasPrefix(s.Image, "apache/kafka:") || e["KAFKA_NODE_ID"] == "" {
			continue
		}
		n := kafkaNode{service: name, id: e["KAFKA_NODE_ID"], env: e, listeners: map[string]string{}, advertise: map[string]string{}}
		for _, l := range splitList(e["KAFKA_LISTENERS"]) {
			lname, addr, _ := strings.Cut(l, "://")
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatalf("%s: listener %q: %v", name, l, err)
			}
			n.listeners[lname] = port
		}
		for _, l := range splitList(e["KAFKA_ADVERTISED_LISTENERS"]) {
			lname, addr, _ := strings.Cut(l, "://")
			n.advertise[lname] = addr
		}
		nodes[name] = n
	}
	return nodes
}

// internalAddrs are the host:port of every node's inter-broker listener, the
// addresses containers must use.
func internalAddrs(nodes map[string]kafkaNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.advertise[n.env["KAFKA_INTER_BROKER_LISTENER_NAME"]])
	}
	slices.Sort(out)
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// TestComposeNeedsPassword checks that no database password is committed:
// with nothing but .env.example the file refuses to load, naming the
// variable to set.
func TestComposeNeedsPassword(t *testing.T) {
	_, err := loadCompose(t)
	if err == nil || !strings.Contains(err.Error(), "POSTGRES_PASSWORD") {
		t.Fatalf("loading with .env.example alone: err = %v, want one naming POSTGRES_PASSWORD", err)
	}
	p := project(t)
	for name, s := range p.Services {
		for k, v := range env(s) {
			if strings.HasSuffix(k, "_API_KEY") || strings.HasSuffix(k, "_TOKEN") {
				if v != "" {
					t.Errorf("%s: %s has the committed value %q, want it from .env only", name, k, v)
				}
			}
		}
	}
}

// TestComposeKafkaQuorum checks the three KRaft nodes: combined roles, one
// cluster id, a quorum of exactly those nodes on their controller
// listeners, replication 3 with min ISR 2, no auto-created topics, and data
// on a named volume.
func TestComposeKafkaQuorum(t *testing.T) {
	p := project(t)
	nodes := kafkaNodes(t, p)
	if len(nodes) != 3 {
		t.Fatalf("%d Kafka nodes, want 3", len(nodes))
	}
	var voters, clusterID string
	ids := map[string]bool{}
	for name, n := range nodes {
		e := n.env
		if ids[n.id] {
			t.Errorf("%s: node id %s used twice", name, n.id)
		}
		ids[n.id] = true
		roles := splitList(e["KAFKA_PROCESS_ROLES"])
		slices.Sort(roles)
		if !slices.Equal(roles, []string{"broker", "controller"}) {
			t.Errorf("%s: process roles %v, want broker,controller", name, roles)
		}
		if e["CLUSTER_ID"] == "" || (clusterID != "" && e["CLUSTER_ID"] != clusterID) {
			t.Errorf("%s: CLUSTER_ID %q, want one non-empty id shared by all nodes", name, e["CLUSTER_ID"])
		}
		clusterID = e["CLUSTER_ID"]
		if voters != "" && e["KAFKA_CONTROLLER_QUORUM_VOTERS"] != voters {
			t.Errorf("%s: quorum voters %q differ from %q", name, e["KAFKA_CONTROLLER_QUORUM_VOTERS"], voters)
		}
		voters = e["KAFKA_CONTROLLER_QUORUM_VOTERS"]
		for k, want := range map[string]string{
			"KAFKA_DEFAULT_REPLICATION_FACTOR":               "3",
			"KAFKA_MIN_INSYNC_REPLICAS":                      "2",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "3",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "2",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
		} {
			if e[k] != want {
				t.Errorf("%s: %s = %q, want %q", name, k, e[k], want)
			}
		}
		ctl := e["KAFKA_CONTROLLER_LISTENER_NAMES"]
		inter := e["KAFKA_INTER_BROKER_LISTENER_NAME"]
		if n.listeners[ctl] == "" || n.listeners[inter] == "" {
			t.Errorf("%s: listeners %v lack the controller (%q) or inter-broker (%q) listener", name, n.listeners, ctl, inter)
		}
		if host, port, _ := net.SplitHostPort(n.advertise[inter]); host != name || port != n.listeners[inter] {
			t.Errorf("%s: advertises %s as %q, want %s:%s", name, inter, n.advertise[inter], name, n.listeners[inter])
		}
		if _, ok := n.advertise[ctl]; ok {
			t.Errorf("%s: advertises its controller listener", name)
		}
		mounted := false
		for _, v := range p.Services[name].Volumes {
			_, named := p.Volumes[v.Source]
			if v.Type == types.VolumeTypeVolume && v.Target == e["KAFKA_LOG_DIRS"] && named {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: no named volume at its log dir %q", name, e["KAFKA_LOG_DIRS"])
		}
	}
	// The voters are exactly the nodes, each at its controller listener.
	got, want := splitList(voters), []string(nil)
	for name, n := range nodes {
		want = append(want, n.id+"@"+name+":"+n.listeners[n.env["KAFKA_CONTROLLER_LISTENER_NAMES"]])
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("quorum voters %v, want %v", got, want)
	}
}

// TestComposeTopicInit checks that the one-shot init creates exactly the
// topics of shared/event and their .dlq twins, at the contract's partition
// counts, with replication 3, idempotently, once all three nodes are up.
func TestComposeTopicInit(t *testing.T) {
	p := project(t)
	nodes := kafkaNodes(t, p)
	init, ok := p.Services["kafka-init"]
	if !ok {
		t.Fatal("no kafka-init service")
	}
	if init.Restart != "no" {
		t.Errorf("kafka-init restart %q, want \"no\" (one-shot)", init.Restart)
	}
	for name := range nodes {
		if d := init.DependsOn[name]; d.Condition != types.ServiceConditionHealthy {
			t.Errorf("kafka-init depends on %s with %q, want %s", name, d.Condition, types.ServiceConditionHealthy)
		}
	}
	script := strings.Join(init.Command, "\n")

	want := map[string]int{}
	for _, tp := range event.Topics {
		want[tp.Name] = int(tp.Partitions)
		want[tp.Name+".dlq"] = int(tp.Partitions)
	}
	got := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\s*create\s+(\S+)\s+(\d+)\s*$`).FindAllStringSubmatch(script, -1) {
		n, _ := strconv.Atoi(m[2])
		if _, dup := got[m[1]]; dup {
			t.Errorf("topic %s created twice", m[1])
		}
		got[m[1]] = n
	}
	if !mapsEqual(got, want) {
		t.Errorf("kafka-init creates %v, want %v", got, want)
	}

	// The create function: idempotent, replication 3, min ISR 2, the
	// arguments it is called with, and the three nodes as bootstrap.
	create := regexp.MustCompile(`kafka-topics\.sh[^\n]*--create[^\n]*`).FindString(script)
	for _, flag := range []string{"--if-not-exists", "--replication-factor 3", "--config min.insync.replicas=2", `--topic "$1"`, `--partitions "$2"`} {
		if !strings.Contains(create, flag) {
			t.Errorf("kafka-init's create command %q lacks %s", create, flag)
		}
	}
	m := regexp.MustCompile(`(?m)^\s*bootstrap=(\S+)\s*$`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("kafka-init sets no bootstrap=")
	}
	if got, want := sorted(splitList(m[1])), internalAddrs(nodes); !slices.Equal(got, want) {
		t.Errorf("kafka-init bootstrap %v, want %v", got, want)
	}
	if !strings.Contains(create, `--bootstrap-server "$bootstrap"`) {
		t.Errorf("kafka-init's create command %q does not use $bootstrap", create)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestComposeServiceSettings checks each service's configuration: it loads
// with shared/config; every RATEWIRE_* variable config.go reads is set or
// deliberately unset; what the service's Run requires is there; brokers,
// Redis and PostgreSQL point at services of this file on the ports they
// listen on, with depends_on conditions; the healthcheck probes the
// service's own port.
func TestComposeServiceSettings(t *testing.T) {
	p := project(t)
	nodes := kafkaNodes(t, p)
	for svcName, defaultAddr := range appServices {
		t.Run(svcName, func(t *testing.T) {
			read := configVariables(t, svcName)
			svc, ok := p.Services[svcName]
			if !ok {
				t.Fatalf("no %s service", svcName)
			}
			e := env(svc)
			cfg, err := config.Load(func(k string) string { return e[k] }, defaultAddr)
			if err != nil {
				t.Fatalf("config.Load of its environment: %v", err)
			}
			if svcName == "ingestor" {
				if _, err := ingestor.LoadConfig(func(k string) string { return e[k] }, defaultAddr); err != nil {
					t.Fatalf("ingestor.LoadConfig of its environment: %v", err)
				}
			}
			if svcName == "web" {
				wc, err := web.LoadConfig(func(k string) string { return e[k] })
				if err != nil {
					t.Fatalf("web.LoadConfig of its environment: %v", err)
				}
				// Each service directly, on the port it listens on.
				ep := wc.Endpoints()
				for name, got := range map[string]string{"currency": ep.Currency, "history": ep.History, "ranking": ep.Ranking, "ingestor": ep.Ingestor} {
					if want := "http://" + name + env(p.Services[name])["RATEWIRE_HTTP_ADDR"]; got != want {
						t.Errorf("web calls %s at %q, want %q", name, got, want)
					}
					needs(t, svc, name, types.ServiceConditionStarted)
				}
			}

			// Set, or deliberately unset with a reason; no stale excuses.
			for _, v := range read {
				_, set := e[v]
				why, excused := deliberatelyUnset[svcName][v]
				switch {
				case !set && !excused:
					t.Errorf("%s is read by %s but neither set nor in deliberatelyUnset", v, svcName)
				case set && excused:
					t.Errorf("%s is set although deliberatelyUnset says %q", v, why)
				}
			}
			for v := range deliberatelyUnset[svcName] {
				if !slices.Contains(read, v) {
					t.Errorf("deliberatelyUnset names %s, which %s no longer reads", v, svcName)
				}
			}
			for k := range e {
				if strings.HasPrefix(k, "RATEWIRE_") && !slices.Contains(read, k) {
					t.Errorf("%s is set but %s does not read it", k, svcName)
				}
			}

			// The gateway is the one trusted proxy, at its fixed address.
			gw := p.Services["gateway"].Networks["default"]
			if gw == nil || gw.Ipv4Address == "" || !slices.Contains(cfg.TrustedProxies, gw.Ipv4Address+"/32") || len(cfg.TrustedProxies) != 1 {
				t.Errorf("RATEWIRE_TRUSTED_PROXIES %v, want exactly the gateway's fixed address (%+v)", cfg.TrustedProxies, gw)
			}

			// What Run refuses to start without.
			for req, v := range requirements(t, svcName) {
				if e[v] == "" {
					t.Errorf("%s calls %s but %s is empty", svcName, req, v)
				}
			}

			// Kafka: every node, on its inter-broker listener.
			if len(cfg.KafkaBrokers) > 0 {
				if got, want := sorted(slices.Clone(cfg.KafkaBrokers)), internalAddrs(nodes); !slices.Equal(got, want) {
					t.Errorf("RATEWIRE_KAFKA_BROKERS %v, want all of %v", got, want)
				}
				for name := range nodes {
					needs(t, svc, name, types.ServiceConditionHealthy)
				}
				needs(t, svc, "kafka-init", types.ServiceConditionCompletedSuccessfully)
			}
			if cfg.RedisURL != "" {
				u, err := url.Parse(cfg.RedisURL)
				if err != nil || u.Scheme != "redis" {
					t.Fatalf("RATEWIRE_REDIS_URL %q: want redis://host:port/db", cfg.RedisURL)
				}
				target := infra(t, p, u.Hostname(), "redis:")
				if u.Port() != "6379" {
					t.Errorf("RATEWIRE_REDIS_URL port %q, want 6379 (redis-server's)", u.Port())
				}
				needs(t, svc, target, types.ServiceConditionHealthy)
			}
			if cfg.DatabaseURL != "" {
				u, err := url.Parse(cfg.DatabaseURL)
				if err != nil || u.Scheme != "postgres" {
					t.Fatalf("RATEWIRE_DATABASE_URL %q: want postgres://...", cfg.DatabaseURL)
				}
				target := infra(t, p, u.Hostname(), "postgres:")
				pg := env(p.Services[target])
				pass, _ := u.User.Password()
				if u.Port() != "5432" || u.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] || pass != testPassword || u.Path != "/"+pg["POSTGRES_DB"] {
					t.Errorf("RATEWIRE_DATABASE_URL %q does not match the %s service (user %q, db %q, port 5432, POSTGRES_PASSWORD)",
						cfg.DatabaseURL, target, pg["POSTGRES_USER"], pg["POSTGRES_DB"])
				}
				needs(t, svc, target, types.ServiceConditionHealthy)
			}

			// The healthcheck probes /readyz on the service's own port.
			_, port, _ := net.SplitHostPort(cfg.HTTPAddr)
			if svc.HealthCheck == nil || !slices.Contains(svc.HealthCheck.Test, "http://127.0.0.1:"+port+"/readyz") {
				t.Errorf("healthcheck %v does not probe http://127.0.0.1:%s/readyz", svc.HealthCheck, port)
			}
			if len(svc.Ports) > 0 {
				t.Errorf("publishes %v; services are reached through the gateway, so replicas do not clash", svc.Ports)
			}
		})
	}

	// Kafka UI lists every node.
	ui := env(p.Services["kafka-ui"])
	if got, want := sorted(splitList(ui["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"])), internalAddrs(nodes); !slices.Equal(got, want) {
		t.Errorf("kafka-ui bootstrap servers %v, want %v", got, want)
	}
	if !publishes(p.Services["kafka-ui"], "8081") {
		t.Error("kafka-ui is not published on 8081")
	}
}

// infra checks that host is a service of the file running image prefix,
// and returns its name.
func infra(t testing.TB, p *types.Project, host, image string) string {
	t.Helper()
	s, ok := p.Services[host]
	if !ok || !strings.HasPrefix(s.Image, image) {
		t.Errorf("host %q is not a service running %s*", host, image)
	}
	return host
}

func needs(t testing.TB, s types.ServiceConfig, dep, condition string) {
	t.Helper()
	if d, ok := s.DependsOn[dep]; !ok || d.Condition != condition {
		t.Errorf("depends_on %s: %+v, want condition %s", dep, d, condition)
	}
}

func publishes(s types.ServiceConfig, port string) bool {
	for _, p := range s.Ports {
		if p.Published == port {
			return true
		}
	}
	return false
}

// configVariables returns every "RATEWIRE_*" string literal of the files
// a service reads its settings in: shared/config/config.go, and for the
// ingestor also ingestor/config.go.
func configVariables(t testing.TB, svcName string) []string {
	t.Helper()
	files := []string{filepath.Join(repoRoot, "shared", "config", "config.go")}
	if svcName == "ingestor" {
		files = append(files, filepath.Join(repoRoot, "ingestor", "config.go"))
	}
	if svcName == "web" {
		files = append(files, filepath.Join(repoRoot, "web", "web.go"))
	}
	var out []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(RATEWIRE_[A-Z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	want := []string{"RATEWIRE_HTTP_ADDR", "RATEWIRE_DATABASE_URL", "RATEWIRE_KAFKA_BROKERS"}
	if svcName == "ingestor" {
		want = append(want, "RATEWIRE_PROVIDERS", "RATEWIRE_KOREAEXIM_API_KEY")
	}
	if svcName == "web" {
		want = append(want, "RATEWIRE_API_URL", "RATEWIRE_CURRENCY_URL")
	}
	for _, v := range want {
		if !slices.Contains(out, v) {
			t.Fatalf("found %v in %v, which lacks %s: is the scan still right?", out, files, v)
		}
	}
	return out
}

// requirements returns the config.Require* calls in a service module's
// top-level package (its Run), with the variable each one needs.
func requirements(t testing.TB, svc string) map[string]string {
	t.Helper()
	vars := map[string]string{
		"RequireDatabase": "RATEWIRE_DATABASE_URL", "RequireRedis": "RATEWIRE_REDIS_URL", "RequireKafka": "RATEWIRE_KAFKA_BROKERS",
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, svc, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", svc, err)
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for fn, v := range vars {
			if strings.Contains(string(src), "."+fn+"()") {
				out[fn] = v
			}
		}
	}
	return out
}

// TestComposeHealthchecks checks that every long-running service has a
// healthcheck (only the one-shot init may go without).
func TestComposeHealthchecks(t *testing.T) {
	p := project(t)
	for name, s := range p.Services {
		if s.Restart == "no" {
			continue // one-shot: completion, not health, is what others wait for
		}
		if h := s.HealthCheck; h == nil || h.Disable || len(h.Test) < 2 || h.Test[0] == "NONE" {
			t.Errorf("%s: healthcheck %+v, want one", name, h)
		}
	}
}

// TestComposeGateway checks that the gateway publishes 8000 and that its
// nginx.conf routes each prefix devstack's gateway routes to the same
// service, on the port that service listens on.
func TestComposeGateway(t *testing.T) {
	p := project(t)
	gw, ok := p.Services["gateway"]
	if !ok {
		t.Fatal("no gateway service")
	}
	if !publishes(gw, "8000") {
		t.Error("gateway is not published on 8000")
	}
	const conf = "deploy/gateway/nginx.conf"
	mounted := false
	for _, v := range gw.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasSuffix(filepath.ToSlash(v.Source), "/"+conf) {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("gateway does not mount %s", conf)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot, conf))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`(?m)#.*$`).ReplaceAllString(string(src), "")
	// Each service is an upstream block keeping connections open
	// (keepalive, idle less than the services' own idle timeout) to a
	// server re-resolved through Docker's DNS (resolve, which needs a
	// zone).
	upstream := map[string]string{} // upstream name -> host:port
	for _, m := range regexp.MustCompile(`upstream\s+(\w+)\s*\{([^}]*)\}`).FindAllStringSubmatch(text, -1) {
		name, body := m[1], m[2]
		server := regexp.MustCompile(`(?m)^\s*server\s+([^\s;]+)((?:[ \t]+\w+(?:=[^\s;]+)?)*)\s*;`).FindStringSubmatch(body)
		if server == nil {
			t.Errorf("upstream %s has no server", name)
			continue
		}
		upstream[name] = server[1]
		if !slices.Contains(strings.Fields(server[2]), "resolve") {
			t.Errorf("upstream %s: server %s without resolve: a restarted or scaled service's addresses would not be picked up", name, server[1])
		}
		d := directives(body)
		if d["zone"] == "" {
			t.Errorf("upstream %s has no zone (resolve needs one)", name)
		}
		if n, err := strconv.Atoi(d["keepalive"]); err != nil || n < 16 {
			t.Errorf("upstream %s keepalive %q, want idle connections kept (16 or more)", name, d["keepalive"])
		}
		idle := 60 * time.Second // nginx's default keepalive_timeout
		if v := d["keepalive_timeout"]; v != "" {
			if idle, err = nginxDuration(v); err != nil {
				t.Errorf("upstream %s keepalive_timeout %q: %v", name, v, err)
			}
		}
		if idle >= httpx.IdleTimeout {
			t.Errorf("upstream %s keeps idle connections %v, want less than the services' idle timeout %v", name, idle, httpx.IdleTimeout)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*resolver\s+127\.0\.0\.11\b`).MatchString(text) {
		t.Error("nginx.conf has no resolver 127.0.0.11 (Docker's DNS) for the upstreams to re-resolve with")
	}
	// Keepalive needs HTTP/1.1 and no "Connection: close" to the upstream.
	server := directives(regexp.MustCompile(`(?s)(location|upstream)[^{]*\{[^}]*\}`).ReplaceAllString(text, ""))
	if server["proxy_http_version"] != "1.1" {
		t.Errorf("server proxy_http_version %q, want 1.1 (upstream keepalive needs it)", server["proxy_http_version"])
	}
	if !regexp.MustCompile(`(?m)^\s*proxy_set_header\s+Connection\s+"";`).MatchString(text) {
		t.Error(`nginx.conf does not clear the Connection header (proxy_set_header Connection "";)`)
	}
	routes := map[string]string{} // location -> host:port
	for _, m := range regexp.MustCompile(`(?m)^\s*location\s+(=\s+)?(\S+)\s*\{\s*proxy_pass\s+http://(\w+);`).FindAllStringSubmatch(text, -1) {
		routes[strings.TrimSpace(m[1])+m[2]] = upstream[m[3]]
	}
	for _, r := range stack.GatewayRoutes {
		_, port, _ := net.SplitHostPort(env(p.Services[r.Service])["RATEWIRE_HTTP_ADDR"])
		want := r.Service + ":" + port
		for _, loc := range []string{"=" + r.Prefix, r.Prefix + "/"} {
			if routes[loc] != want {
				t.Errorf("nginx location %s proxies to %q, want %q", loc, routes[loc], want)
			}
		}
	}
	// Everything else is the web app, as in devstack's gateway.
	_, webPort, _ := net.SplitHostPort(env(p.Services[stack.WebRoute])["RATEWIRE_HTTP_ADDR"])
	if want := stack.WebRoute + ":" + webPort; routes["/"] != want {
		t.Errorf("nginx location / proxies to %q, want the web app at %q", routes["/"], want)
	}
	if len(routes) != 2*len(stack.GatewayRoutes)+1 {
		t.Errorf("nginx proxies %v, want exactly the routes of devstack's gateway", routes)
	}
	// Unknown API paths stay API answers.
	if !regexp.MustCompile(`location /api/ \{\s*default_type application/json;\s*return 404`).Match(src) {
		t.Error("nginx.conf has no `location /api/` answering 404 in the envelope")
	}
	needs(t, gw, stack.WebRoute, types.ServiceConditionStarted)
}

// TestDockerfiles checks each service's image: built from the repository
// root with deploy/Dockerfile, whose SERVICE and PORT build arguments name
// the service and its default port; multi-stage, its go build run with
// GOWORK=off on a cmd package that exists, the healthcheck binary built and
// copied, and a non-root user in a distroless or scratch final stage that
// runs the service binary.
func TestDockerfiles(t *testing.T) {
	p := project(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for svcName, defaultAddr := range appServices {
		t.Run(svcName, func(t *testing.T) {
			b := p.Services[svcName].Build
			if b == nil {
				t.Fatal("not built from a Dockerfile")
			}
			if filepath.Clean(b.Context) != root || filepath.ToSlash(b.Dockerfile) != "deploy/Dockerfile" {
				t.Fatalf("build %s with %s, want the repository root with deploy/Dockerfile", b.Context, b.Dockerfile)
			}
			args := map[string]string{}
			for k, v := range b.Args {
				if v != nil {
					args[k] = *v
				}
			}
			if want := strings.TrimPrefix(defaultAddr, ":"); args["SERVICE"] != svcName || args["PORT"] != want {
				t.Fatalf("build args %v, want SERVICE=%s PORT=%s", args, svcName, want)
			}
			steps := dockerfile(t, filepath.Join(root, "deploy", "Dockerfile"))
			for i := range steps {
				for k, v := range args {
					steps[i].args = strings.ReplaceAll(steps[i].args, "${"+k+"}", v)
				}
			}
			var entrypoint, env string
			var froms int
			var workdir, user, finalFrom string
			var goenv []string
			builds := map[string]string{} // output -> package dir, repository-relative
			for _, st := range steps {
				switch st.op {
				case "FROM":
					froms++
					finalFrom, user = st.args, ""
				case "WORKDIR":
					workdir = st.args
				case "ENV":
					goenv = append(goenv, strings.Fields(st.args)...)
					env = st.args
				case "USER":
					user = st.args
				case "ENTRYPOINT":
					entrypoint = st.args
				case "RUN":
					if !strings.Contains(st.args, "go build") {
						continue
					}
					fields := strings.Fields(st.args)
					out := fields[slices.Index(fields, "-o")+1]
					dir := workdir
					if m := regexp.MustCompile(`cd (\S+) &&`).FindStringSubmatch(st.args); m != nil {
						dir = filepath.Join(dir, m[1])
					}
					rel, err := filepath.Rel("/src", filepath.Join(dir, fields[len(fields)-1]))
					if err != nil || strings.HasPrefix(rel, "..") {
						t.Fatalf("go build %q outside /src", st.args)
					}
					if !strings.Contains(st.args, "GOWORK=off") && !slices.Contains(goenv, "GOWORK=off") {
						t.Errorf("go build %q without GOWORK=off", st.args)
					}
					builds[out] = rel
				}
			}
			if froms < 2 {
				t.Errorf("%d stages, want a multi-stage build", froms)
			}
			if !strings.HasPrefix(finalFrom, "gcr.io/distroless/static") && finalFrom != "scratch" {
				t.Errorf("final stage FROM %s, want distroless static or scratch", finalFrom)
			}
			if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
				t.Errorf("final stage runs as %q, want a non-root USER", user)
			}
			if entrypoint != `["/service"]` {
				t.Errorf("ENTRYPOINT %s, want [\"/service\"]", entrypoint)
			}
			if env != "RATEWIRE_HTTP_ADDR="+defaultAddr {
				t.Errorf("final stage ENV %q, want RATEWIRE_HTTP_ADDR=%s", env, defaultAddr)
			}
			want := map[string]string{"/out/service": svcName + "/cmd/" + svcName, "/out/healthcheck": "deploy/healthcheck"}
			for out, pkg := range want {
				if builds[out] != pkg {
					t.Errorf("builds %s from %q, want %q", out, builds[out], pkg)
					continue
				}
				main, err := os.ReadFile(filepath.Join(root, pkg, "main.go"))
				if err != nil || !regexp.MustCompile(`(?m)^package main$`).Match(main) {
					t.Errorf("%s/main.go: not a main package (%v)", pkg, err)
				}
			}
		})
	}
}

type step struct{ op, args string }

// dockerfile reads the instructions of a Dockerfile, continuation lines
// joined and comments dropped.
func dockerfile(t testing.TB, path string) []step {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var steps []step
	var cur string
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			cur += more + " "
			continue
		}
		cur += line
		op, args, _ := strings.Cut(strings.TrimSpace(cur), " ")
		steps = append(steps, step{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return steps
}
