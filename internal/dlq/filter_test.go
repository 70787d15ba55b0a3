package dlq_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dlq"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	msg := dlq.Message{ID: "m1", OriginalID: "o1", Verified: true, Tenant: a, Reason: "handler_failed", Stage: "embed", Age: time.Hour}
	unverified := dlq.Message{ID: "m2", Tenant: a, Reason: "bad_signature", Stage: "envelope", Age: time.Hour} // Tenant set but not verified
	for _, tc := range []struct {
		name   string
		f      dlq.Filter
		m      dlq.Message
		want   bool
		reject bool // Validate must fail
	}{
		{name: "empty matches", m: msg, want: true},
		{name: "tenant", f: dlq.Filter{Tenants: []uuid.UUID{b, a}}, m: msg, want: true},
		{name: "other tenant", f: dlq.Filter{Tenants: []uuid.UUID{b}}, m: msg},
		{name: "unverified never matches a tenant", f: dlq.Filter{Tenants: []uuid.UUID{a}}, m: unverified},
		{name: "reason", f: dlq.Filter{Reasons: []string{"handler_failed"}}, m: msg, want: true},
		{name: "other reason", f: dlq.Filter{Reasons: []string{"max_receives"}}, m: msg},
		{name: "stage", f: dlq.Filter{Stages: []string{"embed"}}, m: msg, want: true},
		{name: "other stage", f: dlq.Filter{Stages: []string{"store"}}, m: msg},
		{name: "min age", f: dlq.Filter{MinAge: 30 * time.Minute}, m: msg, want: true},
		{name: "too young", f: dlq.Filter{MinAge: 2 * time.Hour}, m: msg},
		{name: "max age", f: dlq.Filter{MaxAge: 2 * time.Hour}, m: msg, want: true},
		{name: "too old", f: dlq.Filter{MaxAge: 30 * time.Minute}, m: msg},
		{name: "id", f: dlq.Filter{IDs: []string{"m1"}}, m: msg, want: true},
		{name: "original id", f: dlq.Filter{IDs: []string{"o1"}}, m: msg, want: true},
		{name: "other id", f: dlq.Filter{IDs: []string{"m9"}}, m: msg},
		{name: "all fields", f: dlq.Filter{Tenants: []uuid.UUID{a}, Reasons: []string{"handler_failed"}, Stages: []string{"embed"},
			MinAge: time.Minute, MaxAge: 2 * time.Hour, IDs: []string{"m1"}}, m: msg, want: true},
		{name: "negative age", f: dlq.Filter{MinAge: -time.Second}, reject: true},
		{name: "min above max", f: dlq.Filter{MinAge: 2 * time.Hour, MaxAge: time.Hour}, reject: true},
		{name: "nil tenant", f: dlq.Filter{Tenants: []uuid.UUID{uuid.Nil}}, reject: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.f.Validate()
			if tc.reject {
				if !errors.Is(err, dlq.ErrInvalidConfig) {
					t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.f.Match(tc.m); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	api := sqsClientOrNil()
	res := &dlq.EnvelopeResolver{}
	for _, tc := range []struct {
		name string
		cfg  dlq.ReplayConfig
		gw   dlq.Gateway
	}{
		{name: "no DLQ", cfg: dlq.ReplayConfig{Reason: "r", Actor: "a", DryRun: true}},
		{name: "no reason", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Actor: "a", DryRun: true}},
		{name: "reason too long", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Actor: "a", DryRun: true, Reason: string(make([]byte, 300))}},
		{name: "no actor", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Reason: "r", DryRun: true}},
		{name: "target is the DLQ", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", TargetURL: "https://q/d", Reason: "r", Actor: "a", DryRun: true}},
		{name: "negative rate", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Reason: "r", Actor: "a", DryRun: true, Rate: -1}},
		{name: "max replays too high", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Reason: "r", Actor: "a", DryRun: true, MaxReplays: 1000}},
		{name: "no gateway for a real replay", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Reason: "r", Actor: "a"}},
		{name: "bad filter", cfg: dlq.ReplayConfig{DLQURL: "https://q/d", Reason: "r", Actor: "a", DryRun: true, Filter: dlq.Filter{MinAge: -1}}},
	} {
		if _, err := dlq.NewReplayer(tc.cfg, api, res, tc.gw, nil); !errors.Is(err, dlq.ErrInvalidConfig) {
			t.Errorf("%s: NewReplayer = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  dlq.InspectConfig
	}{
		{name: "no queue", cfg: dlq.InspectConfig{}},
		{name: "limit", cfg: dlq.InspectConfig{QueueURL: "https://q/d", Limit: -1}},
		{name: "visibility", cfg: dlq.InspectConfig{QueueURL: "https://q/d", VisibilityTimeout: time.Millisecond}},
		{name: "wait", cfg: dlq.InspectConfig{QueueURL: "https://q/d", WaitTime: time.Minute}},
	} {
		if _, err := dlq.NewInspector(tc.cfg, api, res, nil); !errors.Is(err, dlq.ErrInvalidConfig) {
			t.Errorf("%s: NewInspector = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	if _, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: "https://q/d"}, api, nil, nil); !errors.Is(err, dlq.ErrInvalidConfig) {
		t.Errorf("NewInspector without a resolver = %v", err)
	}
}

func TestOperatorActor(t *testing.T) {
	t.Parallel()
	if got, err := dlq.OperatorActor("alice@ops"); err != nil || got != "alice@ops" {
		t.Fatalf("given actor: %q, %v", got, err)
	}
	// Without one, the operating system user (CI runs as root).
	if got, err := dlq.OperatorActor(""); err != nil || got == "" {
		t.Fatalf("default actor: %q, %v", got, err)
	}
}
