package chunk

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"

	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding is the tiktoken vocabulary used to count tokens. Its files are
// embedded in github.com/pkoukk/tiktoken-go-loader; nothing is downloaded.
const Encoding = "cl100k_base"

// segmentBytes bounds the text handed to the tokenizer in one call. The
// byte-pair merge is quadratic in the length of a pre-token (a run of one
// character class), so longer text is cut first — between a whitespace run
// and the word after it, where the tokenizer itself splits — and the counts
// are summed. (The cuts decide the counts of long runs, so they stay where
// they were when tiktoken-go's regular expression, quadratic too, did the
// pre-tokenizing.)
const segmentBytes = 256

// encodingFile is the vocabulary's file name, which the offline loader
// looks up among its embedded files.
const encodingFile = "https://openaipublic.blob.core.windows.net/encodings/" + Encoding + ".tiktoken"

var loadEncoding = sync.OnceValues(func() (*tokenizer, error) {
	ranks, err := tiktokenloader.NewOfflineLoader().LoadTiktokenBpe(encodingFile)
	if err != nil {
		return nil, fmt.Errorf("chunk: load %s: %w", Encoding, err)
	}
	return &tokenizer{ranks: ranks}, nil
})

// Counter counts cl100k_base tokens of text. It is safe for concurrent use.
//
// Counts are exact for ordinary text. Runs longer than 256 bytes with no
// whitespace-to-word break are counted in 256-byte pieces (on rune
// boundaries), which may differ from the tokenizer's own count by a token per
// piece; the cost of counting is linear in the text's length.
type Counter struct {
	// tokens counts a segment: tokenizer.count (tests put the reference
	// tokenizer here to compare with).
	tokens func(string) int
}

// NewCounter loads the embedded cl100k_base vocabulary (once per process,
// ~100 ms).
func NewCounter() (*Counter, error) {
	t, err := loadEncoding()
	if err != nil {
		return nil, err
	}
	return &Counter{tokens: t.count}, nil
}

// Count returns the number of tokens in s.
func (c *Counter) Count(s string) int {
	n, _ := c.count(s)
	return n
}

// count is Count, and reports whether s was cut somewhere other than where
// the tokenizer splits (a run longer than segmentBytes without such a place):
// such counts depend on where s starts, so they do not add up.
func (c *Counter) count(s string) (n int, forced bool) {
	for len(s) > 0 {
		cut, f := segmentEnd(s)
		n += c.tokens(s[:cut])
		forced = forced || f
		s = s[cut:]
	}
	return n, forced
}

// segmentEnd returns the length of the next segment of s to count on its own:
// all of s when short, else the last place at or before segmentBytes where a
// whitespace run meets the text before it (see runCut), else a rune boundary
// at segmentBytes (forced).
func segmentEnd(s string) (cut int, forced bool) {
	if len(s) <= segmentBytes {
		return len(s), false
	}
	best := 0
	prev := rune(-1)
	for i, r := range s {
		if i > segmentBytes {
			break
		}
		// Cut where a whitespace run starts (after the line breaks that
		// punctuation keeps): the tokenizer never joins text across that
		// place, so the counts add up.
		if unicode.IsSpace(r) && i > 0 && !unicode.IsSpace(prev) {
			if cut := runCut(s, i, prev); cut <= segmentBytes {
				best = cut
			}
		}
		prev = r
	}
	if best > 0 {
		return best, false
	}
	cut = segmentBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if cut == 0 { // cannot happen for valid or invalid UTF-8 of this length
		cut = segmentBytes
	}
	return cut, true
}

// runCut returns where cl100k's pre-tokenizer separates the text before a
// whitespace run starting at s[i] from the run: at i, unless the rune before
// (prev) is punctuation, which keeps the line breaks right after it (".\n\n"
// is one pre-token); then after those line breaks.
func runCut(s string, i int, prev rune) int {
	if unicode.IsLetter(prev) || unicode.IsNumber(prev) {
		return i
	}
	for i < len(s) && (s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// prefixWithin returns the byte length of the longest prefix of s, ending on
// a rune boundary, whose count is at most max, and that count. It returns at
// least one rune when s is not empty (a rune is never more than 4 tokens and
// max is at least minMaxTokens). The cost is linear in the prefix's length.
func (c *Counter) prefixWithin(s string, max int) (n, tokens int) {
	for n < len(s) {
		cut, _ := segmentEnd(s[n:])
		t := c.tokens(s[n : n+cut])
		if tokens+t <= max {
			n += cut
			tokens += t
			continue
		}
		// The segment overflows: binary search its rune starts for the
		// longest prefix that fits (segments are at most segmentBytes).
		seg := s[n : n+cut]
		starts := make([]int, 0, len(seg))
		for i := range seg {
			starts = append(starts, i)
		}
		// starts[k] is the byte length of the prefix of k runes (k >= 1).
		starts = append(starts[1:], len(seg))
		lo, hi := 0, len(starts) // prefixes of lo runes fit; of hi runes do not
		loTokens := 0
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if t := c.tokens(seg[:starts[mid-1]]); tokens+t <= max {
				lo, loTokens = mid, t
			} else {
				hi = mid
			}
		}
		if lo == 0 && n == 0 {
			// Not even one rune fits the budget: take one rune regardless.
			_, size := utf8.DecodeRuneInString(s)
			return size, c.tokens(s[:size])
		}
		if lo > 0 {
			n += starts[lo-1]
			tokens += loTokens
		}
		return n, tokens
	}
	return n, tokens
}
