package testinfra

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/embedded"
)

// Kafka starts an embedded three-broker kfake cluster on random ports with
// the contract's topics, for the duration of the test, and returns its
// broker addresses. Tests talk to it over real TCP.
func Kafka(t testing.TB) []string {
	t.Helper()
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		t.Fatalf("start embedded Kafka: %v", err)
	}
	t.Cleanup(k.Close)
	return k.Brokers()
}

// envKafkaChild tells a test binary started by KafkaProcess to serve Kafka.
const envKafkaChild = "RATEWIRE_TEST_KAFKA_CHILD"

// KafkaProcess starts an embedded cluster like Kafka, but in a child
// process: the test binary itself, whose TestMain must call
// ServeKafkaChild first. Benchmarks use it so that the broker's
// records (all of them stay in kfake's memory) are not on the heap of the
// consumer being measured, as they are not in production, where every GC
// cycle would otherwise mark them. The child stops when the test ends.
func KafkaProcess(tb testing.TB) []string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envKafkaChild+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start Kafka process: %v", err)
	}
	tb.Cleanup(func() {
		stdin.Close() // the child's signal to stop
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if brokers, ok := strings.CutPrefix(lines.Text(), kafkaChildReady); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return strings.Split(brokers, ",")
		}
	}
	tb.Fatalf("Kafka process ended before it was ready (does TestMain call testinfra.ServeKafkaChild?): %v", lines.Err())
	return nil
}

// kafkaChildReady starts the line on which the child reports its brokers.
const kafkaChildReady = "ratewire-kafka-ready "

// ServeKafkaChild, called first in a TestMain, makes the test binary the
// Kafka process of KafkaProcess when KafkaProcess started it: it runs an
// embedded cluster until its parent closes its standard input, then exits.
// Otherwise it returns at once and the tests run.
func ServeKafkaChild() {
	if os.Getenv(envKafkaChild) != "1" {
		return
	}
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start embedded Kafka:", err)
		os.Exit(1)
	}
	fmt.Println(kafkaChildReady + strings.Join(k.Brokers(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
	k.Close()
	os.Exit(0)
}
