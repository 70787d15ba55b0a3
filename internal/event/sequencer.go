package event

import "strings"

// maxSequencer bounds a sequencer's length (S3 sends 16-18 hex digits).
const maxSequencer = 64

// ValidSequencer reports whether s is a well-formed sequencer: 1 to 64 hex
// digits.
func ValidSequencer(s string) bool {
	if s == "" || len(s) > maxSequencer {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return !isHex(r) })
}

func isHex(r rune) bool { return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }

// CompareSequencers orders two sequencers of events on the same key as S3
// documents it: left-pad the shorter with zeros, then compare
// lexicographically (case-insensitively). It returns -1, 0 or +1.
// Sequencers of different keys are not comparable.
func CompareSequencers(a, b string) int {
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	if n := len(b) - len(a); n > 0 {
		a = strings.Repeat("0", n) + a
	} else if n < 0 {
		b = strings.Repeat("0", -n) + b
	}
	return strings.Compare(a, b)
}

// SequencerLess reports whether the event with sequencer a happened before
// the one with b (same key). Use it so an older event never overwrites a
// newer version.
func SequencerLess(a, b string) bool { return CompareSequencers(a, b) < 0 }
