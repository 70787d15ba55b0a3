package chunk

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/tenantry/tenantry/pipeline"
)

// Separator joins the sections' texts into the document text that chunk
// offsets point into (see Text).
const Separator = "\n\n"

// minMaxTokens is the smallest MaxTokens accepted: a rune is never more than
// 4 tokens, so every cut makes progress.
const minMaxTokens = 16

// Config sizes the chunks.
type Config struct {
	// MaxTokens bounds a chunk's cl100k_base token count (default 512).
	// Titan and Cohere tokenizers are not public: leave headroom under the
	// embedding model's input limit.
	MaxTokens int
	// OverlapTokens is how much of the end of a chunk is repeated at the
	// start of the next one, in whole pieces (sentences or words), never
	// across a heading (default 64; 0 disables; below MaxTokens/2).
	// Use NoOverlap to ask for none explicitly.
	OverlapTokens int
}

// NoOverlap as Config.OverlapTokens disables overlap (0 means the default).
const NoOverlap = -1

const (
	defaultMaxTokens     = 512
	defaultOverlapTokens = 64
)

func (c Config) withDefaults() Config {
	if c.MaxTokens == 0 {
		c.MaxTokens = defaultMaxTokens
	}
	switch c.OverlapTokens {
	case 0:
		c.OverlapTokens = min(defaultOverlapTokens, c.MaxTokens/4)
	case NoOverlap:
		c.OverlapTokens = 0
	}
	return c
}

func (c Config) validate() error {
	if c.MaxTokens < minMaxTokens {
		return fmt.Errorf("chunk: MaxTokens %d below %d", c.MaxTokens, minMaxTokens)
	}
	if c.OverlapTokens < 0 || c.OverlapTokens*2 > c.MaxTokens {
		return fmt.Errorf("chunk: OverlapTokens %d must be in [0, MaxTokens/2]", c.OverlapTokens)
	}
	return nil
}

// BytesPerToken is the text bytes per cl100k token TextBytesFor allows:
// about twice what English prose averages (~4), four times CJK (~2), so a
// document that reaches it has long gone past the chunk cap.
const BytesPerToken = 8

// TextBytesFor is the most extracted text worth reading for a document
// allowed maxChunks chunks of this Config's size: maxChunks × MaxTokens ×
// BytesPerToken (80 MiB for the defaults, 20000 × 512 × 8). Text past it
// would make more chunks than the cap (save for text of unusually many bytes
// per token, which is refused as too large instead), so an extractor bounded
// by it (extract.Config.MaxTextBytes) refuses such a document while
// reading it, before it is held in memory and chunked. maxChunks <= 0: 0.
func (c Config) TextBytesFor(maxChunks int) int64 {
	if maxChunks <= 0 {
		return 0
	}
	c = c.withDefaults()
	return int64(maxChunks) * int64(c.MaxTokens) * BytesPerToken
}

// Chunker implements pipeline.Chunker. It is safe for concurrent use.
type Chunker struct {
	cfg     Config
	counter *Counter
	log     *zap.Logger
}

var _ pipeline.Chunker = (*Chunker)(nil)

// New returns a Chunker. It loads the embedded tokenizer vocabulary once per
// process. A nil logger logs nothing.
func New(cfg Config, logger *zap.Logger) (*Chunker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	counter, err := NewCounter()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Chunker{cfg: cfg, counter: counter, log: logger}, nil
}

// Config returns the configuration in effect (defaults applied).
func (c *Chunker) Config() Config { return c.cfg }

// Counter returns the token counter the chunker sizes chunks with.
func (c *Chunker) Counter() *Counter { return c.counter }

// Text returns the document text that chunk offsets point into: the
// sections' texts joined with Separator. Chunk.Text equals
// []rune(Text(doc))[CharStart:CharEnd].
func Text(doc pipeline.Extracted) string {
	parts := make([]string, len(doc.Sections))
	for i, s := range doc.Sections {
		parts[i] = s.Text
	}
	return strings.Join(parts, Separator)
}

// Chunk splits doc into ordered chunks. It returns an error wrapping
// pipeline.ErrEmpty when doc has no text other than whitespace, and the
// context's error when ctx ends first.
func (c *Chunker) Chunk(ctx context.Context, doc pipeline.Extracted) ([]pipeline.Chunk, error) {
	return c.ChunkAtMost(ctx, doc, 0)
}

// ChunkAtMost is Chunk with a cap (pipeline.BoundedChunker): it stops at the
// first chunk past max and returns an error wrapping pipeline.ErrTooLarge,
// without cutting the rest of the document. max <= 0 means no cap.
func (c *Chunker) ChunkAtMost(ctx context.Context, doc pipeline.Extracted, max int) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	err := c.Each(ctx, doc, max, func(ch pipeline.Chunk) error {
		out = append(out, ch)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Each calls yield with each chunk of doc, in order, as soon as it is cut.
// It stops at the first error yield returns and returns it. With max > 0 it
// cuts at most max+1 chunks and yields at most max: once the (max+1)th chunk
// is cut it stops with an error wrapping pipeline.ErrTooLarge, and no more
// of the document is split or counted. It returns an error wrapping pipeline.ErrEmpty when no
// chunk was cut, and the context's error when ctx ends first.
func (c *Chunker) Each(ctx context.Context, doc pipeline.Extracted, max int, yield func(pipeline.Chunk) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := newMerger(ctx, c.cfg, c.counter, validSections(doc.Sections))
	m.max, m.yield = max, yield
	if err := m.run(); err != nil {
		return err
	}
	if m.count == 0 {
		return fmt.Errorf("chunk: %w", pipeline.ErrEmpty)
	}
	return nil
}

// validSections returns secs with each invalid UTF-8 byte replaced by U+FFFD,
// as []rune(Text(doc)) replaces it, so chunk offsets hold and every count is
// of the text a chunk carries. It copies only when some text is invalid
// (extractors hand over valid UTF-8).
func validSections(secs []pipeline.Section) []pipeline.Section {
	var out []pipeline.Section
	for i, s := range secs {
		if utf8.ValidString(s.Text) {
			continue
		}
		if out == nil {
			out = append([]pipeline.Section(nil), secs...)
		}
		out[i].Text = string([]rune(s.Text))
	}
	if out == nil {
		return secs
	}
	return out
}
