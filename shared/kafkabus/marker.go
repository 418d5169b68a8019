package kafkabus

import (
	"context"
	"sync"
)

// marker is the step between a partition's handlers and its committer: it
// records handled events in the Dedupe store and only then reports their
// offsets done, in offset order, so an offset is never committed before the
// mark of every event up to it is written (and a mark is queued only after
// its handler succeeded). Duplicates and dead-lettered messages pass through
// it without a mark, so they cannot overtake a handled event whose mark is
// pending.
//
// Like the committer it batches: one MarkMany covers every event the worker
// handled while the previous write was in flight, so under load marks cost
// one round trip per batch, and when idle a mark follows its handler by one
// round trip. A crash in that window re-applies the event after a restart,
// as a crash between a handler and its single Mark always could; handlers
// are idempotent for that reason (Handler).
type marker struct {
	w *partitionWorker

	mu     sync.Mutex
	queue  []markEntry    // in offset order
	queued map[string]int // event ids in queue or being written, with their count
	wake   chan struct{}

	// Used by the marking goroutine only.
	spare []markEntry
	ids   []string
}

// markEntry is one done message: the offset after it and, if its handler
// succeeded, the event id to mark.
type markEntry struct {
	next int64
	id   string
}

func newMarker(w *partitionWorker) *marker {
	return &marker{w: w, queued: map[string]int{}, wake: make(chan struct{}, 1)}
}

// add queues the message before next as done; id, if not empty, is the
// event to mark first. Without a Dedupe store nothing needs marking, and
// the offset goes to the committer at once.
func (mk *marker) add(next int64, id string) {
	if mk.w.c.cfg.Dedupe == nil {
		mk.w.cm.done(mk.w.topic, mk.w.partition, next)
		return
	}
	mk.mu.Lock()
	mk.queue = append(mk.queue, markEntry{next: next, id: id})
	if id != "" {
		mk.queued[id]++
	}
	mk.mu.Unlock()
	select {
	case mk.wake <- struct{}{}:
	default:
	}
}

// addAll queues every entry of es, in order, under one lock and with one
// wake-up, so that a batch's marks go out in one write.
func (mk *marker) addAll(es []markEntry) {
	if len(es) == 0 {
		return
	}
	if mk.w.c.cfg.Dedupe == nil {
		mk.w.cm.done(mk.w.topic, mk.w.partition, es[len(es)-1].next)
		return
	}
	mk.mu.Lock()
	mk.queue = append(mk.queue, es...)
	for _, e := range es {
		if e.id != "" {
			mk.queued[e.id]++
		}
	}
	mk.mu.Unlock()
	select {
	case mk.wake <- struct{}{}:
	default:
	}
}

// queuedOf sets dup[i] for every ids[i] that is handled but not yet marked.
func (mk *marker) queuedOf(ids []string, dup []bool) {
	mk.mu.Lock()
	defer mk.mu.Unlock()
	if len(mk.queued) == 0 {
		return
	}
	for i, id := range ids {
		if id != "" && mk.queued[id] > 0 {
			dup[i] = true
		}
	}
}

// loop writes what is queued until ctx ends.
func (mk *marker) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-mk.wake:
		}
		if !mk.write(ctx, true) {
			return
		}
	}
}

// flush writes what is still queued once the worker has stopped, trying
// once under commitTimeout so that a shutdown keeps the work it did without
// waiting long for a store that is down. Entries it cannot write stay
// uncommitted: their events are redelivered and, unmarked, handled again.
func (mk *marker) flush() {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	mk.write(ctx, false)
}

// write marks the events of everything queued and reports the last offset
// done. With retry it retries a failed write until ctx ends, otherwise it
// tries once; it reports false if the write did not happen, leaving the
// entries queued.
func (mk *marker) write(ctx context.Context, retry bool) bool {
	w := mk.w
	mk.mu.Lock()
	todo := mk.queue
	mk.queue = mk.spare[:0]
	mk.mu.Unlock()
	if len(todo) == 0 {
		mk.spare = todo
		return true
	}
	ids := mk.ids[:0]
	for _, e := range todo {
		if e.id != "" {
			ids = append(ids, e.id)
		}
	}
	mk.ids = ids
	if len(ids) > 0 {
		mark := func(ctx context.Context) error { return markMany(ctx, w.c.cfg.Dedupe, w.c.cfg.GroupID, ids) }
		var ok bool
		if retry {
			// The effects are durable; only the record of them is
			// missing, so retry the record, never the handlers.
			ok = w.retryForever(ctx, "dedupe mark", todo[0].next-1, mark)
		} else if err := mark(ctx); err != nil {
			w.metrics.stepError("dedupe mark")
			w.log.Warn("dedupe mark at shutdown failed; events will be redelivered and handled again",
				"from_offset", todo[0].next-1, "events", len(ids), "err", err)
		} else {
			ok = true
		}
		if !ok {
			mk.mu.Lock()
			mk.queue = append(todo, mk.queue...)
			mk.mu.Unlock()
			return false
		}
	}
	w.cm.done(w.topic, w.partition, todo[len(todo)-1].next)
	mk.mu.Lock()
	for _, id := range ids {
		if mk.queued[id]--; mk.queued[id] <= 0 {
			delete(mk.queued, id)
		}
	}
	mk.mu.Unlock()
	clear(todo)
	mk.spare = todo[:0]
	return true
}
