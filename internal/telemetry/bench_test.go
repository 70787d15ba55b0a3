package telemetry_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tenantry/tenantry/internal/telemetry"
	"github.com/tenantry/tenantry/pipeline"
)

// Fakes for a whole-document ingest: the stages cost almost nothing, so the
// ratio against the untraced run is the tracing overhead at its largest.
type benchFetcher struct{ body string }

func (f benchFetcher) Fetch(context.Context, pipeline.Document, int64) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(f.body)), nil
}

type benchExtractor struct{}

func (benchExtractor) Extract(_ context.Context, _ string, r io.Reader, _ int64) (pipeline.Extracted, error) {
	b, err := io.ReadAll(r)
	return pipeline.Extracted{Sections: []pipeline.Section{{Text: string(b)}}}, err
}

type benchChunker struct{}

func (benchChunker) Chunk(_ context.Context, e pipeline.Extracted) ([]pipeline.Chunk, error) {
	var out []pipeline.Chunk
	for i, line := range strings.Split(e.Sections[0].Text, "\n") {
		out = append(out, pipeline.Chunk{Ordinal: i, Text: line})
	}
	return out, nil
}

type benchEmbedder struct{}

func (benchEmbedder) Model() string   { return "bench" }
func (benchEmbedder) Dimensions() int { return 1 }
func (benchEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = []float32{1}
	}
	return out, nil
}

type benchStore struct{}

func (benchStore) Claim(context.Context, pipeline.Document) (pipeline.Claim, error) {
	return pipeline.ClaimProceed, nil
}
func (benchStore) Commit(context.Context, pipeline.Document, []pipeline.Chunk, []pipeline.Embedding) error {
	return nil
}
func (benchStore) Fail(context.Context, pipeline.Document, string) error { return nil }
func (benchStore) Delete(context.Context, pipeline.Document) error       { return nil }

// BenchmarkIngestTracing: one document of 256 chunks in batches of 16 (20
// stage spans) untraced, with the stage observer on a no-op provider
// (tracing off: the default), and on a recording SDK provider (tracing on).
// TENANTRY_BENCH=full uses 4096 chunks.
func BenchmarkIngestTracing(b *testing.B) {
	n := 256
	if os.Getenv("TENANTRY_BENCH") == "full" {
		n = 4096
	}
	var sb strings.Builder
	for i := range n {
		sb.WriteString("chunk text ")
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteByte('\n')
	}
	body := strings.TrimSuffix(sb.String(), "\n")
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	for _, c := range []struct {
		name string
		obs  pipeline.StageObserver
	}{
		{"baseline", nil},
		{"off", telemetry.Stages{Provider: noop.NewTracerProvider()}},
		{"on", telemetry.Stages{Provider: sdk}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			if c.name == "on" { // under a recording message span, as in the worker
				c, span := sdk.Tracer("bench").Start(ctx, "message")
				ctx = c
				defer span.End()
			}
			p := &pipeline.Processor{Fetcher: benchFetcher{body}, Extractor: benchExtractor{}, Chunker: benchChunker{},
				Embedder: benchEmbedder{}, Limits: pipeline.Limits{EmbedBatch: 16}, Observer: c.obs}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Ingest(ctx, benchStore{}, pipeline.Document{DocumentID: "d"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
