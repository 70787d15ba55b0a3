package searchapi

import (
	"fmt"
	"testing"
	"time"
)

// TestRefusalsBoundTheTable floods the limiter as an unauthenticated
// attacker would (many requests, many addresses, several reasons): the
// events written per window stay within Total plus one summary per reason,
// and every refusal is accounted for in an event or a summary.
func TestRefusalsBoundTheTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name              string
		lim               RefusalLimit
		requests, sources int
		reasons           []string
		wantWritten       int
		wantSummaries     int
	}{
		{name: "one source, one reason", lim: RefusalLimit{}, requests: 1000, sources: 1, reasons: []string{"bad_signature"}, wantWritten: 1, wantSummaries: 1},
		{name: "one source, two reasons", lim: RefusalLimit{}, requests: 1000, sources: 1, reasons: []string{"bad_signature", "expired"}, wantWritten: 2, wantSummaries: 2},
		{name: "many sources hit the total", lim: RefusalLimit{Total: 20}, requests: 5000, sources: 1000, reasons: []string{"malformed"}, wantWritten: 20, wantSummaries: 1},
		{name: "more sources than remembered", lim: RefusalLimit{Total: 1000, MaxSources: 10}, requests: 5000, sources: 1000, reasons: []string{"malformed"}, wantWritten: 10, wantSummaries: 1},
		{name: "per source 3", lim: RefusalLimit{PerSource: 3}, requests: 10, sources: 2, reasons: []string{"expired"}, wantWritten: 6, wantSummaries: 1},
		{name: "under every limit", lim: RefusalLimit{}, requests: 5, sources: 5, reasons: []string{"expired"}, wantWritten: 5, wantSummaries: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
			lim := tc.lim
			lim.Now = func() time.Time { return now }
			r := newRefusals(lim.withDefaults())
			written := 0
			for i := range tc.requests {
				rec, sums := r.admit(fmt.Sprintf("198.51.100.%d", i%tc.sources), tc.reasons[i%len(tc.reasons)])
				if len(sums) != 0 {
					t.Fatalf("summary inside the first window")
				}
				if rec {
					written++
				}
			}
			if written != tc.wantWritten {
				t.Fatalf("%d events written, want %d", written, tc.wantWritten)
			}
			now = now.Add(lim.withDefaults().Window)
			rec, sums := r.admit("203.0.113.9", "expired")
			if !rec {
				t.Fatal("the first refusal of a new window is not recorded")
			}
			if len(sums) != tc.wantSummaries {
				t.Fatalf("%d summaries, want %d", len(sums), tc.wantSummaries)
			}
			var suppressed int
			for _, s := range sums {
				var n, addrs int
				var window, from string
				if _, err := fmt.Sscanf(s.Detail, "search credentials refused: %d more refusals from %d client addresses in the %s window from %s",
					&n, &addrs, &window, &from); err != nil {
					t.Fatalf("summary detail %q: %v", s.Detail, err)
				}
				suppressed += n
				if addrs > lim.withDefaults().MaxSources {
					t.Fatalf("summary remembers %d addresses, more than MaxSources", addrs)
				}
			}
			if written+suppressed != tc.requests {
				t.Fatalf("%d written + %d suppressed != %d requests", written, suppressed, tc.requests)
			}
		})
	}
}

func TestRefusalLimitRefusesNegativeValues(t *testing.T) {
	t.Parallel()
	for _, lim := range []RefusalLimit{{Window: -1}, {PerSource: -1}, {Total: -1}, {MaxSources: -1}} {
		if lim.withDefaults().validate() == nil {
			t.Errorf("%+v accepted", lim)
		}
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"192.0.2.1:80": "192.0.2.1", "[2001:db8::1]:443": "2001:db8::1", "pipe": "pipe", "": ""} {
		if got := clientAddress(in); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRefusals: any peer address and reason code keep the limiter within
// its bounds (the address is outside input).
func FuzzRefusals(f *testing.F) {
	for _, s := range []string{"192.0.2.1:80", "[2001:db8::1]:443", "", ":", "[::1", "a:b:c"} {
		f.Add(s, "bad_signature")
	}
	f.Fuzz(func(t *testing.T, remote, reason string) {
		addr := clientAddress(remote)
		if len(addr) > len(remote) {
			t.Fatalf("address %q longer than %q", addr, remote)
		}
		now := time.Unix(0, 0)
		r := newRefusals(RefusalLimit{Total: 2, MaxSources: 2, Now: func() time.Time { return now }}.withDefaults())
		written := 0
		for range 5 {
			if rec, _ := r.admit(addr, reason); rec {
				written++
			}
		}
		if written != 1 {
			t.Fatalf("%d events for one address and reason, want 1", written)
		}
	})
}
