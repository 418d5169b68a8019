package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// Attempt is one call to one provider during a run.
type Attempt struct {
	Provider string `json:"provider"`
	Attempt  int    `json:"attempt"`
	Outcome  string `json:"outcome"` // ok, no_data, failed, skipped (rate limited by an earlier run)
	// Reason is the public phrase for a failed or empty attempt ("provider
	// unreachable", "rate limited"...); Error is the full cause, for
	// operators only.
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Run is the record of one ingestion run.
type Run struct {
	ID      string `db:"id" json:"run_id"`
	Trigger string `db:"trigger" json:"trigger"`
	Status  string `db:"status" json:"status"`
	// Provider names the providers the run stored rates from, comma-separated
	// in RATEWIRE_PROVIDERS order ("hana,koreaexim"); empty when none.
	Provider string `db:"provider" json:"provider"`
	// RateDate is the bank day (KST) of the newest rates the run stored:
	// for Korea Eximbank, the day the run found published.
	RateDate   string    `db:"rate_date" json:"rate_date,omitempty"`
	Fetched    int       `db:"fetched" json:"fetched"`
	Rejected   int       `db:"rejected" json:"rejected"`
	Changed    int       `db:"changed" json:"changed"`
	Events     int       `db:"events" json:"events"`
	Attempts   []Attempt `db:"-" json:"attempts"`
	StartedAt  time.Time `db:"started_at" json:"started_at"`
	FinishedAt time.Time `db:"finished_at" json:"finished_at"`
	DurationMS int64     `db:"duration_ms" json:"duration_ms"`
	// Reason is the public phrase for why a run stored nothing ("no rates
	// published", "database unavailable"...; empty on success); Error is
	// the full cause, for operators only.
	Reason string `db:"reason" json:"reason,omitempty"`
	Error  string `db:"error" json:"error,omitempty"`
	// CrossCheck is the comparison of the run's quotes with other
	// providers' (nil when only one real provider is configured, and on
	// runs that fetched nothing).
	CrossCheck *CrossCheck `db:"-" json:"cross_check,omitempty"`
}

// CrossCheck records a run's cross-provider sanity check (DESIGN.md §5):
// each quote taken was compared with another provider's quote of the same
// currency, and those that differed by more than MaxDeviation were not
// published.
type CrossCheck struct {
	// Reference names the providers compared against, comma-separated in
	// order of first use ("koreaexim,exchangerate-api").
	Reference    string `json:"reference,omitempty"`
	MaxDeviation string `json:"max_deviation"` // the bound, as a fraction ("0.03")
	Compared     int    `json:"compared"`      // quotes of currencies both quoted
	// Rejected lists the quotes not published, by currency code.
	Rejected []CrossRejection `json:"rejected,omitempty"`
	// Skipped says why no comparison was made (no reference answered): a
	// public reason such as "rate limited".
	Skipped string `json:"skipped,omitempty"`
}

// CrossRejection is one quote the cross-check kept from publication.
type CrossRejection struct {
	Code            string `json:"currency_code"`
	Source          string `json:"source,omitempty"`    // the provider of the quote withheld
	Rate            string `json:"rate"`                // the run's quote, KRW per unit
	ReferenceSource string `json:"reference,omitempty"` // the provider compared against
	Reference       string `json:"reference_rate"`      // the reference's quote
	Deviation       string `json:"deviation"`           // |rate - reference| / reference, as a fraction
}

// runRow is Run as stored: attempts as JSON text.
type runRow struct {
	Run
	AttemptsJSON   string `db:"attempts"`
	CrossCheckJSON string `db:"cross_check"`
}

// OutboxMessage is one event waiting in, or sent from, the outbox.
type OutboxMessage struct {
	ID        int64     `db:"id"`
	EventID   string    `db:"event_id"`
	Topic     string    `db:"topic"`
	Key       string    `db:"msg_key"`
	Payload   string    `db:"payload"`
	Headers   string    `db:"headers"` // JSON object of header name to value, in order-free form
	CreatedAt time.Time `db:"created_at"`
}

// CommitRun stores a successful run in one transaction: its batches (see
// SaveBatch; a run that takes rates from several sources has one batch per
// source, each currency in one of them), the run record and the run's
// events in the outbox. events
// builds the outbox messages from the rates that changed, inside the
// transaction, so the events carry exactly the versions stored. If any
// part fails nothing is stored and nothing will be published.
func (s *Store) CommitRun(ctx context.Context, bs []rate.Batch, run Run, events func(changed []event.Rate) ([]OutboxMessage, error)) ([]event.Rate, error) {
	var changed []event.Rate
	err := sqldb.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		changed = nil // a retried transaction starts over
		for _, b := range bs {
			c, err := saveBatch(ctx, tx, b, run.ID, run.FinishedAt)
			if err != nil {
				return err
			}
			changed = append(changed, c...)
		}
		msgs, err := events(changed)
		if err != nil {
			return err
		}
		run.Changed, run.Events = len(changed), len(msgs)
		if err := insertRun(ctx, tx, run); err != nil {
			return err
		}
		rows := make([][]any, len(msgs))
		for i, m := range msgs {
			rows[i] = []any{m.EventID, m.Topic, m.Key, m.Payload, m.Headers, run.FinishedAt.UTC()}
		}
		if err := execRows(ctx, tx, `INSERT INTO outbox (event_id, topic, msg_key, payload, headers, created_at) VALUES `, rows, ``); err != nil {
			return fmt.Errorf("store outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("commit run %s: %w", run.ID, err)
	}
	return changed, nil
}

// RecordRun stores the record of a run that stored no rates (it failed or
// found nothing published).
func (s *Store) RecordRun(ctx context.Context, run Run) error {
	return sqldb.InTx(ctx, s.db, func(tx *sqlx.Tx) error { return insertRun(ctx, tx, run) })
}

func insertRun(ctx context.Context, tx *sqlx.Tx, r Run) error {
	attempts, err := json.Marshal(r.Attempts)
	if err != nil {
		return err
	}
	if r.Attempts == nil {
		attempts = []byte("[]")
	}
	cross := ""
	if r.CrossCheck != nil {
		b, err := json.Marshal(r.CrossCheck)
		if err != nil {
			return err
		}
		cross = string(b)
	}
	_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO ingestion_runs (id, trigger, status, provider, rate_date, fetched,
		rejected, changed, events, attempts, started_at, finished_at, duration_ms, reason, error, cross_check)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.Trigger, r.Status, r.Provider, r.RateDate, r.Fetched, r.Rejected, r.Changed, r.Events, string(attempts),
		r.StartedAt.UTC(), r.FinishedAt.UTC(), r.DurationMS, r.Reason, r.Error, cross)
	if err != nil {
		return fmt.Errorf("store run record: %w", err)
	}
	return nil
}

const runColumns = `id, trigger, status, provider, rate_date, fetched, rejected, changed, events, attempts,
	started_at, finished_at, duration_ms, reason, error, cross_check`

// Runs returns the most recent runs, newest first.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	var rows []runRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+runColumns+` FROM ingestion_runs
		ORDER BY started_at DESC, id DESC LIMIT ?`), limit); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	out := make([]Run, len(rows))
	for i, r := range rows {
		out[i] = r.run()
	}
	return out, nil
}

// LastRun returns the most recent run with one of the statuses, and false
// when there is none.
func (s *Store) LastRun(ctx context.Context, statuses ...string) (Run, bool, error) {
	q, args, err := sqlx.In(`SELECT `+runColumns+` FROM ingestion_runs WHERE status IN (?)
		ORDER BY started_at DESC, id DESC LIMIT 1`, statuses)
	if err != nil {
		return Run{}, false, err
	}
	var r runRow
	err = s.db.GetContext(ctx, &r, s.db.Rebind(q), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read last run: %w", err)
	}
	return r.run(), true, nil
}

func (r runRow) run() Run {
	out := r.Run
	out.StartedAt, out.FinishedAt = out.StartedAt.UTC(), out.FinishedAt.UTC()
	_ = json.Unmarshal([]byte(r.AttemptsJSON), &out.Attempts)
	if r.CrossCheckJSON != "" {
		var cc CrossCheck
		if json.Unmarshal([]byte(r.CrossCheckJSON), &cc) == nil {
			out.CrossCheck = &cc
		}
	}
	return out
}
