package ranking_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoKafkaDependency keeps the ranking independent of Kafka (DESIGN.md
// §1): no package the ranking builds into its binary may be a Kafka
// client, even indirectly through shared.
func TestNoKafkaDependency(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found; cannot list dependencies")
	}
	out, err := exec.Command(goBin, "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./...: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 50 || !strings.Contains(string(out), "github.com/redis/go-redis/v9") {
		t.Fatalf("go list -deps listed %d packages without go-redis; the check would prove nothing", len(pkgs))
	}
	for _, p := range pkgs {
		if strings.Contains(p, "kafka") || strings.Contains(p, "franz-go") || strings.Contains(p, "sarama") {
			t.Errorf("ranking depends on %s: it must not import a Kafka client", p)
		}
	}
}
