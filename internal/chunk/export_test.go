package chunk

import (
	"sync"
	"unicode/utf8"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktokenloader "github.com/pkoukk/tiktoken-go-loader"
	"go.uber.org/zap"
)

// The reference: tiktoken-go's own cl100k_base encoder (regular-expression
// pre-tokenizing, byte-pair merge building token ids), which the chunker
// counted with before its tokenizer was written. Only tests use it.
var referenceEncoding = sync.OnceValue(func() *tiktoken.Tiktoken {
	tiktoken.SetBpeLoader(tiktokenloader.NewOfflineLoader())
	e, err := tiktoken.GetEncoding(Encoding)
	if err != nil {
		panic(err)
	}
	return e
})

// ReferenceTokens is len(EncodeOrdinary(s)) of the reference encoder: the
// count the tokenizer must return for every s.
func ReferenceTokens(s string) int { return len(referenceEncoding().EncodeOrdinary(s)) }

// Tokens counts s with the tokenizer in one call (no segments).
func Tokens(s string) int {
	t, err := loadEncoding()
	if err != nil {
		panic(err)
	}
	return t.count(s)
}

// NewReference is New with the reference encoder counting every segment:
// what the chunker cut before its tokenizer was written.
func NewReference(cfg Config) (*Chunker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Chunker{cfg: cfg, counter: &Counter{tokens: ReferenceTokens}, log: zap.NewNop()}, nil
}

// PreTokens splits s as the tokenizer does, reading invalid bytes as U+FFFD.
func PreTokens(s string) []string {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	var out []string
	for i := 0; i < len(s); {
		e := preTokenEnd(s, i)
		out = append(out, s[i:e])
		i = e
	}
	return out
}
