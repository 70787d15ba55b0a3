package breaker

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied to zero Config fields.
const (
	DefaultWindow              = time.Minute
	DefaultMinSamples          = 10
	DefaultFailureRatio        = 0.5
	DefaultConsecutiveFailures = 10
	DefaultOpenFor             = 30 * time.Second
	DefaultTrialTimeout        = 5 * time.Minute
	DefaultReleaseRate         = 50 // messages per second, per releasing worker
	DefaultPollInterval        = 250 * time.Millisecond
	DefaultLease               = 30 * time.Second
)

// Config tunes every tenant's breaker (the same rules for all tenants).
type Config struct {
	// Window is the period over which failures are counted.
	Window time.Duration
	// MinSamples is the fewest outcomes in a window before FailureRatio
	// can trip the breaker.
	MinSamples int
	// FailureRatio trips the breaker when permanent failures / outcomes in
	// the window reach it (0 < ratio <= 1).
	FailureRatio float64
	// ConsecutiveFailures trips the breaker after that many permanent
	// failures in a row, whatever the window.
	ConsecutiveFailures int
	// OpenFor is how long an automatically tripped breaker stays open
	// before one trial runs.
	OpenFor time.Duration
	// TrialTimeout is how long a trial holds its claim; after it another
	// message may be the trial (the first one was lost or is still retrying).
	TrialTimeout time.Duration
	// ReleaseRate bounds how many parked messages per second one worker
	// puts back into the queue.
	ReleaseRate float64
	// PollInterval is how often the Releaser looks for work to release.
	PollInterval time.Duration
	// Lease is how long a Releaser holds a tenant's release before another
	// worker may take it over (a releaser killed mid-release).
	Lease time.Duration
}

// WithDefaults returns c with zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MinSamples == 0 {
		c.MinSamples = DefaultMinSamples
	}
	if c.FailureRatio == 0 {
		c.FailureRatio = DefaultFailureRatio
	}
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.OpenFor == 0 {
		c.OpenFor = DefaultOpenFor
	}
	if c.TrialTimeout == 0 {
		c.TrialTimeout = DefaultTrialTimeout
	}
	if c.ReleaseRate == 0 {
		c.ReleaseRate = DefaultReleaseRate
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	return c
}

// ErrInvalidConfig is wrapped by validation errors.
var ErrInvalidConfig = errors.New("breaker: invalid config")

func (c Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Window > 0, "Window must be positive, got %s", c.Window)
	check(c.MinSamples >= 1, "MinSamples must be at least 1, got %d", c.MinSamples)
	check(c.FailureRatio > 0 && c.FailureRatio <= 1, "FailureRatio must be in (0, 1], got %g", c.FailureRatio)
	check(c.ConsecutiveFailures >= 1, "ConsecutiveFailures must be at least 1, got %d", c.ConsecutiveFailures)
	check(c.OpenFor > 0, "OpenFor must be positive, got %s", c.OpenFor)
	check(c.TrialTimeout > 0, "TrialTimeout must be positive, got %s", c.TrialTimeout)
	check(c.ReleaseRate > 0, "ReleaseRate must be positive, got %g", c.ReleaseRate)
	check(c.PollInterval > 0, "PollInterval must be positive, got %s", c.PollInterval)
	check(c.Lease > 0 && c.Lease <= time.Hour, "Lease must be in (0, 1h], got %s", c.Lease)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}
