package rank

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/ratewire/ratewire/shared/apperr"
)

// batcher is a group commit: clicks that arrive while one SQL transaction
// is being written queue up and go into the next one together, so the
// database sees one transaction per batch instead of one per click. A
// click is answered only after its transaction commits, so nothing is
// buffered in this process that a client has been told is counted: a
// crash of the service loses no answered click, and Close writes the
// queued ones. (The store may commit asynchronously; see its docs for the
// bounded window that leaves on a database crash.) Under light load every
// batch holds one click and adds no delay; under heavy load batches grow
// and throughput with them.
type batcher struct {
	s   *Service
	max int
	in  chan queued

	mu     sync.RWMutex // held for reading while sending on in
	closed bool
	stop   chan struct{}
	done   chan struct{}

	// applies hands committed batches to the goroutine that adds them to
	// Redis and answers their clicks, so the next SQL transaction starts
	// while Redis works on the last one.
	applies    chan applyJob
	appliesEnd chan struct{}
}

// applyJob is a committed batch waiting for its Redis update.
type applyJob struct {
	batch  []queued
	seq    int64
	deltas []Delta
	counts map[DayCountry]int64
}

// queued is one click waiting for its batch.
type queued struct {
	d    Delta
	done chan batchOut
}

// batchOut is what a click learns from its batch: counts after the commit
// and the standings on the boards Redis updated.
type batchOut struct {
	counts    map[DayCountry]int64
	standings map[Board]map[string]Standing
	err       error
}

func newBatcher(s *Service, max int) *batcher {
	b := &batcher{
		s: s, max: max, in: make(chan queued, 4*max), stop: make(chan struct{}), done: make(chan struct{}),
		applies: make(chan applyJob, 1), appliesEnd: make(chan struct{}),
	}
	go b.run()
	go b.applyLoop()
	return b
}

// add queues one click and waits until its batch is written. Once queued
// the click is written even if ctx ends, and add waits for that, so the
// answer never disagrees with the database.
func (b *batcher) add(ctx context.Context, d Delta) (batchOut, error) {
	done := make(chan batchOut, 1)
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return batchOut{}, errClosed
	}
	select {
	case b.in <- queued{d: d, done: done}:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return batchOut{}, apperr.Unavailable("click not stored", ctx.Err())
	}
	out := <-done
	return out, out.err
}

// close refuses new clicks, writes the queued ones and waits.
func (b *batcher) close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return
	}
	b.closed = true
	b.mu.Unlock()
	// No sender holds the read lock any more: everything sent is in b.in.
	close(b.stop)
	<-b.done
}

func (b *batcher) run() {
	defer close(b.done)
	defer func() {
		close(b.applies)
		<-b.appliesEnd
	}()
	for {
		var batch []queued
		select {
		case q := <-b.in:
			batch = append(batch, q)
		case <-b.stop:
			b.drainAndFlush()
			return
		}
	fill:
		for len(batch) < b.max {
			select {
			case q := <-b.in:
				batch = append(batch, q)
			default:
				break fill
			}
		}
		b.flush(batch)
	}
}

// drainAndFlush writes whatever is still queued at shutdown.
func (b *batcher) drainAndFlush() {
	var batch []queued
	for {
		select {
		case q := <-b.in:
			batch = append(batch, q)
			if len(batch) == b.max {
				b.flush(batch)
				batch = nil
			}
		default:
			b.flush(batch)
			return
		}
	}
}

// flush writes one batch in one SQL transaction and hands it on to be
// added to the Redis boards and answered.
func (b *batcher) flush(batch []queued) {
	if len(batch) == 0 {
		return
	}
	s := b.s
	agg := make(map[DayCountry]int64, len(batch))
	for _, q := range batch {
		agg[DayCountry{q.d.Day, q.d.Country}] += q.d.Clicks
	}
	deltas := make([]Delta, 0, len(agg))
	for k, n := range agg {
		deltas = append(deltas, Delta{Day: k.Day, Country: k.Country, Clicks: n})
	}
	// A fixed order keeps the SQL statement and row locking deterministic.
	slices.SortFunc(deltas, func(a, b Delta) int {
		if c := a.Day.t.Compare(b.Day.t); c != 0 {
			return c
		}
		return cmp.Compare(a.Country, b.Country)
	})
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	seq, counts, err := s.store.AddClicks(ctx, deltas, s.now().UTC())
	if err != nil {
		s.storeFailed(len(batch), err)
		out := batchOut{err: apperr.Unavailable("store clicks", err)}
		for _, q := range batch {
			q.done <- out
		}
		return
	}
	s.m.batchSize.Observe(float64(len(batch)))
	b.applies <- applyJob{batch: batch, seq: seq, deltas: deltas, counts: counts}
}

// applyLoop adds committed batches to the boards and answers their
// clicks. Batches may reach Redis in any order: the boards add changes
// by sequence number, and additions commute.
func (b *batcher) applyLoop() {
	defer close(b.appliesEnd)
	for job := range b.applies {
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		out := batchOut{counts: job.counts, standings: b.s.applyToBoards(ctx, job.seq, job.deltas)}
		cancel()
		for _, q := range job.batch {
			q.done <- out
		}
	}
}
