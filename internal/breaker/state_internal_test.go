package breaker

import (
	"errors"
	"testing"
	"time"

	"github.com/tenantry/tenantry/worker"
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
		{"half-open, the trial's own job again: still the trial", row{State: HalfOpen, TrialJob: "m", TrialUntil: ptr(t0.Add(time.Second))}, "m", "", false, true, false},
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

// TestDecide: the one decision Admit, AdmitTask (mode{}) and Guard
// (mode{keep: true}) share, from the breaker rows it reads.
func TestDecide(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	admitOnly, guard, backlogged := mode{}, mode{keep: true}, mode{keep: true, backlogged: true}
	paused := row{State: Open, Manual: true, Reason: "maintenance"}
	tripped := row{State: Open, Reason: "3 consecutive", RetryAt: ptr(t0.Add(time.Second))}
	due := row{State: Open, Reason: "3 consecutive", RetryAt: ptr(t0)}
	taken := row{State: HalfOpen, Reason: "3 consecutive", TrialJob: "x", TrialUntil: ptr(t0.Add(time.Second))}
	pending := row{State: Closed, Pending: true}
	for _, tc := range []struct {
		name     string
		md       mode
		unlocked row  // the first read, without the lock
		found    bool // the tenant has a breaker row
		locked   *row // the second read, under the lock (nil: the same row)
		released bool // the message was released from a parked row
		want     Decision
		keep     string
		saved    State // the state written ("": nothing written)
		reads    int
	}{
		{name: "no breaker row: runs", md: guard, unlocked: row{State: Closed}, want: Decision{}, reads: 1},
		{name: "closed: runs on one read", md: guard, unlocked: row{State: Closed}, found: true, reads: 1},
		{name: "closed, backlogged: Guard defers", md: backlogged, unlocked: row{State: Closed}, found: true,
			want: Decision{Kept: ReasonDeferred}, keep: ReasonDeferred, reads: 1},
		{name: "closed, backlogged: Admit runs", md: admitOnly, unlocked: row{State: Closed}, found: true, reads: 1},
		{name: "closed with parked work pending: a new message is deferred behind it", md: guard, unlocked: pending, found: true,
			want: Decision{Kept: ReasonDeferred}, keep: ReasonDeferred, reads: 1},
		{name: "closed with parked work pending: a released message runs", md: guard, unlocked: pending, found: true, released: true, reads: 1},
		{name: "closed with parked work pending: Admit runs", md: admitOnly, unlocked: pending, found: true, reads: 1},
		{name: "paused: Admit says park, keeps nothing", md: admitOnly, unlocked: paused, found: true,
			want: Decision{Park: true, Reason: "maintenance"}, reads: 2},
		{name: "paused: Guard parks", md: guard, unlocked: paused, found: true,
			want: Decision{Park: true, Reason: "maintenance", Kept: "parked"}, keep: "maintenance", reads: 2},
		{name: "paused: a released message is parked again", md: guard, unlocked: paused, found: true, released: true,
			want: Decision{Park: true, Reason: "maintenance", Kept: "parked"}, keep: "maintenance", reads: 2},
		{name: "tripped, before its retry time: parks", md: guard, unlocked: tripped, found: true,
			want: Decision{Park: true, Reason: "3 consecutive", Kept: "parked"}, keep: "3 consecutive", reads: 2},
		{name: "tripped, retry time come: the trial, written", md: admitOnly, unlocked: due, found: true,
			want: Decision{Trial: true, HalfOpened: true}, saved: HalfOpen, reads: 2},
		{name: "a trial is never deferred", md: backlogged, unlocked: due, found: true,
			want: Decision{Trial: true, HalfOpened: true}, saved: HalfOpen, reads: 2},
		{name: "half-open, trial taken: Admit says park", md: admitOnly, unlocked: taken, found: true,
			want: Decision{Park: true, Reason: "3 consecutive"}, reads: 2},
		{name: "half-open, trial taken: Guard parks", md: guard, unlocked: taken, found: true,
			want: Decision{Park: true, Reason: "3 consecutive", Kept: "parked"}, keep: "3 consecutive", reads: 2},
		{name: "closed by another worker between the reads: runs, writes nothing", md: guard, unlocked: paused, found: true,
			locked: &row{State: Closed}, reads: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reads := 0
			read := func(lock bool) (row, bool, time.Time, error) {
				reads++
				if lock != (reads == 2) {
					t.Errorf("read %d: lock %v", reads, lock)
				}
				if lock && tc.locked != nil {
					return *tc.locked, true, t0, nil
				}
				return tc.unlocked, tc.found, t0, nil
			}
			m := &worker.Message{ID: "m", Attributes: map[string]string{}}
			if tc.released {
				m.Attributes[AttrReleasedSeq] = "7"
			}
			p, err := decide(read, m, tc.md, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if p.d != tc.want || p.keep != tc.keep || reads != tc.reads {
				t.Errorf("got %+v, keep %q, %d reads; want %+v, keep %q, %d reads", p.d, p.keep, reads, tc.want, tc.keep, tc.reads)
			}
			switch {
			case tc.saved == "" && p.save != nil:
				t.Errorf("writes %+v", *p.save)
			case tc.saved != "" && (p.save == nil || p.save.State != tc.saved || p.save.TrialJob != "m"):
				t.Errorf("writes %+v, want state %s with the trial claimed by m", p.save, tc.saved)
			}
			if p.save != nil && p.seen.State != p.save.State {
				t.Errorf("seen %s, written %s", p.seen.State, p.save.State)
			}
		})
	}
	if _, err := decide(func(bool) (row, bool, time.Time, error) { return row{}, false, t0, errTest }, &worker.Message{}, guard, cfg); !errors.Is(err, errTest) {
		t.Errorf("a failed read: %v", err)
	}
}

var errTest = errors.New("read failed")
