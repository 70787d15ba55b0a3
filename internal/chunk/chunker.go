package chunk

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
// A section with Cont set continues the one before it (no Separator).
func Text(doc pipeline.Extracted) string {
	var b strings.Builder
	for i, s := range doc.Sections {
		if i > 0 && !s.Cont {
			b.WriteString(Separator)
		}
		b.WriteString(s.Text)
	}
	return b.String()
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
	s := c.Stream(ctx, max, yield)
	for _, sec := range doc.Sections {
		if err := s.Add(sec); err != nil {
			return err
		}
	}
	return s.Close()
}

// Stream chunks a document whose sections arrive one at a time (see
// pipeline.StreamChunker): Add each section in order, then Close. yield
// receives each chunk as soon as it is cut, exactly as Each would cut the
// whole document; max caps the chunks as in Each. The stream holds only the
// chunk being built and the part of the current section not yet split, so
// its memory does not grow with the document. A Stream is not safe for
// concurrent use.
func (c *Chunker) Stream(ctx context.Context, max int, yield func(pipeline.Chunk) error) *Stream {
	m := newMerger(ctx, c.cfg, c.counter)
	m.max, m.yield = max, yield
	return &Stream{m: m}
}

// Stream is one document being chunked section by section.
type Stream struct {
	m      *merger
	closed bool
}

var _ pipeline.SectionSink = (*Stream)(nil)

// Add hands over the next section. It returns the first error of the
// stream: yield's, the cap's (ErrTooLarge) or the context's.
func (s *Stream) Add(sec pipeline.Section) error {
	if s.closed {
		return errClosed
	}
	if err := s.m.ctx.Err(); err != nil {
		return err
	}
	return s.m.add(sec)
}

// Close cuts the last chunks. It returns an error wrapping
// pipeline.ErrEmpty when no chunk was cut.
func (s *Stream) Close() error {
	if s.closed {
		return errClosed
	}
	s.closed = true
	if err := s.m.ctx.Err(); err != nil {
		return err
	}
	if err := s.m.close(); err != nil {
		return err
	}
	if s.m.count == 0 {
		return fmt.Errorf("chunk: %w", pipeline.ErrEmpty)
	}
	return nil
}

var errClosed = errors.New("chunk: stream closed")

// Start implements pipeline.StreamChunker (Stream as an interface value).
func (c *Chunker) Start(ctx context.Context, max int, yield func(pipeline.Chunk) error) pipeline.ChunkStream {
	return c.Stream(ctx, max, yield)
}

var _ pipeline.StreamChunker = (*Chunker)(nil)

// Fingerprint names the chunking (pipeline.Fingerprinter): a pending
// version cut under another configuration is not resumed.
func (c *Chunker) Fingerprint() string {
	return fmt.Sprintf("v1:max=%d:overlap=%d", c.cfg.MaxTokens, c.cfg.OverlapTokens)
}
