package tenantdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// smallPool opens a two-connection pool on url and pings it: the pool of
// every operator-side reader (audit, console, support, breaker operator).
// readOnly makes every transaction of the pool READ ONLY.
func smallPool(ctx context.Context, url string, readOnly bool) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, errors.New("tenantdb: empty database URL")
	}
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: parse URL: %w", errors.New("invalid connection string"))
	}
	pcfg.MaxConns = 2
	if readOnly {
		pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("tenantdb: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("tenantdb: connect: %w", err)
	}
	return pool, nil
}
