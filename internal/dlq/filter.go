package dlq

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Filter selects DLQ messages. Empty fields match everything; a message must
// match every non-empty field (and one of the values of a list).
type Filter struct {
	// Tenants matches verified tenants only: an unverified message never
	// matches a tenant filter.
	Tenants []uuid.UUID
	// Reasons matches the dead-letter reason (e.g. "max_receives",
	// "redrive_policy").
	Reasons []string
	// Stages matches the failed stage.
	Stages []string
	// MinAge and MaxAge bound Message.Age (0: no bound).
	MinAge, MaxAge time.Duration
	// IDs matches the DLQ message id or the original message id.
	IDs []string
}

// Validate checks the filter's bounds.
func (f Filter) Validate() error {
	var errs []error
	if f.MinAge < 0 || f.MaxAge < 0 {
		errs = append(errs, errors.New("ages must not be negative"))
	}
	if f.MaxAge > 0 && f.MinAge > f.MaxAge {
		errs = append(errs, errors.New("min age is above max age"))
	}
	for _, t := range f.Tenants {
		if t == uuid.Nil {
			errs = append(errs, errors.New("nil tenant id"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: filter: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Empty reports whether the filter matches every message.
func (f Filter) Empty() bool {
	return len(f.Tenants) == 0 && len(f.Reasons) == 0 && len(f.Stages) == 0 &&
		f.MinAge == 0 && f.MaxAge == 0 && len(f.IDs) == 0
}

// Match reports whether m is selected.
func (f Filter) Match(m Message) bool {
	if len(f.Tenants) > 0 && (!m.Verified || !slices.Contains(f.Tenants, m.Tenant)) {
		return false
	}
	if len(f.Reasons) > 0 && !slices.Contains(f.Reasons, m.Reason) {
		return false
	}
	if len(f.Stages) > 0 && !slices.Contains(f.Stages, m.Stage) {
		return false
	}
	if f.MinAge > 0 && m.Age < f.MinAge {
		return false
	}
	if f.MaxAge > 0 && m.Age > f.MaxAge {
		return false
	}
	if len(f.IDs) > 0 && !slices.Contains(f.IDs, m.ID) && (m.OriginalID == "" || !slices.Contains(f.IDs, m.OriginalID)) {
		return false
	}
	return true
}

// needsTenant reports whether matching needs the verified tenant (so the
// envelope must be resolved before the filter can say no).
func (f Filter) needsTenant() bool { return len(f.Tenants) > 0 }
