package store

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"
)

// rowsPerStatement bounds one multi-row statement, far below SQLite's and
// PostgreSQL's parameter limits for the widest table here.
const rowsPerStatement = 400

// execRows runs `prefix (?, ...), (?, ...) suffix` over rows in chunks.
func execRows(ctx context.Context, tx *sqlx.Tx, prefix string, rows [][]any, suffix string) error {
	return chunks(rows, func(part [][]any) error {
		q, args := valuesStatement(prefix, part, suffix)
		_, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
		return err
	})
}

// queryRows is execRows for statements with RETURNING: scan sees each
// returned row.
func queryRows(ctx context.Context, tx *sqlx.Tx, prefix string, rows [][]any, suffix string, scan func(*sqlx.Rows) error) error {
	return chunks(rows, func(part [][]any) error {
		q, args := valuesStatement(prefix, part, suffix)
		rs, err := tx.QueryxContext(ctx, tx.Rebind(q), args...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			if err := scan(rs); err != nil {
				return err
			}
		}
		return rs.Err()
	})
}

func chunks(rows [][]any, fn func([][]any) error) error {
	for len(rows) > 0 {
		n := min(len(rows), rowsPerStatement)
		if err := fn(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func valuesStatement(prefix string, rows [][]any, suffix string) (string, []any) {
	var b strings.Builder
	b.WriteString(prefix)
	args := make([]any, 0, len(rows)*len(rows[0]))
	one := "(?" + strings.Repeat(", ?", len(rows[0])-1) + ")"
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
		args = append(args, r...)
	}
	b.WriteString(suffix)
	return b.String(), args
}
