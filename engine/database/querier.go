package database

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Querier is what every storage function runs its statements on: the
// database (*DB) or a transaction (*Tx). Both speak sqlx with ?
// placeholders (Rebind them) and know their dialect, so that a caller can
// put several changes in one transaction by passing a *Tx.
type Querier interface {
	sqlx.ExtContext
	// QueryRowContext runs a query that returns at most one row.
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// IsPostgres reports whether the database is PostgreSQL.
	IsPostgres() bool
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// Tx is a transaction on a DB and its dialect.
type Tx struct {
	*sqlx.Tx
	Dialect Dialect
	// joined is true of a Tx that Begin handed out for a transaction
	// begun elsewhere: its Commit and Rollback leave it to that caller.
	joined bool
}

// IsPostgres reports whether the transaction is on PostgreSQL.
func (tx *Tx) IsPostgres() bool { return tx.Dialect == Postgres }

// Commit commits the transaction, unless it was joined (see Begin).
func (tx *Tx) Commit() error {
	if tx.joined {
		return nil
	}
	return tx.Tx.Commit()
}

// Rollback rolls the transaction back, unless it was joined (see Begin):
// then the error that made the callee roll back reaches the caller, who
// rolls back the whole.
func (tx *Tx) Rollback() error {
	if tx.joined {
		return nil
	}
	return tx.Tx.Rollback()
}

// Begin starts a transaction on q. On a *DB it is a new transaction; on a
// *Tx it is that same transaction, joined, so that a storage function that
// needs several statements to happen together can take part in its
// caller's transaction: the joined Tx's Commit and Rollback do nothing and
// the caller who began the transaction ends it.
func Begin(ctx context.Context, q Querier) (*Tx, error) {
	switch q := q.(type) {
	case *DB:
		tx, err := q.BeginTxx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return &Tx{Tx: tx, Dialect: q.Dialect}, nil
	case *Tx:
		return &Tx{Tx: q.Tx, Dialect: q.Dialect, joined: true}, nil
	default:
		return nil, fmt.Errorf("begin a transaction on %T: want a *database.DB or *database.Tx", q)
	}
}

// InTx runs fn in a transaction on q — q's own when q is a *Tx, joined as
// Begin does — and commits it when fn succeeds; otherwise it rolls back
// and returns fn's error.
func InTx(ctx context.Context, q Querier, fn func(tx *Tx) error) error {
	tx, err := Begin(ctx, q)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
