package sfnctl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/sfnctl"
	"github.com/tenantry/tenantry/statemachine"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

func TestExecutionName(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	tests := []struct {
		name     string
		x, y     string
		wantSame bool
	}{
		{"same upload, same name", sfnctl.ExecutionName(a, "doc", "v1"), sfnctl.ExecutionName(a, "doc", "v1"), true},
		{"another version", sfnctl.ExecutionName(a, "doc", "v1"), sfnctl.ExecutionName(a, "doc", "v2"), false},
		{"another document", sfnctl.ExecutionName(a, "doc", "v1"), sfnctl.ExecutionName(a, "doc2", "v1"), false},
		{"another tenant", sfnctl.ExecutionName(b, "doc", "v1"), sfnctl.ExecutionName(a, "doc", "v1"), false},
		{"no ambiguity across fields", sfnctl.ExecutionName(a, "do", "cv1"), sfnctl.ExecutionName(a, "doc", "v1"), false},
	}
	for _, tc := range tests {
		if (tc.x == tc.y) != tc.wantSame {
			t.Errorf("%s: %s vs %s", tc.name, tc.x, tc.y)
		}
		for _, n := range []string{tc.x, tc.y} {
			if !nameRE.MatchString(n) {
				t.Errorf("%s: %q is not a valid execution name", tc.name, n)
			}
		}
		if got, ok := sfnctl.TenantOfExecution(tc.y); !ok || got != a {
			t.Errorf("%s: tenant of %s = %v, %v", tc.name, tc.y, got, ok)
		}
	}
	for _, n := range []string{"", "0b8f6a4e-2c1d-4d0e-9f55-7a3c2b1e0d9c", "a0c37f3e-6c0a-4c1e-9f3d-3e1b1c0f5f5a_x", strings.Repeat("x", 77)} {
		if _, ok := sfnctl.TenantOfExecution(n); ok {
			t.Errorf("TenantOfExecution(%q) ok", n)
		}
	}
}

type fixture struct {
	kit  *envelopetest.Kit
	sfn  *fakeSFN
	s3   *fakeS3
	ctl  *sfnctl.Controller
	sqs  *fakeSQS
	tid  uuid.UUID
	key  string
	bkt  string
	good string
}

func newFixture(t *testing.T, records ...string) *fixture {
	t.Helper()
	f := &fixture{kit: envelopetest.New(t), sfn: &fakeSFN{}, tid: uuid.New(), bkt: "uploads"}
	f.key = f.tid.String() + "/doc-1/notes.md"
	f.good = f.kit.Object(t, f.tid, f.bkt, f.key)
	f.s3 = &fakeS3{objects: map[string]map[string]string{
		f.bkt + "/" + f.key:                         {objects.EnvelopeMetaKey: f.good},
		f.bkt + "/" + f.tid.String() + "/bare/x.md": {},
	}}
	f.sqs = newFakeSQS(records...)
	var err error
	f.ctl, err = sfnctl.New(sfnctl.Config{StateMachineARN: machine, RatePerSecond: 1000},
		sfnctl.Deps{SFN: f.sfn, Gate: &binding.Resolver{Verifier: f.kit.Verifier(t), Objects: objects.New(f.s3)}, SQS: f.sqs})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	st, err := f.ctl.Start(ctx, sfnctl.StartRequest{Bucket: f.bkt, Key: f.key})
	if err != nil {
		t.Fatal(err)
	}
	if st.Duplicate || st.Tenant != f.tid || st.Name != sfnctl.ExecutionName(f.tid, "doc-1", "v1") {
		t.Fatalf("started %+v", st)
	}
	in, err := statemachine.ParseInput([]byte(aws.ToString(f.sfn.started[0].Input)))
	if err != nil || in.Bucket != f.bkt || in.Key != f.key || in.VersionID != "v1" || in.Envelope != f.good {
		t.Fatalf("input %+v, %v", in, err)
	}
	// The same upload again: Step Functions refuses the name.
	again, err := f.ctl.Start(ctx, sfnctl.StartRequest{Bucket: f.bkt, Key: f.key})
	if err != nil || !again.Duplicate || again.ExecutionARN != st.ExecutionARN {
		t.Fatalf("second start %+v, %v", again, err)
	}
	// A deliberate rerun gets its own name, once.
	rerun, err := f.ctl.Start(ctx, sfnctl.StartRequest{Bucket: f.bkt, Key: f.key, Rerun: "pdf-support"})
	if err != nil || rerun.Duplicate || rerun.Name == st.Name {
		t.Fatalf("rerun %+v, %v", rerun, err)
	}
	if len(f.sfn.started) != 2 {
		t.Errorf("%d executions started, want 2", len(f.sfn.started))
	}
}

// Start refuses objects whose envelope does not verify: the name (and the
// tenant it holds) only ever comes from a signature.
func TestStartRefusesUnverifiedObjects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := uuid.New()
	f.s3.objects[f.bkt+"/"+f.tid.String()+"/forged/x.md"] = map[string]string{
		objects.EnvelopeMetaKey: f.kit.SignWith(t, f.kit.Stranger, f.kit.ObjectClaims(f.tid, f.bkt, f.tid.String()+"/forged/x.md")),
	}
	f.s3.objects[f.bkt+"/"+f.tid.String()+"/borrowed/x.md"] = map[string]string{
		objects.EnvelopeMetaKey: f.kit.Object(t, other, f.bkt, other.String()+"/mine/x.md"),
	}
	tests := []struct {
		key    string
		reason string
		is     error
	}{
		{f.tid.String() + "/forged/x.md", string(envelope.ReasonUnknownKey), nil},
		{f.tid.String() + "/borrowed/x.md", string(envelope.ReasonBindingMismatch), nil},
		{f.tid.String() + "/bare/x.md", "", sfnctl.ErrNoEnvelope},
		{f.tid.String() + "/missing/x.md", "", nil},
	}
	for _, tc := range tests {
		_, err := f.ctl.Start(context.Background(), sfnctl.StartRequest{Bucket: f.bkt, Key: tc.key})
		switch {
		case err == nil:
			t.Errorf("%s: started", tc.key)
		case tc.reason != "" && envelope.ReasonOf(err) != tc.reason:
			t.Errorf("%s: %v, want reason %s", tc.key, err, tc.reason)
		case tc.is != nil && !errors.Is(err, tc.is):
			t.Errorf("%s: %v, want %v", tc.key, err, tc.is)
		}
	}
	if len(f.sfn.started) != 0 {
		t.Errorf("%d executions started for unverified objects", len(f.sfn.started))
	}
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a, b := uuid.New(), uuid.New()
	input := func(tenant uuid.UUID) string {
		return statemachine.Input{Bucket: "uploads", Key: tenant.String() + "/d/f.md"}.JSON()
	}
	seed := func(s *fakeSFN) {
		s.executions = []*fakeExecution{
			{name: sfnctl.ExecutionName(a, "d1", "v"), errName: "Tenantry.Transient", status: types.ExecutionStatusFailed, stop: now.Add(-time.Hour), redrivable: true},
			{name: sfnctl.ExecutionName(b, "d2", "v"), errName: "Tenantry.Transient", status: types.ExecutionStatusFailed, stop: now.Add(-2 * time.Hour), redrivable: true},
			{name: sfnctl.ExecutionName(a, "d3", "v"), errName: "Tenantry.Permanent", status: types.ExecutionStatusFailed, stop: now.Add(-3 * time.Hour), redrivable: true},
			{name: sfnctl.ExecutionName(a, "d4", "v"), errName: "States.Timeout", status: types.ExecutionStatusTimedOut, stop: now.Add(-4 * time.Hour), redrivable: true},
			{name: "5c1d2b0e-eventbridge-random", input: input(b), errName: "Tenantry.Throttled", status: types.ExecutionStatusFailed, stop: now.Add(-5 * time.Hour), redrivable: true},
			{name: sfnctl.ExecutionName(a, "d6", "v"), errName: "Tenantry.Transient", status: types.ExecutionStatusFailed, stop: now.Add(-20 * 24 * time.Hour), redrivable: false},
			{name: sfnctl.ExecutionName(a, "d7", "v"), errName: "Tenantry.Transient", status: types.ExecutionStatusFailed, stop: now.Add(-6 * time.Hour), redrivable: false},
			{name: sfnctl.ExecutionName(a, "d8", "v"), status: types.ExecutionStatusSucceeded, stop: now.Add(-time.Minute)},
		}
	}
	tests := []struct {
		name   string
		filter sfnctl.Filter
		want   map[string]sfnctl.Action // by document of the name (or the random name)
	}{
		{"default: every redrivable error, both statuses", sfnctl.Filter{}, map[string]sfnctl.Action{
			"d1": sfnctl.ActionRedriven, "d2": sfnctl.ActionRedriven, "d4": sfnctl.ActionRedriven,
			"eventbridge": sfnctl.ActionRedriven, "d7": sfnctl.ActionNotRedrivable}},
		{"one tenant (by name, and by key for EventBridge names)", sfnctl.Filter{Tenant: b}, map[string]sfnctl.Action{
			"d2": sfnctl.ActionRedriven, "eventbridge": sfnctl.ActionRedriven}},
		{"by error, permanent included on request", sfnctl.Filter{Errors: []string{"Tenantry.Permanent"}}, map[string]sfnctl.Action{
			"d3": sfnctl.ActionRedriven}},
		{"time window", sfnctl.Filter{Since: now.Add(-150 * time.Minute), Until: now.Add(-30 * time.Minute)}, map[string]sfnctl.Action{
			"d1": sfnctl.ActionRedriven, "d2": sfnctl.ActionRedriven}},
		{"dry run", sfnctl.Filter{Tenant: a, Errors: []string{"Tenantry.Transient"}, DryRun: true}, map[string]sfnctl.Action{
			"d1": sfnctl.ActionWould, "d7": sfnctl.ActionNotRedrivable}},
		{"limit", sfnctl.Filter{Limit: 1}, map[string]sfnctl.Action{"d1": sfnctl.ActionRedriven}},
		{"only FAILED", sfnctl.Filter{Statuses: []types.ExecutionStatus{types.ExecutionStatusTimedOut}}, map[string]sfnctl.Action{
			"d4": sfnctl.ActionRedriven}},
	}
	docOf := map[string]string{}
	for _, n := range []string{"d1", "d2", "d3", "d4", "d6", "d7", "d8"} {
		for _, tnt := range []uuid.UUID{a, b} {
			docOf[sfnctl.ExecutionName(tnt, n, "v")] = n
		}
	}
	docOf["5c1d2b0e-eventbridge-random"] = "eventbridge"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			seed(f.sfn)
			got := map[string]sfnctl.Action{}
			sum, err := f.ctl.Redrive(context.Background(), tc.filter, func(o sfnctl.Outcome) { got[docOf[o.Name]] = o.Action })
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if sum.Selected != len(tc.want) {
				t.Errorf("summary %+v", sum)
			}
			if tc.filter.DryRun && len(f.sfn.redrives) != 0 {
				t.Errorf("a dry run redrove %d executions", len(f.sfn.redrives))
			}
		})
	}
}

// Redriving twice does not redrive twice: the client token is derived from
// the execution and its redrive count, and a redriven execution is running.
func TestRedriveIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	name := sfnctl.ExecutionName(f.tid, "d", "v")
	f.sfn.executions = []*fakeExecution{{name: name, errName: "Tenantry.Transient", status: types.ExecutionStatusFailed, stop: time.Now(), redrivable: true}}
	for i := 0; i < 2; i++ {
		if _, err := f.ctl.Redrive(context.Background(), sfnctl.Filter{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.sfn.redrives) != 1 || len(f.sfn.redrives[0]) != 64 {
		t.Fatalf("redrives %v", f.sfn.redrives)
	}
}

func record(t *testing.T, in statemachine.Input, errName, execution string, started time.Time) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"execution": execution, "executionArn": "arn:aws:states:us-east-1:123456789012:express:tenantry-express:" + execution + ":x",
		"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:tenantry-express", "startedAt": started.UTC().Format(time.RFC3339Nano),
		"input": json.RawMessage(in.JSON()), "failure": map[string]string{"Error": errName, "Cause": `{"stage":"embed","reason":"transient"}`},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReplay(t *testing.T) {
	t.Parallel()
	now := time.Now()
	build := func(t *testing.T) (*fixture, []string) {
		f := newFixture(t)
		good := statemachine.Input{Bucket: f.bkt, Key: f.key}
		forgedKey := f.tid.String() + "/forged/x.md"
		forged := statemachine.Input{Bucket: f.bkt, Key: forgedKey,
			Envelope: f.kit.SignWith(t, f.kit.Stranger, f.kit.ObjectClaims(f.tid, f.bkt, forgedKey))}
		f.s3.objects[f.bkt+"/"+forgedKey] = map[string]string{}
		recs := []string{
			record(t, good, "Tenantry.Transient", "e1", now.Add(-time.Hour)),
			record(t, good, "Tenantry.Permanent", "e2", now.Add(-time.Hour)),
			record(t, forged, "Tenantry.Transient", "e3", now.Add(-time.Hour)),
			`{"not":"a record"}`,
			record(t, good, "Tenantry.Throttled", "e5", now.Add(-48*time.Hour)),
		}
		f.sqs = newFakeSQS(recs...)
		var err error
		f.ctl, err = sfnctl.New(sfnctl.Config{StateMachineARN: machine, RatePerSecond: 1000},
			sfnctl.Deps{SFN: f.sfn, Gate: &binding.Resolver{Verifier: f.kit.Verifier(t), Objects: objects.New(f.s3)}, SQS: f.sqs})
		if err != nil {
			t.Fatal(err)
		}
		return f, recs
	}
	tests := []struct {
		name        string
		filter      sfnctl.Filter
		want        map[string]sfnctl.Action
		wantDeleted []string
	}{
		{"default", sfnctl.Filter{}, map[string]sfnctl.Action{
			"e1": sfnctl.ActionReplayed, "e3": sfnctl.ActionSkipped, "": sfnctl.ActionSkipped, "e5": sfnctl.ActionReplayed}, []string{"h00", "h04"}},
		{"recent only", sfnctl.Filter{Since: now.Add(-2 * time.Hour)}, map[string]sfnctl.Action{
			"e1": sfnctl.ActionReplayed, "e3": sfnctl.ActionSkipped, "": sfnctl.ActionSkipped}, []string{"h00"}},
		{"permanent on request", sfnctl.Filter{Errors: []string{"Tenantry.Permanent"}}, map[string]sfnctl.Action{
			"e2": sfnctl.ActionReplayed}, []string{"h01"}},
		{"another tenant", sfnctl.Filter{Tenant: uuid.New()}, map[string]sfnctl.Action{}, nil},
		{"dry run", sfnctl.Filter{DryRun: true, Errors: []string{"Tenantry.Transient"}}, map[string]sfnctl.Action{
			"e1": sfnctl.ActionWould, "e3": sfnctl.ActionSkipped}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, recs := build(t)
			got := map[string]sfnctl.Action{}
			if _, err := f.ctl.Replay(context.Background(), "queue", tc.filter, func(o sfnctl.Outcome) { got[o.Name] = o.Action }); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			slices.Sort(f.sqs.deleted)
			if len(f.sqs.deleted)+len(tc.wantDeleted) > 0 && fmt.Sprint(f.sqs.deleted) != fmt.Sprint(tc.wantDeleted) {
				t.Errorf("deleted %v, want %v", f.sqs.deleted, tc.wantDeleted)
			}
			if left := len(recs) - len(f.sqs.deleted); len(f.sqs.released) != left {
				t.Errorf("released %d records, want the %d left", len(f.sqs.released), left)
			}
			for _, in := range f.sfn.started {
				if !strings.Contains(aws.ToString(in.Input), f.key) {
					t.Errorf("replayed input %s", aws.ToString(in.Input))
				}
				if tnt, ok := sfnctl.TenantOfExecution(aws.ToString(in.Name)); !ok || tnt != f.tid {
					t.Errorf("replay name %s", aws.ToString(in.Name))
				}
			}
		})
	}
}

// Replaying the same record twice (it was replayed, then not deleted)
// starts one execution.
func TestReplayIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := record(t, statemachine.Input{Bucket: f.bkt, Key: f.key}, "Tenantry.Transient", "e1", time.Now())
	var actions []sfnctl.Action
	for i := 0; i < 2; i++ {
		f.sqs = newFakeSQS(rec)
		ctl, err := sfnctl.New(sfnctl.Config{StateMachineARN: machine, RatePerSecond: 1000}, sfnctl.Deps{SFN: f.sfn, Gate: &binding.Resolver{Verifier: f.kit.Verifier(t), Objects: objects.New(f.s3)}, SQS: f.sqs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ctl.Replay(context.Background(), "queue", sfnctl.Filter{}, func(o sfnctl.Outcome) { actions = append(actions, o.Action) }); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.sfn.started) != 1 || fmt.Sprint(actions) != fmt.Sprint([]sfnctl.Action{sfnctl.ActionReplayed, sfnctl.ActionDuplicate}) {
		t.Fatalf("started %d, actions %v", len(f.sfn.started), actions)
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []sfnctl.Config{
		{},
		{StateMachineARN: "tenantry-pipeline"},
		{StateMachineARN: machine, RatePerSecond: -1},
		{StateMachineARN: machine, ReplayVisibility: time.Second},
	} {
		if _, err := sfnctl.New(cfg, sfnctl.Deps{SFN: &fakeSFN{}}); !errors.Is(err, sfnctl.ErrInvalidConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := sfnctl.New(sfnctl.Config{StateMachineARN: machine}, sfnctl.Deps{}); !errors.Is(err, sfnctl.ErrInvalidConfig) {
		t.Errorf("nil SFN accepted: %v", err)
	}
}

func FuzzParseFailureRecord(f *testing.F) {
	in := statemachine.Input{Bucket: "b", Key: "t/d/f"}
	f.Add([]byte(`{"execution":"e","executionArn":"arn","stateMachineArn":"sm","startedAt":"2026-01-01T00:00:00Z","input":` + in.JSON() + `,"failure":{"Error":"Tenantry.Transient","Cause":"{}"}}`))
	f.Add([]byte(`{"not":"a record"}`))
	f.Add([]byte(`{"execution":"e","executionArn":"arn","input":{},"failure":{"Error":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := sfnctl.ParseFailureRecord(body)
		if err != nil {
			return
		}
		if r.ExecutionARN == "" || r.Failure.Error == "" || len(r.Input) == 0 {
			t.Fatalf("incomplete record accepted: %+v", r)
		}
	})
}

func TestFilterAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		since, until time.Duration
		wantSince    time.Time
		wantUntil    time.Time
	}{
		{0, 0, time.Time{}, time.Time{}},
		{time.Hour, 0, now.Add(-time.Hour), time.Time{}},
		{2 * time.Hour, 30 * time.Minute, now.Add(-2 * time.Hour), now.Add(-30 * time.Minute)},
	} {
		f := sfnctl.Filter{Limit: 3}.Ago(now, tc.since, tc.until)
		if !f.Since.Equal(tc.wantSince) || !f.Until.Equal(tc.wantUntil) || f.Limit != 3 {
			t.Errorf("Ago(%v, %v) = %+v", tc.since, tc.until, f)
		}
	}
}
