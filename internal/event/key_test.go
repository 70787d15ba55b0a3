package event_test

import (
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/event"
)

func TestDecodeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "red+flower.jpg", want: "red flower.jpg"},
		{in: "c%2B%2B.pdf", want: "c++.pdf"},
		{in: "a%2Fb/c", want: "a/b/c"},
		{in: "t/d/r%C3%A9sum%C3%A9.docx", want: "t/d/résumé.docx"},
		{in: "t/d/%28copy%29+%26+%3D%3B%3A.txt", want: "t/d/(copy) & =;:.txt"},
		{in: "t/d/already raw.txt", want: "t/d/already raw.txt"},
		{in: "100%25", want: "100%"},
		{in: "", bad: true},
		{in: "%", bad: true},
		{in: "%4", bad: true},
		{in: "%G0", bad: true},
		{in: "a%zz", bad: true},
		{in: "%FF%FE", bad: true}, // not UTF-8
		{in: "%C3", bad: true},    // truncated UTF-8
		{in: strings.Repeat("a", event.MaxKeyBytes+1), bad: true},
	}
	for _, tc := range tests {
		got, err := event.DecodeKey(tc.in)
		if tc.bad {
			if err == nil || event.ReasonOf(err) != event.ReasonBadKeyEncoding {
				t.Errorf("DecodeKey(%q) = %q, %v; want bad_key_encoding", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("DecodeKey(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if back, err := event.DecodeKey(event.EncodeKey(got)); err != nil || back != got {
			t.Errorf("round trip of %q: %q, %v", got, back, err)
		}
	}
	if got := event.EncodeKey("t/d/a b+c%.md"); got != "t/d/a+b%2Bc%25.md" {
		t.Errorf("EncodeKey = %q", got)
	}
}
