package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/worker"
)

type codedError struct{ code string }

func (e codedError) Error() string  { return "coded " + e.code }
func (e codedError) Reason() string { return e.code }

func TestReasonOf(t *testing.T) {
	t.Parallel()
	plain := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", plain, worker.ReasonTransient},
		{"wrapped plain", fmt.Errorf("ctx: %w", plain), worker.ReasonTransient},
		{"permanent with reason", worker.Permanent(plain, "bad_signature"), "bad_signature"},
		{"permanent reason from chain", worker.Permanent(codedError{"malformed_event"}, ""), "malformed_event"},
		{"permanent without any reason", worker.Permanent(plain, ""), worker.ReasonPermanent},
		{"permanent nil", worker.Permanent(nil, "x"), "x"},
		{"permanent reason sanitized", worker.Permanent(plain, "Bad Signature!"), "bad_signature_"},
		{"coded (outermost wins)", fmt.Errorf("a: %w", worker.Permanent(codedError{"inner"}, "outer")), "outer"},
		{"retry after", worker.RetryAfter(time.Second, plain), worker.ReasonRetryAfter},
		{"retry after with coded cause", worker.RetryAfter(time.Second, codedError{"throttled"}), "throttled"},
		{"panic", &worker.PanicError{Value: "x"}, worker.ReasonPanic},
		{"deadline", fmt.Errorf("embed: %w", context.DeadlineExceeded), worker.ReasonTimeout},
		{"handler timeout", fmt.Errorf("%w: %w", worker.ErrHandlerTimeout, context.Canceled), worker.ReasonTimeout},
		{"canceled", context.Canceled, worker.ReasonCanceled},
		{"staged", worker.WithStage(plain, "extract"), worker.ReasonTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := worker.ReasonOf(tc.err); got != tc.want {
				t.Errorf("ReasonOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOutcomeHelpers(t *testing.T) {
	t.Parallel()
	plain := errors.New("boom")
	perm := worker.WithStage(worker.Permanent(plain, "unsupported_media_type"), "extract")
	if !worker.IsPermanent(perm) || worker.IsPermanent(plain) || worker.IsPermanent(nil) {
		t.Error("IsPermanent")
	}
	if !errors.Is(perm, plain) {
		t.Error("Permanent must wrap its cause")
	}
	if worker.StageOf(perm) != "extract" || worker.StageOf(plain) != "" {
		t.Errorf("StageOf = %q", worker.StageOf(perm))
	}
	if worker.WithStage(nil, "x") != nil {
		t.Error("WithStage(nil) must be nil")
	}
	if worker.Permanent(nil, "") == nil || worker.RetryAfter(0, nil) == nil {
		t.Error("outcome constructors must never return nil (nil acks)")
	}
	if d, ok := worker.RetryDelay(fmt.Errorf("w: %w", worker.RetryAfter(3*time.Second, plain))); !ok || d != 3*time.Second {
		t.Errorf("RetryDelay = %s, %v", d, ok)
	}
	if d, _ := worker.RetryDelay(worker.RetryAfter(-time.Second, plain)); d != 0 {
		t.Errorf("negative delay = %s, want 0", d)
	}
	if _, ok := worker.RetryDelay(plain); ok {
		t.Error("RetryDelay of a plain error")
	}
	pe := &worker.PanicError{Value: fmt.Errorf("wrapped: %w", plain)}
	if !errors.Is(pe, plain) {
		t.Error("PanicError must unwrap an error value")
	}
	long := &worker.PanicError{Value: strings.Repeat("x", 1000)}
	if len(long.Error()) > 250 {
		t.Errorf("panic message not bounded: %d bytes", len(long.Error()))
	}
}

func TestSanitizeReason(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                       "unknown",
		"bad_signature":          "bad_signature",
		"Bad-Signature.v2":       "bad-signature.v2",
		"with space\nnewline":    "with_space_newline",
		"ünïcode":                "_n_code",
		strings.Repeat("a", 100): strings.Repeat("a", 64),
	}
	for in, want := range tests {
		if got := worker.SanitizeReason(in); got != want {
			t.Errorf("SanitizeReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncateText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"ééé", 5, "éé"}, // never splits a rune
		{"a\x00b\nc\xffd", 20, "a b c d"},
		{"x\ufffey", 10, "x y"},
	}
	for _, tc := range tests {
		if got := worker.TruncateText(tc.in, tc.n); got != tc.want {
			t.Errorf("TruncateText(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestDeadLetterAttributes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	info := worker.DeadLetterInfo{Reason: "bad_signature", Stage: "envelope", Error: "sig\nfail", Attempts: 2, At: at}
	names := func(as []worker.Attribute) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Name)
		}
		return out
	}
	all := []string{worker.AttrReason, worker.AttrStage, worker.AttrAttempts, worker.AttrError,
		worker.AttrDeadLetteredAt, worker.AttrOriginalMessageID}
	tests := []struct {
		name     string
		existing []string
		want     []string
	}{
		{"none existing", nil, all},
		{"room for two", []string{"a", "b", "c", "d", "e", "f", "g", "h"}, all[:2]},
		{"full", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, nil},
		{"previous reason attributes are replaced, not counted",
			[]string{"a", "b", "c", "d", worker.AttrReason, worker.AttrStage, worker.AttrAttempts, worker.AttrError}, all},
	}
	for _, tc := range tests {
		got := names(worker.DeadLetterAttributes(tc.existing, info, "msg-1"))
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	attrs := map[string]string{}
	for _, a := range worker.DeadLetterAttributes(nil, info, "msg-1") {
		attrs[a.Name] = a.Value
	}
	got, id, ok := worker.ParseDeadLetterInfo(attrs)
	want := info
	want.Error = "sig fail"
	if !ok || id != "msg-1" || got != want {
		t.Errorf("round trip = %+v %q %v, want %+v", got, id, ok, want)
	}
	if _, _, ok := worker.ParseDeadLetterInfo(map[string]string{"x": "y"}); ok {
		t.Error("no reason attribute must not parse")
	}
	// Defaults: stage "handler", error = reason, now.
	for _, a := range worker.DeadLetterAttributes(nil, worker.DeadLetterInfo{Reason: "r"}, "") {
		if a.Name == worker.AttrOriginalMessageID {
			t.Error("empty original id must be left out")
		}
		if a.Name == worker.AttrStage && a.Value != "handler" || a.Name == worker.AttrError && a.Value != "r" {
			t.Errorf("default %s = %q", a.Name, a.Value)
		}
	}
}
