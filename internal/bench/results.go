package bench

import (
	"bufio"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Results is everything one make bench run measured.
type Results struct {
	Date     time.Time `json:"date"`
	Mode     string    `json:"mode"` // "full" or "smoke"
	Host     Host      `json:"host"`
	Ingest   *Ingest   `json:"ingest,omitempty"`
	Latency  *Latency  `json:"latency,omitempty"`
	Memory   *Memory   `json:"memory,omitempty"`
	Skew     *Skew     `json:"skew,omitempty"`
	Micro    []Micro   `json:"micro,omitempty"`
	Embed    string    `json:"embed,omitempty"`     // raw `go test -bench` output of the embedding benchmarks, if any
	EmbedCmd string    `json:"embed_cmd,omitempty"` // the command that would produce it
	Commands []string  `json:"commands,omitempty"`  // exact commands of this run
	Duration float64   `json:"duration_seconds"`
}

// Skew is one large document among small ones against uniform documents
// of about the same total chunks, timed through the real worker.
type Skew struct {
	DocBytes int       `json:"doc_bytes"` // the median document
	Factor   int       `json:"factor"`    // the large one is Factor × DocBytes
	Runs     []SkewRun `json:"runs"`
}

// SkewRun is one corpus through a fresh worker.
type SkewRun struct {
	Name      string  `json:"name"`
	Documents int     `json:"documents"`
	Chunks    int     `json:"chunks"`
	Parallel  int     `json:"parallel"` // --document-parallel
	Seconds   float64 `json:"seconds"`
}

// Ratio is the skewed run's time per chunk over the uniform run's (the
// first two runs), and whether both were measured.
func (s *Skew) Ratio() (float64, bool) {
	if s == nil || len(s.Runs) < 2 || s.Runs[0].Chunks == 0 || s.Runs[1].Chunks == 0 || s.Runs[0].Seconds == 0 {
		return 0, false
	}
	u := s.Runs[0].Seconds / float64(s.Runs[0].Chunks)
	k := s.Runs[1].Seconds / float64(s.Runs[1].Chunks)
	return k / u, true
}

// Host describes the machine.
type Host struct {
	NProc       int    `json:"nproc"`
	MemoryBytes int64  `json:"memory_bytes"`
	CPU         string `json:"cpu"`
	LoadAvg     string `json:"loadavg"` // at the start of the run
	Go          string `json:"go"`
	Postgres    string `json:"postgres"`
	PGVector    string `json:"pgvector"`
	Commit      string `json:"commit"`
}

// Ingest compares loading the same chunks and vectors through the physical
// limit and through tenantry.
type Ingest struct {
	Documents   int     `json:"documents"`
	Tenants     int     `json:"tenants"`
	Chunks      int     `json:"chunks"`
	Dims        int     `json:"dims"`
	DocBytes    int     `json:"doc_bytes"`
	ChunkTokens int     `json:"chunk_tokens"`
	Concurrency int     `json:"concurrency"`
	Runs        []Run   `json:"runs"`
	Stages      []Stage `json:"stages"`
	// HandlerSeconds is the worker's total handler time
	// (tenantry_worker_handler_duration_seconds_sum).
	HandlerSeconds float64 `json:"handler_seconds"`
	// QueueLagMean is the mean time from SQS SentTimestamp to receipt.
	QueueLagMean float64 `json:"queue_lag_mean_seconds"`
	// Identical is true when the worker stored exactly the rows the COPY
	// loaded (same texts, hashes, vectors, ordinals).
	Identical bool   `json:"identical"`
	Check     string `json:"check"`
	// StoreClaimCPU and StoreCommitCPU split the store-only run's
	// PostgreSQL CPU seconds between the claim and the commit transactions.
	StoreClaimCPU  float64 `json:"store_claim_cpu_seconds"`
	StoreCommitCPU float64 `json:"store_commit_cpu_seconds"`
}

// Run is one way of loading the corpus.
type Run struct {
	Name    string  `json:"name"`
	Kind    string  `json:"kind"` // "limit" (the baseline), "tenantry" (the measured path), "diagnostic"
	What    string  `json:"what"`
	Chunks  int     `json:"chunks"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
	Streams int     `json:"streams"`
	// DBCPU is the CPU time of the PostgreSQL backends that did the load;
	// AppCPU that of the worker process (0: not measured).
	DBCPU  float64 `json:"db_cpu_seconds"`
	AppCPU float64 `json:"app_cpu_seconds"`
}

// Stage is one pipeline stage's total time across all documents.
type Stage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	Count   float64 `json:"count"`
}

// Latency is upload → searchable for small documents at a steady rate.
type Latency struct {
	DocBytes int       `json:"doc_bytes"`
	Rate     float64   `json:"rate_per_sec"`
	WaitTime string    `json:"wait_time"`
	Pollers  int       `json:"pollers"`
	Total    []float64 `json:"total_seconds"`  // PUT start → document ready
	Put      []float64 `json:"put_seconds"`    // presigned PUT
	Notify   []float64 `json:"notify_seconds"` // SendMessage of the notification
	// QueueLagMean, HandlerMean: from the worker's metrics.
	QueueLagMean float64 `json:"queue_lag_mean_seconds"`
	HandlerMean  float64 `json:"handler_mean_seconds"`
	PollEvery    string  `json:"poll_every"`
	// Tail holds the p99 bucket bounds of the worker's histograms (handler,
	// queue lag, each stage), to see where the slowest documents lost time.
	Tail map[string]float64 `json:"tail_p99,omitempty"`
	// Slowest are the slowest documents' total seconds with their PUT and
	// SendMessage shares.
	Slowest []Sample `json:"slowest,omitempty"`
}

// Sample is one latency sample's split.
type Sample struct {
	Total, Put, Notify float64
}

// Memory is the worker's peak RSS by document size.
type Memory struct {
	MaxDocumentBytes int64    `json:"max_document_bytes"`
	Rows             []MemRow `json:"rows"`
}

// MemRow is one fresh worker process handling one document.
type MemRow struct {
	Label     string  `json:"label"`
	MediaType string  `json:"media_type"`
	Bytes     int64   `json:"bytes"`
	IdleRSS   int64   `json:"idle_rss"` // VmHWM once ready, before the document
	PeakRSS   int64   `json:"peak_rss"` // VmHWM after the document
	Seconds   float64 `json:"seconds"`
	Status    string  `json:"status"`
	Error     string  `json:"error,omitempty"`
	Chunks    int     `json:"chunks"`
	Pages     int     `json:"pages,omitempty"`
	// Cold: a PDF handled by a process that compiled PDFium first (its
	// compile cache was empty); otherwise the compiled code was cached.
	Cold bool `json:"cold,omitempty"`
	// Seeded: a PDF handled by a fresh process whose empty compile cache
	// was seeded with code compiled ahead of time (--pdf-seed-dir, as the
	// container image is built): it loads PDFium without compiling.
	Seeded bool `json:"seeded,omitempty"`
	// Stages are the seconds per pipeline stage (tenantry_stage_seconds).
	Stages map[string]float64 `json:"stages,omitempty"`
	// MaxHeap and MaxLive are the largest Go heap at a GC start and the
	// largest live heap after a GC, from the worker's GODEBUG=gctrace=1.
	MaxHeap int64 `json:"max_heap"`
	MaxLive int64 `json:"max_live"`
}

// Micro is one `go test -bench` result, the median of its repetitions.
type Micro struct {
	Pkg     string  `json:"pkg"`
	Name    string  `json:"name"` // without the Benchmark prefix and -GOMAXPROCS suffix
	Runs    int     `json:"runs"`
	NsPerOp float64 `json:"ns_per_op"`
	MBps    float64 `json:"mb_per_s,omitempty"`
	Min     float64 `json:"min_ns_per_op"`
	Max     float64 `json:"max_ns_per_op"`
}

// ParseGoBench reads `go test -bench` output (several packages, -count N)
// and returns one Micro per benchmark with the medians, in first-seen order.
func ParseGoBench(out string) []Micro {
	type acc struct {
		pkg      string
		ns, mbps []float64
	}
	var order []string
	all := map[string]*acc{}
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		var ns, mbps float64
		for i := 2; i+1 < len(f); i++ {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				ns = v
			case "MB/s":
				mbps = v
			}
		}
		if ns == 0 {
			continue
		}
		key := pkg + "\x00" + name
		a := all[key]
		if a == nil {
			a = &acc{pkg: pkg}
			all[key] = a
			order = append(order, key)
		}
		a.ns = append(a.ns, ns)
		if mbps > 0 {
			a.mbps = append(a.mbps, mbps)
		}
	}
	out2 := make([]Micro, 0, len(order))
	for _, k := range order {
		a := all[k]
		_, name, _ := strings.Cut(k, "\x00")
		m := Micro{Pkg: a.pkg, Name: name, Runs: len(a.ns), NsPerOp: Median(a.ns), Min: minOf(a.ns), Max: maxOf(a.ns)}
		if len(a.mbps) > 0 {
			m.MBps = Median(a.mbps)
		}
		out2 = append(out2, m)
	}
	return out2
}

// FindMicro returns the benchmark called name (nil if absent).
func FindMicro(ms []Micro, name string) *Micro {
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i]
		}
	}
	return nil
}

// Median of xs (0 for none).
func Median(xs []float64) float64 { return Percentile(xs, 50) }

// Percentile returns the p-th percentile of xs (nearest rank, p in
// [0, 100]); 0 for an empty slice.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if p <= 0 {
		return s[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func minOf(xs []float64) float64 { return Percentile(xs, 0) }
func maxOf(xs []float64) float64 { return Percentile(xs, 100) }

// Mean of xs (0 for none).
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
