package searchapi

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/tenantry/tenantry/internal/tenantdb"
)

// RefusalLimit bounds the security events written for refused credentials,
// so that unauthenticated requests cannot grow the security_events table
// without bound. Refusals are counted in fixed windows: within one window at
// most PerSource events are written for one (client address, reason) pair
// and at most Total for all pairs; the rest are counted, and each reason
// with suppressed refusals gets one summary event (its count and its number
// of client addresses) when the window has ended, written with the first
// refusal of a later window. So a window writes at most Total events plus
// one per reason code, whatever the number of requests or addresses.
type RefusalLimit struct {
	// Window is the counting window (default 1 minute).
	Window time.Duration
	// PerSource is the events per client address and reason per window
	// (default 1).
	PerSource int
	// Total is the events per window over every address (default 100).
	Total int
	// MaxSources bounds the (address, reason) pairs remembered in a window
	// (default 10,000); refusals beyond it are counted, not remembered.
	MaxSources int
	// Now is the clock (tests).
	Now func() time.Time
}

func (l RefusalLimit) withDefaults() RefusalLimit {
	if l.Window == 0 {
		l.Window = time.Minute
	}
	if l.PerSource == 0 {
		l.PerSource = 1
	}
	if l.Total == 0 {
		l.Total = 100
	}
	if l.MaxSources == 0 {
		l.MaxSources = 10000
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return l
}

func (l RefusalLimit) validate() error {
	if l.Window < 0 || l.PerSource < 0 || l.Total < 0 || l.MaxSources < 0 {
		return fmt.Errorf("searchapi: RefusalLimit values must not be negative")
	}
	return nil
}

type refusalKey struct{ source, reason string }

// suppressed counts the refusals of one reason not written in a window.
type suppressed struct {
	count   int
	sources map[string]struct{} // bounded by MaxSources over all reasons
}

// refusals applies a RefusalLimit. Safe for concurrent use.
type refusals struct {
	lim RefusalLimit

	mu          sync.Mutex
	start       time.Time // of the current window
	written     int
	perKey      map[refusalKey]int
	remembered  int // sources remembered in suppressed
	suppressedN map[string]*suppressed
}

func newRefusals(lim RefusalLimit) *refusals {
	return &refusals{lim: lim, perKey: map[refusalKey]int{}, suppressedN: map[string]*suppressed{}}
}

// clientAddress is the host of a request's remote address (the peer: a
// proxy's address behind a load balancer, which then shares the limit).
func clientAddress(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// admit decides whether the refusal of a request from source with reason
// gets its own security event, and returns the summary events of an ended
// window, to be written first.
func (r *refusals) admit(source, reason string) (record bool, summaries []tenantdb.SecurityEvent) {
	now := r.lim.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.start.IsZero() || now.Sub(r.start) >= r.lim.Window || now.Before(r.start) {
		summaries = r.roll(now)
	}
	k := refusalKey{source, reason}
	if r.perKey[k] < r.lim.PerSource && r.written < r.lim.Total {
		if _, ok := r.perKey[k]; ok || len(r.perKey) < r.lim.MaxSources {
			r.perKey[k]++
			r.written++
			return true, summaries
		}
	}
	s := r.suppressedN[reason]
	if s == nil {
		s = &suppressed{sources: map[string]struct{}{}}
		r.suppressedN[reason] = s
	}
	s.count++
	if _, ok := s.sources[source]; !ok && r.remembered < r.lim.MaxSources {
		s.sources[source] = struct{}{}
		r.remembered++
	}
	return false, summaries
}

// roll starts a new window at now and returns the ended window's summaries
// (one per reason, in reason order).
func (r *refusals) roll(now time.Time) []tenantdb.SecurityEvent {
	var out []tenantdb.SecurityEvent
	reasons := make([]string, 0, len(r.suppressedN))
	for reason := range r.suppressedN {
		reasons = append(reasons, reason)
	}
	slices.Sort(reasons)
	for _, reason := range reasons {
		s := r.suppressedN[reason]
		out = append(out, tenantdb.SecurityEvent{
			Reason: reason, Source: "search-api", MessageID: "summary-" + r.start.UTC().Format(time.RFC3339),
			Detail: fmt.Sprintf("search credentials refused: %d more refusals from %d client addresses in the %s window from %s not recorded one by one",
				s.count, len(s.sources), r.lim.Window, r.start.UTC().Format(time.RFC3339)),
		})
	}
	r.start = now.Truncate(r.lim.Window)
	if r.start.After(now) || r.start.IsZero() {
		r.start = now
	}
	r.written, r.remembered = 0, 0
	clear(r.perKey)
	clear(r.suppressedN)
	return out
}
