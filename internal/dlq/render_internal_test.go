package dlq

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestHumanAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {45 * time.Second, "45s"}, {12*time.Minute + 5*time.Second, "12m"},
		{3*time.Hour + 5*time.Minute, "3h05m"}, {50 * time.Hour, "2d02h"},
	} {
		if got := humanAge(tc.d); got != tc.want {
			t.Errorf("humanAge(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestClipMiddle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"doc:a", 10, "doc:a"},
		{"s3://bucket/7d1c5d6e/doc/very-long-file-name.pdf", 20, "s3://buck…e-name.pdf"},
		{"ééééééééééé", 5, "éé…éé"},
	} {
		got := clipMiddle(tc.in, tc.n)
		if got != tc.want || len([]rune(got)) > max(tc.n, len([]rune(tc.in))) {
			t.Errorf("clipMiddle(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestInspectTable(t *testing.T) {
	t.Parallel()
	tenant := uuid.MustParse("7d1c5d6e-2f44-4b8e-9a59-3f0c2b7e1a10")
	msgs := []Message{
		{ID: "m-1", Verified: true, Tenant: tenant, Action: "reindex", Resource: "doc:doc-1", Reason: "handler_failed", Stage: "embed", Attempts: 5, Age: 2 * time.Hour},
		{ID: "m-2", UnverifiedReason: "bad_signature", Reason: "bad_signature", Stage: "verify", Attempts: 1, Age: time.Minute},
	}
	rep := &Report{Queue: "jobs-dlq", ApproximateCount: 2, Scanned: 2, Messages: msgs, Groups: GroupMessages(msgs)}
	var b bytes.Buffer
	WriteInspectTable(&b, rep)
	out := b.String()
	for _, want := range []string{
		"DLQ jobs-dlq: 2 message(s) read",
		"m-1  7d1c5d6e-2f44-4b8e-9a59-3f0c2b7e1a10  reindex  doc:doc-1  handler_failed  embed   5         2h00m  0",
		"m-2  unverified (bad_signature)",
		"unverified                            bad_signature   1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	WriteInspectJSON(&b, rep)
	if lines := strings.Count(b.String(), "\n"); lines != 5 || !strings.Contains(b.String(), `"age_seconds":7200`) {
		t.Errorf("JSON lines:\n%s", b.String())
	}
}

func TestReplayOutput(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	results := []Result{
		{Message: Message{ID: "m-1", Verified: true, Tenant: tenant, Resource: "doc:1", Reason: "handler_failed"}, Outcome: OutcomeReplayed, NewMessageID: "n-1"},
		{Message: Message{ID: "m-2"}, Outcome: OutcomeSkipped},
		{Message: Message{ID: "m-3", UnverifiedReason: "expired", Reason: "handler_failed"}, Outcome: OutcomeRejected, Code: "expired"},
	}
	st := Stats{Target: "https://sqs/q", Approximate: 3, Scanned: 3, Matched: 2, Replayed: 1, Rejected: 1}
	for _, tc := range []struct {
		name            string
		bar, json       bool
		want, wantNot   []string
		wantBarProgress bool
	}{
		{name: "plain", want: []string{"replaying to q", "replayed     m-1", "rejected     m-3  tenant=unverified (expired)", "1 replayed", "rejected: expired"}, wantNot: []string{"m-2"}},
		{name: "terminal", bar: true, want: []string{"rejected     m-3", "1 replayed"}, wantNot: []string{"replayed     m-1", "m-2"}, wantBarProgress: true},
		{name: "json", json: true, want: []string{`"type":"result"`, `"outcome":"rejected"`, `"type":"summary"`}, wantNot: []string{"m-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			o := NewProgress(&out, &errOut, tc.bar, tc.json, false)
			o.Start(st)
			for _, r := range results {
				o.Result(r)
			}
			o.Finish(st)
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
			if tc.wantBarProgress != (errOut.Len() > 0) {
				t.Errorf("progress bar output: %q", errOut.String())
			}
		})
	}
}
