// Package schedule runs the ingestor's cron jobs on an injected clock.
//
// robfig/cron parses the specs (the standard five fields and its
// descriptors) and computes the next activation, but its runner reads the
// wall clock, so a test could not say "it is 31 December 23:59:59 KST,
// now let two seconds pass". Scheduler waits on a clockwork.Clock instead:
// the real clock in production, a fake one in tests. Like the runner it
// replaces, it evaluates specs in an explicit location, recovers panics
// and skips an activation while the previous run of the same job is still
// going.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/robfig/cron/v3"
)

// Scheduler runs jobs on cron schedules. Add jobs, then Run.
type Scheduler struct {
	clock clockwork.Clock
	loc   *time.Location
	log   *slog.Logger

	mu      sync.Mutex
	entries []*entry
}

type entry struct {
	name  string
	spec  cron.Schedule
	job   func(ctx context.Context)
	next  time.Time // guarded by Scheduler.mu
	busy  bool      // guarded by Scheduler.mu
	owner *Scheduler
}

// ID names a job added to a Scheduler.
type ID int

// New returns a scheduler evaluating specs in loc on clock (nil means the
// real clock).
func New(clock clockwork.Clock, loc *time.Location, log *slog.Logger) *Scheduler {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if loc == nil {
		loc = time.UTC
	}
	return &Scheduler{clock: clock, loc: loc, log: log}
}

// Add registers job under a name (for logs) on spec, a standard cron
// expression such as "5 11-18 * * 1-5" or a descriptor such as "@hourly".
// It must be called before Run.
func (s *Scheduler) Add(name, spec string, job func(ctx context.Context)) (ID, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return 0, fmt.Errorf("schedule %s: %q: %w", name, spec, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &entry{name: name, spec: sched, job: job, owner: s}
	e.next = sched.Next(s.clock.Now().In(s.loc))
	s.entries = append(s.entries, e)
	return ID(len(s.entries) - 1), nil
}

// Next is when job id runs next.
func (s *Scheduler) Next(id ID) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(id) < 0 || int(id) >= len(s.entries) {
		return time.Time{}
	}
	return s.entries[id].next
}

// Running reports whether a run of job id is in progress.
func (s *Scheduler) Running(id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(id) >= 0 && int(id) < len(s.entries) && s.entries[id].busy
}

// Run runs the jobs until ctx ends, then waits for the runs in progress
// to return. Each job gets ctx.
func (s *Scheduler) Run(ctx context.Context) {
	var runs sync.WaitGroup
	var loops sync.WaitGroup
	s.mu.Lock()
	entries := append([]*entry(nil), s.entries...)
	s.mu.Unlock()
	for _, e := range entries {
		loops.Go(func() { e.loop(ctx, &runs) })
	}
	loops.Wait()
	runs.Wait()
}

// loop waits for each activation of e and starts its run.
func (e *entry) loop(ctx context.Context, runs *sync.WaitGroup) {
	s := e.owner
	var last time.Time
	for {
		now := s.clock.Now().In(s.loc)
		if now.Before(last) {
			now = last // a timer may fire a hair early: never run one activation twice
		}
		next := e.spec.Next(now)
		s.mu.Lock()
		e.next = next
		s.mu.Unlock()
		t := s.clock.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
		last = next
		s.mu.Lock()
		busy := e.busy
		e.busy = true
		s.mu.Unlock()
		if busy {
			s.log.Warn("scheduled job still running, activation skipped", "job", e.name, "activation", next)
			continue
		}
		runs.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("scheduled job panicked", "job", e.name, "panic", fmt.Sprint(r))
				}
				s.mu.Lock()
				e.busy = false
				s.mu.Unlock()
			}()
			e.job(ctx)
		})
	}
}
