package tenantdb

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLState returns the SQLSTATE of a database error ("" if none).
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// IsRLSViolation reports whether err is a row-level security refusal
// (insufficient_privilege, 42501), e.g. a cross-tenant write.
func IsRLSViolation(err error) bool { return SQLState(err) == "42501" }
