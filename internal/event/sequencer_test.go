package event_test

import (
	"testing"

	"github.com/tenantry/tenantry/internal/event"
)

func TestSequencer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"0055AED6DCD90281E5", "0055AED6DCD90281E6", -1},
		{"0055AED6DCD90281E6", "0055AED6DCD90281E5", 1},
		{"0055AED6DCD90281E5", "0055AED6DCD90281E5", 0},
		// Different lengths: left-pad the shorter with zeros.
		{"FF", "0100", -1},
		{"55AED6DCD90281E5", "0055AED6DCD90281E5", 0},
		{"1", "00000000000000000A", -1},
		// A plain string comparison would get this one wrong.
		{"9", "10", -1},
		// Case does not matter.
		{"00ab", "00AB", 0},
		{"617f08299329d189", "617F08299329D18A", -1},
	}
	for _, tc := range tests {
		if got := event.CompareSequencers(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareSequencers(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := event.SequencerLess(tc.a, tc.b); got != (tc.want < 0) {
			t.Errorf("SequencerLess(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
	for s, want := range map[string]bool{
		"0055AED6DCD90281E5": true, "617f08299329d189": true, "0": true,
		"": false, "0x12": false, "12 34": false, "G1": false,
		"0123456789012345678901234567890123456789012345678901234567890123":  true,
		"01234567890123456789012345678901234567890123456789012345678901234": false,
	} {
		if event.ValidSequencer(s) != want {
			t.Errorf("ValidSequencer(%q) != %v", s, want)
		}
	}
}

func FuzzSequencerOrder(f *testing.F) {
	f.Add("0055AED6DCD90281E5", "55AED6DCD90281E6")
	f.Add("FF", "0100")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !event.ValidSequencer(a) || !event.ValidSequencer(b) {
			return
		}
		// Antisymmetric, and a total order.
		if event.CompareSequencers(a, b) != -event.CompareSequencers(b, a) {
			t.Fatalf("not antisymmetric: %s %s", a, b)
		}
		if event.SequencerLess(a, b) && event.SequencerLess(b, a) {
			t.Fatalf("both less: %s %s", a, b)
		}
	})
}
