package kafkabus

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// committer commits the offsets that a generation's partition workers report
// done. Workers never wait for it: each reports the offset after its latest
// done message, and the committer commits whatever advanced since its last
// commit, so one OffsetCommit covers every message that finished while the
// previous one was in flight. Offsets only move forward, and only past done
// messages, so the at-least-once guarantee does not depend on commit timing:
// a commit that fails or never happens means redelivery, which Dedupe and
// idempotent handlers absorb.
type committer struct {
	gen *kafka.Generation
	c   *Consumer

	mu        sync.Mutex
	pending   map[string]map[int]int64 // next offset to consume, per partition
	committed map[string]map[int]int64
	wake      chan struct{}
}

func newCommitter(gen *kafka.Generation, c *Consumer) *committer {
	return &committer{
		gen: gen, c: c,
		pending:   map[string]map[int]int64{},
		committed: map[string]map[int]int64{},
		wake:      make(chan struct{}, 1),
	}
}

// done records that every message of the partition before next is done.
func (cm *committer) done(topic string, partition int, next int64) {
	cm.mu.Lock()
	if cm.pending[topic] == nil {
		cm.pending[topic] = map[int]int64{}
	}
	cm.pending[topic][partition] = next
	cm.mu.Unlock()
	select {
	case cm.wake <- struct{}{}:
	default:
	}
}

// loop commits as offsets advance until ctx ends. A failed commit is
// retried after a backoff; the offsets stay pending meanwhile.
func (cm *committer) loop(ctx context.Context) {
	delay := fetchErrorBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-cm.wake:
		}
		if cm.commit() {
			delay = fetchErrorBackoff
			continue
		}
		if !sleep(ctx, delay) {
			return
		}
		delay = min(2*delay, maxFetchErrorBackoff)
		// Try again even if nothing new is done.
		select {
		case cm.wake <- struct{}{}:
		default:
		}
	}
}

// flush commits what is pending once the workers have stopped, trying up to
// three times so a shutdown keeps the work it did. It gives up at once when
// the group has moved to a new generation, whose members will redeliver.
func (cm *committer) flush() {
	delay := fetchErrorBackoff
	for range 3 {
		err := cm.commitErr()
		if err == nil || errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.RebalanceInProgress) ||
			errors.Is(err, kafka.UnknownMemberId) {
			return
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// commit sends the offsets that advanced since the last successful commit
// and reports whether there was nothing to do or the commit succeeded.
func (cm *committer) commit() bool { return cm.commitErr() == nil }

// commitErr is commit, returning the error.
func (cm *committer) commitErr() error {
	cm.mu.Lock()
	todo := map[string]map[int]int64{}
	for topic, parts := range cm.pending {
		for p, off := range parts {
			if done, ok := cm.committed[topic][p]; ok && done >= off {
				continue
			}
			if todo[topic] == nil {
				todo[topic] = map[int]int64{}
			}
			todo[topic][p] = off
		}
	}
	cm.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	if err := cm.gen.CommitOffsets(todo); err != nil {
		cm.c.metrics.commitError()
		cm.c.log.Warn("offset commit failed; will retry, messages may be redelivered",
			"generation", cm.gen.ID, "offsets", todo, "err", err)
		return err
	}
	cm.mu.Lock()
	for topic, parts := range todo {
		if cm.committed[topic] == nil {
			cm.committed[topic] = map[int]int64{}
		}
		maps.Copy(cm.committed[topic], parts)
	}
	cm.mu.Unlock()
	return nil
}
