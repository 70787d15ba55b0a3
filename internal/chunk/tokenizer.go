package chunk

import (
	"math"
	"unicode/utf8"
)

// tokenizer counts cl100k_base tokens without building them: it splits text
// into pre-tokens (preTokenEnd) and byte-pair merges each one with the
// vocabulary's ranks, as tiktoken-go's EncodeOrdinary does, so the count is
// len(EncodeOrdinary(s)) for every string s, valid UTF-8 or not. Unlike it,
// it allocates nothing for valid UTF-8 and runs no regular expression.
// It is safe for concurrent use (it only reads ranks).
type tokenizer struct {
	ranks map[string]int // token bytes → merge rank (and token id)
}

// count returns the number of tokens of s.
func (t *tokenizer) count(s string) int {
	if !utf8.ValidString(s) {
		// The reference reads text as []rune(s): each invalid byte is one
		// U+FFFD, and the pre-tokens are that rune's bytes.
		s = string([]rune(s))
	}
	n := 0
	for i := 0; i < len(s); {
		e := preTokenEnd(s, i)
		n += t.pieceTokens(s[i:e])
		i = e
	}
	return n
}

// pieceTokens counts the tokens of one pre-token: one when the vocabulary
// holds it whole (every single byte is in it), else as many as the merge
// leaves.
func (t *tokenizer) pieceTokens(p string) int {
	if len(p) == 1 {
		return 1
	}
	if _, ok := t.ranks[p]; ok {
		return 1
	}
	return t.merge(p)
}

// noRank marks a pair of parts whose joined bytes are not in the vocabulary.
const noRank = math.MaxInt

// mergeBuf is the length of the arrays merge keeps on the stack; longer
// pieces (at most a segment, see segmentBytes) allocate.
const mergeBuf = 64

// merge byte-pair merges p and returns the number of parts left: starting
// from single bytes, it repeatedly joins the adjacent pair whose joined bytes
// have the lowest rank (the leftmost of equal ranks), until no adjacent pair
// is in the vocabulary. This is tiktoken's bytePairMerge, step for step.
func (t *tokenizer) merge(p string) int {
	m := len(p) + 1 // part boundaries, the last one at len(p)
	var startBuf, rankBuf [mergeBuf]int
	start, rank := startBuf[:0], rankBuf[:0]
	if m > mergeBuf {
		start, rank = make([]int, 0, m), make([]int, 0, m)
	}
	start, rank = start[:m], rank[:m]
	for i := range m {
		start[i], rank[i] = i, noRank
	}
	// rankOf: the rank of the parts i..i+skip+1 joined (skip 0: parts i
	// and i+1), as long as part i+skip+2's start bounds them.
	rankOf := func(i, skip int) int {
		if i+skip+2 < m {
			if r, ok := t.ranks[p[start[i]:start[i+skip+2]]]; ok {
				return r
			}
		}
		return noRank
	}
	for i := 0; i < m-2; i++ {
		rank[i] = rankOf(i, 0)
	}
	for m > 1 {
		best, at := noRank, -1
		for i := 0; i < m-1; i++ {
			if rank[i] < best {
				best, at = rank[i], i
			}
		}
		if best == noRank {
			break
		}
		rank[at] = rankOf(at, 1)
		if at > 0 {
			rank[at-1] = rankOf(at-1, 1)
		}
		copy(start[at+1:m-1], start[at+2:m])
		copy(rank[at+1:m-1], rank[at+2:m])
		m--
	}
	return m - 1
}
