package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/pgvector/pgvector-go"

	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// labelledSection is one section of a hand-written document: its heading
// is a query, its paragraphs the chunks relevant to it.
type labelledSection struct {
	query      string
	paragraphs []string
}

// hybridCorpus reads the project's hand-written docs (docs/*.md, without the
// generated ones) into sections: a "##"/"###" heading of at least two words
// is a query, the paragraphs under it (prose and lists, not code or tables,
// at least 60 bytes) are its relevant chunks. Real text, labelled by its
// authors' own structure.
func hybridCorpus(t *testing.T) []labelledSection {
	t.Helper()
	generated := map[string]bool{"reasons.md": true, "configuration.md": true, "benchmarks.md": true, "search-benchmarks.md": true}
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	slices.Sort(files)
	var out []labelledSection
	for _, f := range files {
		if generated[filepath.Base(f)] {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur *labelledSection
		inCode := false
		for _, para := range strings.Split(string(b), "\n\n") {
			p := strings.TrimSpace(para)
			if strings.Count(p, "```")%2 == 1 {
				inCode = !inCode
				continue
			}
			if inCode || strings.HasPrefix(p, "```") || strings.HasPrefix(p, "|") {
				continue
			}
			if h, ok := strings.CutPrefix(p, "## "); ok || strings.HasPrefix(p, "### ") {
				if !ok {
					h = strings.TrimPrefix(p, "### ")
				}
				line, rest, _ := strings.Cut(h, "\n")
				if cur != nil && len(cur.paragraphs) > 0 {
					out = append(out, *cur)
				}
				cur = nil
				if len(strings.Fields(line)) >= 2 {
					cur = &labelledSection{query: strings.Trim(line, "# ")}
				}
				p = strings.TrimSpace(rest)
			}
			if cur != nil && len(p) >= 60 {
				cur.paragraphs = append(cur.paragraphs, p)
			}
		}
		if cur != nil && len(cur.paragraphs) > 0 {
			out = append(out, *cur)
		}
	}
	return out
}

// TestHybridQuality measures ranking quality on a small labelled set of
// real text (hybridCorpus): the mean reciprocal rank of the first relevant
// chunk and recall@10, vector-only against hybrid (vector + full text,
// reciprocal rank fusion), both through retrieval.Searcher with the
// offline embedder. Asserts nothing about quality (it is a measurement);
// writes Markdown to $TENANTRY_HYBRID_BENCH_DOC when set.
func TestHybridQuality(t *testing.T) {
	t.Parallel()
	sections := hybridCorpus(t)
	db := tenantdbtest.NewDatabase(t)
	ctx := context.Background()
	emb, err := offline.New(offline.Config{Dims: tenantdbtest.Dims})
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	type ref struct {
		doc string
		ord int
	}
	var docs, chunks [][]any
	relevant := make([][]ref, len(sections))
	for i, s := range sections {
		id := fmt.Sprintf("sec-%03d", i)
		docs = append(docs, []any{tenant, id, "s3://bench/" + id, "sha256:v1", "ready", len(s.paragraphs), offline.Model, "{}"})
		vecs, err := emb.Embed(ctx, s.paragraphs)
		if err != nil {
			t.Fatal(err)
		}
		for o, p := range s.paragraphs {
			chunks = append(chunks, []any{tenant, id, "sha256:v1", o, p, len(p) / 4, o * 1000, o*1000 + len(p), 1,
				pgvector.NewVector(vecs[o]), offline.Model, fmt.Sprintf("h%d", o)})
			relevant[i] = append(relevant[i], ref{id, o})
		}
	}
	db.BulkLoad(t, "tenants", []string{"tenant_id"}, [][]any{{tenant}})
	db.BulkLoad(t, "documents", []string{"tenant_id", "document_id", "source_uri", "version", "status", "chunk_count", "model", "attributes"}, docs)
	db.BulkLoad(t, "chunks", []string{"tenant_id", "document_id", "version", "ordinal", "text", "token_count",
		"char_start", "char_end", "page", "embedding", "model", "content_hash"}, chunks)
	s, err := retrieval.New(db.Open(t), retrieval.Config{Dims: tenantdbtest.Dims})
	if err != nil {
		t.Fatal(err)
	}
	scope := tenantdbtest.Scope(t, tenant)
	type score struct{ mrr, recall float64 }
	var results [2]score
	modes := []retrieval.Mode{retrieval.ModeVector, retrieval.ModeHybrid}
	for i, sec := range sections {
		q, err := emb.Embed(ctx, []string{sec.query})
		if err != nil {
			t.Fatal(err)
		}
		for m, mode := range modes {
			res, err := s.Search(ctx, scope, retrieval.Request{Vector: q[0], Text: sec.query, K: 10, Mode: mode, Plan: retrieval.PlanExact})
			if err != nil {
				t.Fatal(err)
			}
			found, first := 0, 0
			for r, h := range res.Hits {
				if slices.Contains(relevant[i], ref{h.DocumentID, h.Ordinal}) {
					found++
					if first == 0 {
						first = r + 1
					}
				}
			}
			if first > 0 {
				results[m].mrr += 1 / float64(first)
			}
			results[m].recall += float64(found) / float64(min(10, len(relevant[i])))
		}
	}
	n := float64(len(sections))
	var b strings.Builder
	fmt.Fprintf(&b, "### Hybrid ranking quality (labelled real text)\n\n"+
		"%d queries over %d chunks: each `##`/`###` heading (≥ 2 words) of the project's hand-written docs/*.md is a query, "+
		"the paragraphs under it (prose and lists, ≥ 60 bytes) its relevant chunks; one tenant, exact plan, k=10, offline embedder (%s). "+
		"MRR@10 is the mean reciprocal rank of the first relevant chunk; recall@10 the share of min(10, relevant) found.\n\n"+
		"| ranking | MRR@10 | recall@10 |\n|---|---:|---:|\n", len(sections), len(chunks), offline.Model)
	for m, mode := range modes {
		fmt.Fprintf(&b, "| %s | %.3f | %.3f |\n", mode, results[m].mrr/n, results[m].recall/n)
	}
	fmt.Fprintf(&b, "\nhybrid / vector: MRR %.2f×, recall %.2f×.\n", results[1].mrr/results[0].mrr, results[1].recall/results[0].recall)
	t.Log("\n" + b.String())
	if f := os.Getenv("TENANTRY_HYBRID_BENCH_DOC"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
