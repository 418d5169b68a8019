package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/shared/sqldb"
)

// PendingOutbox returns up to limit unsent outbox messages in the order
// they were written.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error) {
	var msgs []OutboxMessage
	if err := s.db.SelectContext(ctx, &msgs, s.db.Rebind(`SELECT id, event_id, topic, msg_key, payload, headers, created_at
		FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?`), limit); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return msgs, nil
}

// MarkSent records that the brokers acknowledged the messages.
func (s *Store) MarkSent(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	q, args, err := sqlx.In(`UPDATE outbox SET sent_at = ? WHERE id IN (?)`, at.UTC(), ids)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(q), args...); err != nil {
		return fmt.Errorf("mark outbox sent: %w", err)
	}
	return nil
}

// OutboxBacklog reports how many messages wait and when the oldest was
// written (zero when none wait).
func (s *Store) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`); err != nil {
		return 0, time.Time{}, fmt.Errorf("count outbox: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var oldest time.Time
	if err := s.db.GetContext(ctx, &oldest, `SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT 1`); err != nil {
		return 0, time.Time{}, fmt.Errorf("oldest outbox message: %w", err)
	}
	return n, oldest.UTC(), nil
}

// WithRelayLock runs fn while holding the outbox relay lock, so that with
// several ingestor replicas on one PostgreSQL database only one publishes
// at a time and the order of events holds. It reports false, without
// running fn, when another replica holds the lock. SQLite databases serve
// one process, which needs no lock.
func (s *Store) WithRelayLock(ctx context.Context, fn func() error) (bool, error) {
	if !sqldb.Is(s.db, sqldb.Postgres) {
		return true, fn()
	}
	conn, err := s.db.Connx(ctx)
	if err != nil {
		return false, fmt.Errorf("relay lock: %w", err)
	}
	defer conn.Close()
	h := fnv.New64a()
	h.Write([]byte("ratewire-outbox-relay"))
	key := int64(h.Sum64())
	var got bool
	if err := conn.GetContext(ctx, &got, `SELECT pg_try_advisory_lock($1)`, key); err != nil {
		return false, fmt.Errorf("relay lock: %w", err)
	}
	if !got {
		return false, nil
	}
	defer func() {
		// Unlock on a fresh context: a cancelled ctx must not leave the
		// session holding the lock in the pool.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // drop the session, releasing its locks
		}
	}()
	return true, fn()
}

// PurgeObservations deletes raw observations recorded before the instant,
// at most batch rows per statement so the database never holds a long
// lock; daily aggregates are kept. It returns how many rows it deleted.
func (s *Store) PurgeObservations(ctx context.Context, before time.Time, batch int) (int64, error) {
	return s.purge(ctx, `DELETE FROM rate_observations WHERE id IN
		(SELECT id FROM rate_observations WHERE recorded_at < ? ORDER BY id LIMIT ?)`, before, batch)
}

// PurgeSentOutbox deletes outbox messages sent before the instant.
func (s *Store) PurgeSentOutbox(ctx context.Context, before time.Time, batch int) (int64, error) {
	return s.purge(ctx, `DELETE FROM outbox WHERE id IN
		(SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ? ORDER BY id LIMIT ?)`, before, batch)
}

func (s *Store) purge(ctx context.Context, q string, before time.Time, batch int) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, s.db.Rebind(q), before.UTC(), batch)
		if err != nil {
			return total, fmt.Errorf("purge: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
