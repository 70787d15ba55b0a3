package console

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheckReason: an accepted reason (it goes into audit rows) is 3..256
// bytes of printable, trimmed, one-line text.
func FuzzCheckReason(f *testing.F) {
	for _, s := range []string{"maintenance", "", "ab", " spaced out ", "a\nb", "\x00abc", strings.Repeat("é", 200), "\u2028line"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := checkReason(s)
		if err != nil {
			return
		}
		if len(got) < 3 || len(got) > 256 || got != strings.TrimSpace(got) || strings.ContainsAny(got, "\r\n\x00\x7f") || !utf8.ValidString(got) {
			t.Fatalf("accepted %q", got)
		}
	})
}

// FuzzReplayFilter: any form body either is refused or gives a valid, bounded
// filter.
func FuzzReplayFilter(f *testing.F) {
	for _, s := range []string{
		"tenant=6f1c2b9e-8a8e-4c39-9c55-6c6f0b5d1a11&dead_letter_reason=max_receives&stage=embed&ids=a,b",
		"tenant=not-a-uuid", "ids=" + strings.Repeat("x,", 200), "tenant=00000000-0000-0000-0000-000000000000", "stage=%00%ff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r, _ := http.NewRequest(http.MethodPost, "/dlq/replay", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		fl, err := replayFilter(r)
		if err != nil {
			return
		}
		if fl.Validate() != nil || len(fl.IDs) > 100 || len(fl.Tenants) > 1 {
			t.Fatalf("accepted %+v from %q", fl, body)
		}
		for _, list := range [][]string{fl.IDs, fl.Reasons, fl.Stages} {
			for _, s := range list {
				if s == "" || len(s) > 256 {
					t.Fatalf("accepted element %q", s)
				}
			}
		}
	})
}
