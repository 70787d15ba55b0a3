package breaker

import (
	"fmt"
	"time"
)

// State is a breaker's state.
type State string

// The states of a tenant's breaker.
const (
	Closed   State = "closed"
	Open     State = "open"
	HalfOpen State = "half_open"
)

// Failure is one recorded permanent failure: a reason code, never text.
type Failure struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	JobID  string    `json:"job_id"`
}

// maxLastFailures is how many failures a breaker remembers.
const maxLastFailures = 5

// Status is what `tenantry tenant status` (and the console) shows of a
// tenant's breaker.
type Status struct {
	Tenant string `json:"tenant_id"`
	State  State  `json:"state"`
	// Manual is true for an operator's pause (no automatic trial).
	Manual    bool      `json:"manual"`
	Reason    string    `json:"reason"`
	Actor     string    `json:"actor"`
	ChangedAt time.Time `json:"changed_at"`
	// RetryAt is when an automatically tripped breaker may run a trial.
	RetryAt *time.Time `json:"retry_at,omitempty"`
	// Parked is how many messages wait for release; Refused how many the
	// releaser could not verify as this tenant's (kept, never released).
	Parked  int64 `json:"parked"`
	Refused int64 `json:"refused"`
	// WindowTotal and WindowFailures count outcomes of the current window.
	WindowTotal         int       `json:"window_total"`
	WindowFailures      int       `json:"window_failures"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastFailures        []Failure `json:"last_failures"`
}

// row is a tenant_breakers row.
type row struct {
	State               State
	Manual              bool
	Reason              string
	RetryAt             *time.Time
	TrialJob            string
	TrialUntil          *time.Time
	WindowStart         time.Time
	WindowTotal         int
	WindowFailures      int
	ConsecutiveFailures int
	LastFailures        []Failure
	// Pending (read without a lock only): the tenant has messages kept
	// before the breaker last changed state that the releaser will still
	// put back. Not stored.
	Pending bool
}

// Outcome is the result of one verified message, for Record.
type Outcome struct {
	// JobID identifies the message (its queue message id).
	JobID string
	// Trial is true if the message ran as its breaker's half-open trial.
	Trial bool
	// Failed is true for a permanent failure; Reason is its code.
	Failed bool
	Reason string
	// Transient is true for a failure that will be retried (not counted).
	Transient bool
}

// Transition names a change of a breaker's state (the audit action is
// "breaker.<transition>", the metric label the transition).
type Transition string

// Transitions.
const (
	NoChange Transition = ""
	Trip     Transition = "trip"
	Reopen   Transition = "reopen"
	Close    Transition = "close"
	Pause    Transition = "pause"
	Resume   Transition = "resume"
	Release  Transition = "release"
	Park     Transition = "park"
	Refuse   Transition = "refuse"
	// halfOpen: an open breaker's retry time came and a message became its
	// trial (metrics only: no audit event).
	halfOpen Transition = "half_open"
)

// record applies o to r at now under cfg and returns the new row, the
// transition (if any) and its reason. It is pure: the decision table of
// the breaker.
func record(r row, o Outcome, cfg Config, now time.Time) (row, Transition, string) {
	if o.Transient {
		if o.Trial && r.State == HalfOpen && r.TrialJob == o.JobID {
			// Not a verdict: another message (or this one, retried) may be the trial.
			r.TrialJob, r.TrialUntil = "", nil
		}
		return r, NoChange, ""
	}
	if now.Sub(r.WindowStart) >= cfg.Window {
		r.WindowStart, r.WindowTotal, r.WindowFailures = now, 0, 0
	}
	r.WindowTotal++
	if o.Failed {
		r.WindowFailures++
		r.ConsecutiveFailures++
		r.LastFailures = append(r.LastFailures, Failure{At: now, Reason: o.Reason, JobID: o.JobID})
		if n := len(r.LastFailures); n > maxLastFailures {
			r.LastFailures = append([]Failure(nil), r.LastFailures[n-maxLastFailures:]...)
		}
	} else {
		r.ConsecutiveFailures = 0
	}
	trial := o.Trial && r.State == HalfOpen && r.TrialJob == o.JobID
	switch {
	case trial && !o.Failed:
		r = closed(r)
		return r, Close, "trial succeeded"
	case trial && o.Failed:
		reason := "trial failed: " + o.Reason
		return opened(r, now, cfg, reason), Reopen, reason
	case r.State != Closed:
		return r, NoChange, ""
	case r.ConsecutiveFailures >= cfg.ConsecutiveFailures:
		reason := fmt.Sprintf("%d consecutive permanent failures (last: %s)", r.ConsecutiveFailures, o.Reason)
		return opened(r, now, cfg, reason), Trip, reason
	case r.WindowTotal >= cfg.MinSamples && float64(r.WindowFailures) >= cfg.FailureRatio*float64(r.WindowTotal):
		reason := fmt.Sprintf("%d of %d failed within %s (last: %s)", r.WindowFailures, r.WindowTotal, cfg.Window, o.Reason)
		return opened(r, now, cfg, reason), Trip, reason
	}
	return r, NoChange, ""
}

func opened(r row, now time.Time, cfg Config, reason string) row {
	retry := now.Add(cfg.OpenFor)
	r.State, r.Manual, r.Reason, r.RetryAt = Open, false, clip(reason, 256), &retry
	r.TrialJob, r.TrialUntil = "", nil
	return r
}

func closed(r row) row {
	r.State, r.Manual, r.RetryAt, r.TrialJob, r.TrialUntil = Closed, false, nil, "", nil
	r.WindowTotal, r.WindowFailures, r.ConsecutiveFailures = 0, 0, 0
	return r
}

// Decision is what Admit, Guard or AdmitTask says about one verified
// message or task.
type Decision struct {
	// Park is true if the message must be parked; Reason says why (the
	// breaker's reason).
	Park   bool
	Reason string
	// Trial is true if the message runs as the half-open trial: pass it to
	// Record in the Outcome.
	Trial bool
	// HalfOpened is true if this admission turned an open breaker half-open.
	HalfOpened bool
	// Kept is set by Guard when it kept the message instead of letting it
	// run: "parked" (the breaker is open) or ReasonDeferred.
	Kept string
}

// admit decides about a message (jobID; releasedSeq is the seq of the
// parked row it was released from, "" if none) given the breaker row.
func admit(r row, jobID, releasedSeq string, cfg Config, now time.Time) (row, Decision) {
	switch r.State {
	case Open:
		if r.Manual || r.RetryAt == nil || now.Before(*r.RetryAt) {
			return r, Decision{Park: true, Reason: r.Reason}
		}
		r.State = HalfOpen
		r.TrialJob, r.TrialUntil = "", nil
		r, d := admit(r, jobID, releasedSeq, cfg, now)
		d.HalfOpened = true
		return r, d
	case HalfOpen:
		// The trial's own job asking again (a redelivery, or the next task
		// of a Step Functions execution that is the trial) goes on as the
		// trial; another job waits until the trial is settled or expires.
		free := r.TrialJob == "" || r.TrialUntil == nil || !now.Before(*r.TrialUntil) || r.TrialJob == jobID ||
			(releasedSeq != "" && r.TrialJob == releaseTrial(releasedSeq))
		if !free {
			return r, Decision{Park: true, Reason: r.Reason}
		}
		until := now.Add(cfg.TrialTimeout)
		r.TrialJob, r.TrialUntil = jobID, &until
		return r, Decision{Trial: true}
	}
	return r, Decision{}
}

// releaseTrial is the trial claim the releaser takes for the parked row it
// sends as a half-open breaker's trial.
func releaseTrial(seq string) string { return "release:" + seq }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
