package bench_test

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/bench"
)

const goBenchOut = `goos: linux
goarch: amd64
pkg: github.com/tenantry/tenantry/internal/tenantdb
cpu: AMD EPYC
BenchmarkTenantTx/document/scoped-2         	    8589	    300000 ns/op	    1558 B/op	      48 allocs/op
BenchmarkTenantTx/document/scoped-2         	    8589	    200000 ns/op	    1558 B/op	      48 allocs/op
BenchmarkTenantTx/document/scoped-2         	    8589	    250000 ns/op	    1558 B/op	      48 allocs/op
BenchmarkTenantTx/document/owner-2          	   11606	    100000 ns/op
BenchmarkTenantTx/chunks16/scoped-2         	     543	   4000000 ns/op
BenchmarkTenantTx/chunks16/owner-2          	    1372	   2000000 ns/op
PASS
ok  	github.com/tenantry/tenantry/internal/tenantdb	10.533s
pkg: github.com/tenantry/tenantry/internal/chunk
BenchmarkChunk-2   	      10	 100000000 ns/op	  10.49 MB/s
BenchmarkChunk-2   	      10	 120000000 ns/op	   8.74 MB/s
--- FAIL: BenchmarkBroken
BenchmarkNoNumbers-2 	 garbage
`

func TestParseGoBench(t *testing.T) {
	t.Parallel()
	ms := bench.ParseGoBench(goBenchOut)
	tests := []struct {
		name string
		pkg  string
		runs int
		ns   float64
		mbps float64
	}{
		{"TenantTx/document/scoped", "github.com/tenantry/tenantry/internal/tenantdb", 3, 250000, 0},
		{"TenantTx/document/owner", "github.com/tenantry/tenantry/internal/tenantdb", 1, 100000, 0},
		{"TenantTx/chunks16/scoped", "github.com/tenantry/tenantry/internal/tenantdb", 1, 4e6, 0},
		{"Chunk", "github.com/tenantry/tenantry/internal/chunk", 2, 1e8, 8.74},
	}
	if len(ms) != 5 {
		t.Fatalf("parsed %d benchmarks, want 5: %+v", len(ms), ms)
	}
	for _, tt := range tests {
		m := bench.FindMicro(ms, tt.name)
		if m == nil {
			t.Errorf("%s not parsed", tt.name)
			continue
		}
		if m.Pkg != tt.pkg || m.Runs != tt.runs || m.NsPerOp != tt.ns || m.MBps != tt.mbps {
			t.Errorf("%s: got %+v", tt.name, *m)
		}
	}
	if r, ok := bench.TenantTxRatio(ms, "document"); !ok || r != 2.5 {
		t.Errorf("document ratio %v %v, want 2.5", r, ok)
	}
	if _, ok := bench.TenantTxRatio(ms, "nothing"); ok {
		t.Error("ratio of a missing benchmark")
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	tests := []struct {
		p, want float64
	}{{0, 1}, {10, 1}, {50, 5}, {90, 9}, {99, 10}, {100, 10}}
	for _, tt := range tests {
		if got := bench.Percentile(xs, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if bench.Percentile(nil, 50) != 0 || bench.Mean(nil) != 0 {
		t.Error("empty input")
	}
	if m := bench.Mean([]float64{1, 2, 3}); math.Abs(m-2) > 1e-12 {
		t.Errorf("mean %v", m)
	}
	if xs[0] != 5 {
		t.Error("Percentile sorted its input")
	}
}

func sampleResults() bench.Results {
	return bench.Results{
		Date: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), Mode: "full", Duration: 300,
		Host:     bench.Host{NProc: 2, MemoryBytes: 24 << 30, CPU: "AMD EPYC", LoadAvg: "3.0 2.0 1.0", Go: "go1.26", Postgres: "PostgreSQL 15.9", PGVector: "0.8.0", Commit: "abc123"},
		Commands: []string{"make bench"},
		Ingest: &bench.Ingest{Documents: 10, Tenants: 2, Chunks: 1000, Dims: 1024, DocBytes: 8192, ChunkTokens: 512, Concurrency: 8,
			Runs: []bench.Run{
				{Name: "COPY (limit, before)", Kind: "limit", Chunks: 1000, Seconds: 2, PerSec: 500, Streams: 1, DBCPU: 2},
				{Name: "COPY, no HNSW index", Kind: "diagnostic", Chunks: 1000, Seconds: 0.2, PerSec: 5000, Streams: 1, DBCPU: 0.2},
				{Name: "COPY, parallel streams", Kind: "diagnostic", What: "2 COPYs at once", Chunks: 1000, Seconds: 1.4, PerSec: 700, Streams: 2, DBCPU: 2.6},
				{Name: "tenant store only", Kind: "diagnostic", Chunks: 1000, Seconds: 2.5, PerSec: 400, Streams: 8, DBCPU: 4},
				{Name: "tenantry worker", Kind: "tenantry", Chunks: 1000, Seconds: 4, PerSec: 250, Streams: 8, DBCPU: 4, AppCPU: 1},
				{Name: "COPY (limit, after)", Kind: "limit", Chunks: 1000, Seconds: 4, PerSec: 250, Streams: 1, DBCPU: 2.2},
			},
			StoreClaimCPU: 0.5, StoreCommitCPU: 3.5,
			Stages:         []bench.Stage{{Name: "store", Seconds: 3, Count: 10}, {Name: "embed", Seconds: 1, Count: 10}},
			HandlerSeconds: 5, Check: "identical", Identical: true},
		Latency: &bench.Latency{DocBytes: 10240, Rate: 4, WaitTime: "20s", Pollers: 2, PollEvery: "5ms",
			Total: []float64{0.1, 0.2, 0.3, 1.5}, Put: []float64{0.01}, Notify: []float64{0.002}},
		Memory: &bench.Memory{MaxDocumentBytes: 200 << 20, Rows: []bench.MemRow{
			{Label: "text 1 MiB", MediaType: "text/plain", Bytes: 1 << 20, IdleRSS: 50 << 20, PeakRSS: 60 << 20, Status: "ready", Chunks: 400},
			{Label: "text 100 MiB", MediaType: "text/plain", Bytes: 100 << 20, IdleRSS: 50 << 20, PeakRSS: 700 << 20, Status: "failed", Error: "document_too_large"},
			{Label: "PDF, 1500 pages, first use", MediaType: "application/pdf", Bytes: 5 << 20, IdleRSS: 50 << 20, PeakRSS: 350 << 20, Status: "ready", Chunks: 1933, Pages: 1500, Cold: true},
			{Label: "PDF, 1500 pages", MediaType: "application/pdf", Bytes: 5 << 20, IdleRSS: 50 << 20, PeakRSS: 160 << 20, Status: "ready", Chunks: 1933, Pages: 1500},
			{Label: "PDF, 1500 pages, seeded", MediaType: "application/pdf", Bytes: 5 << 20, IdleRSS: 50 << 20, PeakRSS: 210 << 20, Status: "ready", Chunks: 1933, Pages: 1500, Seeded: true},
		}},
		Micro: bench.ParseGoBench(goBenchOut),
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*bench.Results)
		want   []string
		absent []string
	}{
		{"full", func(*bench.Results) {}, []string{
			"# Benchmarks", "2026-11-24 12:00 UTC", "2 CPUs (AMD EPYC), 24.0 GiB RAM",
			"| ingest through tenantry ≥ 1.0 × one raw binary COPY stream (chunks/s, wall clock, same data, same HNSW index) | 0.50 × | **not met** (noisy: see §1) |",
			"| ingest through tenantry ≥ 0.8 × the best raw configuration measured (2 COPYs at once) | 0.36 × | **not met** |",
			"| worker + PostgreSQL CPU per chunk ≤ 1.3 × the raw COPY's | 2.5 × (chunks/s if each path had the 2 CPUs to itself: 0.80 ×) | **not met** |",
			"| upload → searchable p99 no worse than when issue 15 was filed (50 ms) | 1.50 s | **not met** |",
			"each document costs about **200.0 ms of PostgreSQL CPU**",
			"| upload → searchable p50 ≤ 300 ms (10 KiB documents, 4.0/s) | 200 ms | met |",
			"| upload → searchable p99 ≤ 1.00 s | 1.50 s (n = 4) | **not met** |",
			"| worker peak RSS ≤ 150 MiB for a 100 MiB text document | 700 MiB (failed (document_too_large)) | **not met** |",
			"| worker peak RSS ≤ 200 MiB for a 1500-page PDF, PDFium's compiled code in `--pdf-cache-dir` (a restarted task) | 160 MiB (ready, 1933 chunks) | met |",
			"| worker peak RSS ≤ 200 MiB for a 1500-page PDF, a fresh task's first PDF (PDFium compiled when the image was built, `--pdf-seed-dir`) | 210 MiB (ready, 1933 chunks) | **not met** |",
			"| worker peak RSS for the same PDF in a process that compiles PDFium first (no compiled code: the binary run without the image's seed and an empty cache, or on a CPU lacking the build machine's features) | 350 MiB (ready, 1933 chunks) | reported |",
			"| **tenantry worker** |", "index maintenance is 90% of the limit's cost",
			"**2.50 ×**", "Placeholder — not measured in this run", "make bench",
		}, []string{"Smoke run"}},
		{"smoke, embedding results present", func(r *bench.Results) {
			r.Mode = "smoke"
			r.Embed = "BenchmarkSmallTenant-2 1 123 ns/op"
			r.EmbedCmd = "go test -bench . ./internal/embed/fair"
		}, []string{"Smoke run", "BenchmarkSmallTenant-2 1 123 ns/op", "each command after `$`"},
			[]string{"Placeholder"}},
		{"nothing measured", func(r *bench.Results) {
			r.Ingest, r.Latency, r.Memory, r.Micro = nil, nil, nil, nil
		}, []string{"# Benchmarks", "Placeholder"}, []string{"## 1.", "## 2.", "## 3.", "## 4."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := sampleResults()
			tt.mutate(&r)
			var b bytes.Buffer
			if err := bench.Render(&b, r); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(out, a) {
					t.Errorf("report has %q", a)
				}
			}
			if t.Failed() {
				t.Log(out)
			}
		})
	}
}

func ExampleRender() {
	var b bytes.Buffer
	r := bench.Results{Mode: "full", Latency: &bench.Latency{DocBytes: 10 << 10, Rate: 4, Total: []float64{0.12, 0.2, 0.25}}}
	_ = bench.Render(&b, r)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "| upload → searchable p50") {
			fmt.Println(line)
		}
	}
	// Output: | upload → searchable p50 ≤ 300 ms (10 KiB documents, 4.0/s) | 200 ms | met |
}
