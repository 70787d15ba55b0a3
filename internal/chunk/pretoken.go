package chunk

import (
	"unicode"
	"unicode/utf8"
)

// cl100k_base splits text into pre-tokens with this regular expression
// before the byte-pair merge; a token never spans two pre-tokens:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// preTokenEnd matches it by hand, as a backtracking engine takes the first
// alternative that matches at a position (not the longest), in one pass and
// without lookahead past the current whitespace run. \s, \p{L} and \p{N} are
// unicode.IsSpace, IsLetter and IsNumber (the same sets, rune for rune), and
// only ASCII letters fold to the contractions' letters.

// Rune classes of the expression: every rune is in exactly one.
const (
	clOther  uint8 = iota // [^\s\p{L}\p{N}]
	clLetter              // \p{L}
	clNumber              // \p{N}
	clSpace               // \s
)

// asciiClass is classOf for runes below utf8.RuneSelf.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for r := range t {
		t[r] = slowClass(rune(r))
	}
	return t
}()

func slowClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clLetter
	case unicode.IsNumber(r):
		return clNumber
	case unicode.IsSpace(r):
		return clSpace
	}
	return clOther
}

// runeAt decodes the rune at s[i] and returns it, its size and its class;
// i == len(s) gives size 0 and clOther (never a letter, number or space).
func runeAt(s string, i int) (rune, int, uint8) {
	if i >= len(s) {
		return -1, 0, clOther
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1, asciiClass[c]
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	return r, n, slowClass(r)
}

// preTokenEnd returns the end of the pre-token that starts at s[i] (i <
// len(s)). s must be valid UTF-8: the reference tokenizer reads each invalid
// byte as U+FFFD, and so must the caller (see tokenizer.count).
func preTokenEnd(s string, i int) int {
	r, n, cl := runeAt(s, i)
	// 's 't 're 've 'm 'll 'd, in any case.
	if r == '\'' {
		if e := contractionEnd(s, i+1); e > 0 {
			return e
		}
	}
	j := i + n
	_, nn, ncl := runeAt(s, j)
	switch cl {
	case clLetter:
		// [^\r\n\p{L}\p{N}]? matches nothing; \p{L}+.
		return classRunEnd(s, j, clLetter, -1)
	case clNumber:
		return classRunEnd(s, j, clNumber, 2)
	case clOther:
		if ncl == clLetter {
			// [^\r\n\p{L}\p{N}]\p{L}+
			return classRunEnd(s, j+nn, clLetter, -1)
		}
		// [^\s\p{L}\p{N}]+[\r\n]*
		return lineBreaksEnd(s, classRunEnd(s, j, clOther, -1))
	}
	// A whitespace rune.
	if r != '\r' && r != '\n' && ncl == clLetter {
		return classRunEnd(s, j+nn, clLetter, -1)
	}
	if r == ' ' && ncl == clOther {
		// " ?[^\s\p{L}\p{N}]+[\r\n]*" with the space.
		return lineBreaksEnd(s, classRunEnd(s, j+nn, clOther, -1))
	}
	// \s*[\r\n]+ : the whole run up to its last line break, if it has one.
	end, lastBreak, lastStart := j, -1, i
	if r == '\r' || r == '\n' {
		lastBreak = i
	}
	for {
		r, n, cl := runeAt(s, end)
		if cl != clSpace {
			break
		}
		if r == '\r' || r == '\n' {
			lastBreak = end
		}
		lastStart = end
		end += n
	}
	switch {
	case lastBreak >= 0:
		return lastBreak + 1
	case end == len(s) || lastStart == i:
		// \s+(?!\S) at the end of the text, or \s+ for a single rune.
		return end
	}
	// \s+(?!\S): all of the run but its last rune.
	return lastStart
}

// classRunEnd returns the end of the run of runes of class cl starting at
// s[j], taking at most limit more runes (limit < 0: no limit).
func classRunEnd(s string, j int, cl uint8, limit int) int {
	for limit != 0 {
		_, n, c := runeAt(s, j)
		if n == 0 || c != cl {
			break
		}
		j += n
		limit--
	}
	return j
}

// lineBreaksEnd returns the end of the run of '\r' and '\n' at s[j].
func lineBreaksEnd(s string, j int) int {
	for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
		j++
	}
	return j
}

// contractionEnd returns the end of a contraction whose letters start at
// s[j] (after the apostrophe), or 0 when there is none. Only the ASCII
// letters fold to s t r e v m l d (checked rune by rune against the
// reference), so c|0x20 lowers them; no other byte lowers to one.
func contractionEnd(s string, j int) int {
	if j >= len(s) {
		return 0
	}
	switch s[j] | 0x20 {
	case 's', 't', 'm', 'd':
		return j + 1
	case 'r', 'v':
		if j+1 < len(s) && s[j+1]|0x20 == 'e' {
			return j + 2
		}
	case 'l':
		if j+1 < len(s) && s[j+1]|0x20 == 'l' {
			return j + 2
		}
	}
	return 0
}
