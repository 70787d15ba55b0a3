package breaker

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{Window: time.Minute, MinSamples: 4, FailureRatio: 0.5, ConsecutiveFailures: 3, OpenFor: 30 * time.Second,
		TrialTimeout: time.Minute}.WithDefaults()
}

func ptr(t time.Time) *time.Time { return &t }

func TestRecordDecisions(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	fail := Outcome{JobID: "m", Failed: true, Reason: "extract_failed"}
	ok := Outcome{JobID: "m"}
	closedRow := row{State: Closed, WindowStart: t0}
	for _, tc := range []struct {
		name     string
		r        row
		outcomes []Outcome
		at       time.Time
		want     Transition
		state    State
	}{
		{"one failure does not trip", closedRow, []Outcome{fail}, t0, NoChange, Closed},
		{"consecutive failures trip", closedRow, []Outcome{fail, fail, fail}, t0, Trip, Open},
		{"a success resets the run", closedRow, []Outcome{ok, ok, ok, ok, fail, fail, ok, fail, fail}, t0, NoChange, Closed},
		{"ratio trips at min samples", closedRow, []Outcome{ok, fail, ok, fail}, t0, Trip, Open},
		{"ratio below min samples does not trip", closedRow, []Outcome{ok, fail, fail}, t0, NoChange, Closed},
		{"transient failures never count", closedRow, []Outcome{{Transient: true}, {Transient: true}, {Transient: true}, {Transient: true}}, t0, NoChange, Closed},
		{"a new window forgets the old", row{State: Closed, WindowStart: t0.Add(-2 * time.Minute), WindowTotal: 100, WindowFailures: 49},
			[]Outcome{fail}, t0, NoChange, Closed},
		{"the trial's success closes", row{State: HalfOpen, TrialJob: "m", TrialUntil: ptr(t0.Add(time.Minute)), WindowStart: t0},
			[]Outcome{{JobID: "m", Trial: true}}, t0, Close, Closed},
		{"the trial's failure re-opens", row{State: HalfOpen, TrialJob: "m", TrialUntil: ptr(t0.Add(time.Minute)), WindowStart: t0},
			[]Outcome{{JobID: "m", Trial: true, Failed: true, Reason: "x"}}, t0, Reopen, Open},
		{"another job's outcome is no verdict on the trial", row{State: HalfOpen, TrialJob: "other", WindowStart: t0},
			[]Outcome{{JobID: "m", Trial: true}}, t0, NoChange, HalfOpen},
		{"an open breaker does not trip again", row{State: Open, Manual: true, WindowStart: t0},
			[]Outcome{fail, fail, fail}, t0, NoChange, Open},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, last := tc.r, NoChange
			for _, o := range tc.outcomes {
				var tr Transition
				r, tr, _ = record(r, o, cfg, tc.at)
				if tr != NoChange {
					last = tr
				}
			}
			if last != tc.want || r.State != tc.state {
				t.Errorf("got %q, state %s; want %q, state %s", last, r.State, tc.want, tc.state)
			}
			if r.State == Open && !r.Manual && (r.RetryAt == nil || !r.RetryAt.Equal(tc.at.Add(cfg.OpenFor))) {
				t.Errorf("retry at %v, want %v", r.RetryAt, tc.at.Add(cfg.OpenFor))
			}
			if len(r.LastFailures) > maxLastFailures {
				t.Errorf("%d last failures kept", len(r.LastFailures))
			}
		})
	}
}

func TestTransientTrialFreesTheClaim(t *testing.T) {
	t.Parallel()
	r := row{State: HalfOpen, TrialJob: "m", TrialUntil: ptr(t0.Add(time.Minute))}
	r, tr, _ := record(r, Outcome{JobID: "m", Trial: true, Transient: true}, testConfig(), t0)
	if tr != NoChange || r.State != HalfOpen || r.TrialJob != "" {
		t.Errorf("got %q %s claim %q", tr, r.State, r.TrialJob)
	}
}

func TestAdmitDecisions(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	for _, tc := range []struct {
		name     string
		r        row
		job, seq string
		park     bool
		trial    bool
		half     bool
	}{
		{"closed runs", row{State: Closed}, "m", "", false, false, false},
		{"paused parks", row{State: Open, Manual: true, Reason: "maintenance"}, "m", "", true, false, false},
		{"paused parks a released message too", row{State: Open, Manual: true}, "m", "7", true, false, false},
		{"tripped parks until its retry time", row{State: Open, RetryAt: ptr(t0.Add(time.Second))}, "m", "", true, false, false},
		{"tripped, retry time come: the trial", row{State: Open, RetryAt: ptr(t0)}, "m", "", false, true, true},
		{"half-open, trial in flight: parks", row{State: HalfOpen, TrialJob: "x", TrialUntil: ptr(t0.Add(time.Second))}, "m", "", true, false, false},
		{"half-open, trial claim expired: the trial", row{State: HalfOpen, TrialJob: "x", TrialUntil: ptr(t0)}, "m", "", false, true, false},
		{"half-open, the releaser's trial arrives", row{State: HalfOpen, TrialJob: releaseTrial("7"), TrialUntil: ptr(t0.Add(time.Second))}, "m", "7", false, true, false},
		{"half-open, another released message: parks", row{State: HalfOpen, TrialJob: releaseTrial("7"), TrialUntil: ptr(t0.Add(time.Second))}, "m", "8", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, d := admit(tc.r, tc.job, tc.seq, cfg, t0)
			if d.Park != tc.park || d.Trial != tc.trial || d.HalfOpened != tc.half {
				t.Errorf("got %+v", d)
			}
			if d.Trial && (r.State != HalfOpen || r.TrialJob != tc.job || r.TrialUntil == nil) {
				t.Errorf("trial not claimed: %+v", r)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{FailureRatio: 1.5}, {FailureRatio: -1}, {MinSamples: -1}, {ConsecutiveFailures: -2}, {Window: -time.Second},
		{OpenFor: -1}, {ReleaseRate: -1}, {Lease: 2 * time.Hour}, {PollInterval: -1}, {TrialTimeout: -1},
	} {
		if err := c.WithDefaults().validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (Config{}).WithDefaults().validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}
