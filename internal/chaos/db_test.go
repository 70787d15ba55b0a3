package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// admin runs checks as the superuser of one test database (RLS does not
// apply: the ground truth). Every call connects anew and retries connection
// failures for up to a minute, so it survives a PostgreSQL restart.
type admin struct{ url string }

func (a admin) do(ctx context.Context, fn func(*pgx.Conn) error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := pgx.Connect(ctx, a.url)
		if err == nil {
			err = fn(c)
			c.Close(context.WithoutCancel(ctx))
			if err == nil || !connectionLost(err) {
				return err
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("admin connection: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// connectionLost: what a restart or a terminated backend produces
// (SQLSTATE classes 08 and 57, a closed socket).
func connectionLost(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57")
	}
	var ne net.Error
	return pgconn.SafeToRetry(err) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "conn closed")
}

func (a admin) count(ctx context.Context, sql string, args ...any) (int, error) {
	var n int
	err := a.do(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, sql, args...).Scan(&n) })
	return n, err
}
