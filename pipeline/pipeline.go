// Package pipeline holds tenantry's domain types (Document, Chunk, Embedding,
// AuditEvent) and the stage interfaces (Extractor, Chunker, Embedder, Store)
// that turn one verified upload into tenant-scoped, searchable chunks.
//
// It imports only the standard library. Adapters live in internal/... and
// import pipeline, never the reverse.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Document is one version of one uploaded object. It carries no tenant:
// the verified scope a Store is bound to is the tenant.
type Document struct {
	DocumentID string // second path element of the object key
	SourceURI  string // s3://bucket/key
	Version    string // content hash ("sha256:<hex>") of the raw bytes
	MediaType  string // e.g. text/markdown, application/pdf
	Filename   string
	SizeBytes  int64
	Sequencer  string // S3 event sequencer (hex), orders events of one key
	UpdatedAt  time.Time
	// Attributes are the document's metadata for search filters (S3 user
	// metadata and the <file>.metadata.json sidecar); nil keeps the stored
	// ones (reindex).
	Attributes map[string]any
	// Force reprocesses a version that is already stored (reindex with a new
	// model or chunking): its chunks are replaced, not kept.
	Force bool
	// Prechecked says the caller already ran the store's Precheck for this
	// document and was told to proceed (the worker does, before it reads
	// the attributes from S3): Ingest does not ask the store again.
	Prechecked bool
	// PinVersion, if set, is the only version this processing may ingest:
	// fetched bytes of another content hash fail with ErrSourceChanged and
	// leave the stored document as it was. A reindex pins the stored
	// version, so it reprocesses exactly the bytes an envelope authorised.
	PinVersion string
}

// Section is a run of extracted text with its location in the source.
type Section struct {
	Text    string
	Page    int  // 1-based page number, 0 when the format has no pages
	Heading bool // a heading line (a strong split point for the chunker)
	// Cont: this section continues the text of the one before it (a long
	// text handed over in pieces): no separator between them, and the
	// chunker cuts exactly as if they were one section. Page and Heading of
	// a continuation are those of the section it continues.
	Cont bool
}

// Extracted is the plain text of a document, in reading order.
type Extracted struct {
	Sections []Section
}

// Chunk is a piece of a document's text that is embedded and searched.
type Chunk struct {
	Ordinal    int
	Text       string
	TokenCount int
	CharStart  int // rune offset into the concatenated extracted text (inclusive)
	CharEnd    int // rune offset (exclusive)
	Page       int
}

// Embedding is the vector for one chunk.
type Embedding struct {
	Vector []float32
	Model  string
}

// Extractor turns raw bytes of one media type into text. Implementations must
// bound memory and time and return an error wrapping ErrUnsupported or
// ErrMalformed (both permanent) for inputs they refuse.
type Extractor interface {
	Extract(ctx context.Context, mediaType string, r io.Reader, size int64) (Extracted, error)
}

// Chunker splits extracted text into ordered chunks.
type Chunker interface {
	Chunk(ctx context.Context, doc Extracted) ([]Chunk, error)
}

// BoundedChunker is a Chunker that enforces a chunk cap while it works: it
// fails with an error wrapping ErrTooLarge as soon as it has made max+1
// chunks, instead of chunking the whole document and counting after.
type BoundedChunker interface {
	Chunker
	ChunkAtMost(ctx context.Context, doc Extracted, max int) ([]Chunk, error)
}

// ChunkAtMost splits doc with c and fails with an error wrapping ErrTooLarge
// when doc has more than max chunks (max <= 0: no cap). A BoundedChunker
// stops at the first chunk past max; any other Chunker is counted after.
func ChunkAtMost(ctx context.Context, c Chunker, doc Extracted, max int) ([]Chunk, error) {
	if max <= 0 {
		return c.Chunk(ctx, doc)
	}
	if bc, ok := c.(BoundedChunker); ok {
		return bc.ChunkAtMost(ctx, doc, max)
	}
	chunks, err := c.Chunk(ctx, doc)
	if err != nil {
		return nil, err
	}
	if len(chunks) > max {
		return nil, fmt.Errorf("%w: more than %d chunks", ErrTooLarge, max)
	}
	return chunks, nil
}

// SectionSink receives a document's sections in reading order.
type SectionSink interface {
	Add(Section) error
}

// StreamExtractor is an Extractor that hands over sections as it reads
// (a page of a PDF, a block of plain text) instead of holding the whole
// text: memory is bounded by a section, not by the document. It stops at the
// first error sink.Add returns and returns it.
type StreamExtractor interface {
	Extractor
	ExtractTo(ctx context.Context, mediaType string, r io.Reader, size int64, sink SectionSink) error
}

// ChunkStream is one document being chunked as its sections arrive: Add each
// section in order, then Close (which fails with ErrEmpty when no chunk was
// cut).
type ChunkStream interface {
	SectionSink
	Close() error
}

// StreamChunker is a Chunker that cuts chunks as sections arrive, exactly
// as Chunk cuts the whole document; yield gets each chunk as soon as it is
// cut, and max caps their number as in ChunkAtMost.
type StreamChunker interface {
	Chunker
	Start(ctx context.Context, max int, yield func(Chunk) error) ChunkStream
}

// Embedder embeds texts; the result has one vector per input, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Model() string
	Dimensions() int
}
