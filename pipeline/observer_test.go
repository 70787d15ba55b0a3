package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tenantry/tenantry/pipeline"
)

// recorder is a StageObserver that records stages as they end.
type recorder struct {
	mu    sync.Mutex
	ended []string
	items map[string]int
}

type stageKey struct{}

func (r *recorder) StageStart(ctx context.Context, stage string, items int) (context.Context, func(error)) {
	ctx = context.WithValue(ctx, stageKey{}, stage)
	return ctx, func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		name := stage
		if err != nil {
			name += "!"
		}
		r.ended = append(r.ended, name)
		if r.items == nil {
			r.items = map[string]int{}
		}
		r.items[stage] += items
	}
}

// stageSeeingEmbedder checks that the embed stage's context reaches the
// embedder (so a span opened there is the parent of the provider's calls).
type stageSeeingEmbedder struct{ embedder }

func (e stageSeeingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if ctx.Value(stageKey{}) != "embed" {
		return nil, errors.New("embedder called outside the embed stage's context")
	}
	return e.embedder.Embed(ctx, texts)
}

func TestStageObserver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stream bool
		want   []string
	}{
		{"whole", false, []string{"fetch", "extract", "chunk", "embed", "embed", "store"}},
		{"streaming", true, []string{"fetch", "embed", "store", "embed", "store", "extract", "flip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			p := &pipeline.Processor{Fetcher: fetcher{body: numbered(6)}, Extractor: extractor{got: new(string)}, Chunker: chunker{},
				Embedder: stageSeeingEmbedder{}, Limits: pipeline.Limits{EmbedBatch: 3, Parallel: 1}, Observer: rec}
			var st pipeline.Store = &store{}
			if tc.stream {
				p.Extractor, p.Chunker = streamExtractor{extractor: extractor{got: new(string)}}, streamChunker{}
				st = &pendingStore{stored: map[int]bool{}}
			}
			res, err := p.Ingest(context.Background(), st, pipeline.Document{DocumentID: "d"})
			if err != nil || res.Chunks != 6 {
				t.Fatalf("ingest: %+v, %v", res, err)
			}
			got := slices.Clone(rec.ended)
			if tc.stream { // batches overlap extraction: compare as sets of counts
				slices.Sort(got)
				tc.want = slices.Sorted(slices.Values(tc.want))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("stages %v, want %v", rec.ended, tc.want)
			}
			if rec.items["embed"] != 6 {
				t.Fatalf("embed stages saw %d chunks, want 6", rec.items["embed"])
			}
		})
	}
}

func TestStageObserverSeesFailures(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	p := &pipeline.Processor{Fetcher: fetcher{err: errors.New("gone")}, Extractor: extractor{got: new(string)}, Chunker: chunker{},
		Embedder: embedder{}, Observer: rec}
	if _, err := p.Ingest(context.Background(), &store{}, pipeline.Document{DocumentID: "d"}); err == nil {
		t.Fatal("no error")
	}
	if strings.Join(rec.ended, ",") != "fetch!" {
		t.Fatalf("stages %v, want a failed fetch", rec.ended)
	}
}
