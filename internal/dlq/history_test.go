package dlq_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/dlq"
)

func TestHistoryRoundTripAndBounds(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	entry := func(i int) dlq.HistoryEntry {
		return dlq.HistoryEntry{Reason: "handler_failed", Stage: "embed", Attempts: i, DeadLetteredAt: at, ReplayedAt: at.Add(time.Minute), MessageID: "m-" + strings.Repeat("x", i)}
	}
	many := func(n int) []dlq.HistoryEntry {
		var h []dlq.HistoryEntry
		for i := range n {
			h = append(h, entry(i+1))
		}
		return h
	}
	for _, tc := range []struct {
		name string
		in   []dlq.HistoryEntry
		want []dlq.HistoryEntry
	}{
		{name: "empty", in: nil, want: []dlq.HistoryEntry{}},
		{name: "one", in: many(1), want: many(1)},
		{name: "at the entry limit", in: many(dlq.MaxHistoryEntries), want: many(dlq.MaxHistoryEntries)},
		{name: "over the entry limit keeps the newest", in: many(12), want: many(12)[12-dlq.MaxHistoryEntries:]},
		{name: "unsafe codes are sanitised", in: []dlq.HistoryEntry{{Reason: "Bad Reason!\n<script>", Stage: "ÉTAPE", ReplayedAt: at}},
			want: []dlq.HistoryEntry{{Reason: "bad_reason___script_", Stage: "_tape", ReplayedAt: at}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := dlq.FormatHistory(tc.in)
			if len(s) > dlq.MaxHistoryBytes {
				t.Fatalf("formatted history is %d bytes", len(s))
			}
			got, err := dlq.ParseHistory(s)
			if err != nil {
				t.Fatalf("ParseHistory(%s): %v", s, err)
			}
			if got == nil {
				got = []dlq.HistoryEntry{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	// Byte bound: long message ids push out the oldest entries.
	var big []dlq.HistoryEntry
	for range dlq.MaxHistoryEntries {
		big = append(big, dlq.HistoryEntry{Reason: strings.Repeat("r", 64), Stage: strings.Repeat("s", 64), ReplayedAt: at, MessageID: strings.Repeat("m", 128)})
	}
	s := dlq.FormatHistory(big)
	got, err := dlq.ParseHistory(s)
	if err != nil || len(s) > dlq.MaxHistoryBytes || len(got) == 0 || len(got) >= dlq.MaxHistoryEntries {
		t.Errorf("byte-bounded history: %d bytes, %d entries, %v", len(s), len(got), err)
	}
}

func TestParseHistoryRejectsForeignValues(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"not json",
		`{"reason":"x"}`,
		`[` + strings.Repeat(`{"reason":"r"},`, dlq.MaxHistoryEntries) + `{"reason":"r"}]`,
		`[{"reason":"` + strings.Repeat("a", 9000) + `"}]`,
		`[{"attempts":"many"}]`,
	} {
		if h, err := dlq.ParseHistory(in); err == nil {
			t.Errorf("ParseHistory(%.40q) = %v, want an error", in, h)
		}
	}
}

func FuzzParseHistory(f *testing.F) {
	f.Add(`[{"reason":"handler_failed","stage":"embed","attempts":3,"replayed_at":"2026-11-23T10:00:00Z"}]`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Add(`[{"reason":"\u0000","message_id":"\ud800"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		h, err := dlq.ParseHistory(s)
		if err != nil {
			return
		}
		if len(h) > dlq.MaxHistoryEntries {
			t.Fatalf("%d entries accepted", len(h))
		}
		for _, e := range h {
			if e.Reason == "" || len(e.Reason) > 64 || strings.ContainsAny(e.Reason+e.Stage, " \n\"<>") || e.Attempts < 0 || len(e.MessageID) > 128 {
				t.Fatalf("unsafe entry %+v", e)
			}
		}
		// What it accepted it can write back within the bounds.
		if out := dlq.FormatHistory(h); len(out) > dlq.MaxHistoryBytes {
			t.Fatalf("re-formatted history is %d bytes", len(out))
		}
	})
}
