package retrieval_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/retrieval"
)

func TestWriteHits(t *testing.T) {
	t.Parallel()
	hits := []retrieval.Hit{{DocumentID: "doc-1", Ordinal: 2, Page: 3, Score: 0.5, Text: "first\n line   of\ttext " + strings.Repeat("x", 200)}}
	var table, lines bytes.Buffer
	if err := retrieval.WriteHits(&table, hits, false); err != nil {
		t.Fatal(err)
	}
	got := table.String()
	if !strings.HasPrefix(got, "0.500  doc-1#2 (page 3)  first line of text x") || !strings.HasSuffix(got, "…\n") || strings.Count(got, "\n") != 1 {
		t.Fatalf("table line %q", got)
	}
	if err := retrieval.WriteHits(&lines, hits, true); err != nil {
		t.Fatal(err)
	}
	var back retrieval.Hit
	if err := json.Unmarshal(lines.Bytes(), &back); err != nil || back.DocumentID != "doc-1" || back.Ordinal != 2 {
		t.Fatalf("JSON line %q: %v", lines.String(), err)
	}
}
