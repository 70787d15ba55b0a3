package bench

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Targets of issues 8 and 15.
const (
	// TargetIngestRatio: ingest at least the single-stream raw COPY's
	// chunks/s by wall clock (issue 15; issue 8 asked for 0.8).
	TargetIngestRatio = 1.0
	// TargetIngestBestRatio: at least this share of the best raw
	// configuration measured (the parallel COPY streams, or the single one
	// if faster).
	TargetIngestBestRatio = 0.8
	// TargetCPUCost: worker + PostgreSQL CPU per chunk at most this many
	// times the raw COPY's.
	TargetCPUCost    = 1.3
	TargetLatencyP50 = 0.300 // seconds
	TargetLatencyP99 = 1.0
	// TargetLatencyP99Before: upload → searchable p99 no worse than when
	// issue 15 was filed (docs/benchmarks.md then: 50 ms for 10 KiB
	// documents at 4/s).
	TargetLatencyP99Before = 0.050
	TargetPeakRSS100MB     = 150 << 20
	// TargetPeakRSSPDF: a 1,500-page PDF.
	TargetPeakRSSPDF = 200 << 20
)

// Render writes the Markdown report of r.
func Render(w io.Writer, r Results) error {
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }

	p("# Benchmarks")
	p("")
	p("Written by `make bench` (`deploy/local/bench.sh`) on %s, in %s. Do not edit by hand: run it again.",
		r.Date.UTC().Format("2006-01-02 15:04 MST"), (time.Duration(r.Duration) * time.Second).String())
	if r.Mode != "full" {
		p("")
		p("> **Smoke run** (tiny sizes, mode %q): the numbers below only show that the measurement works.", r.Mode)
	}
	p("")
	p("Every throughput is stated as a **ratio against a baseline measured in the same run** on the same machine, and")
	p("latencies and memory as distributions and growth: this machine is shared and noisy, so absolute figures")
	p("describe only this run. Comparisons of a change's binary before and after it, run alternately by hand, are in")
	p("[comparisons.md](comparisons.md).")
	p("")
	h := r.Host
	p("**Machine:** %d CPUs (%s), %s RAM, load average at start %s; %s; %s with pgvector %s; commit `%s`.",
		h.NProc, orNA(h.CPU), bytesIEC(h.MemoryBytes), orNA(h.LoadAvg), orNA(h.Go), orNA(h.Postgres), orNA(h.PGVector), orNA(h.Commit))
	p("")
	p("## Reproduce")
	p("")
	p("```sh")
	p("make bench    # starts the local stack if needed, runs everything below, rewrites this file")
	p("```")
	p("")
	p("or step by step, inside the stack's environment (`eval \"$(bash deploy/local/stack.sh env)\"`):")
	p("")
	p("```sh")
	for _, c := range r.Commands {
		p("%s", c)
	}
	p("```")
	p("")
	renderSummary(p, r)
	renderIngest(p, r.Ingest, r.Host.NProc)
	renderLatency(p, r.Latency)
	renderMemory(p, r.Memory)
	renderSkew(p, r.Skew)
	renderMicro(p, r.Micro)
	renderEmbed(p, r)
	p("## Chaos and hostile inputs")
	p("")
	p("Not timed here; they prove loss-freedom rather than speed. `make chaos` runs the long version")
	p("(`TENANTRY_CHAOS=long go test -count=1 -timeout 60m -run 'Chaos' -v ./internal/chaos/...`: 1,000 documents,")
	p("at least 20 SIGKILLs of the worker process, a PostgreSQL restart, S3 5xx/hangs/resets through a loopback fault")
	p("proxy, embedding-provider 429/5xx storms); a short version and the hostile-input corpus")
	p("(`TestHostileInputs`, >150 cases) run in `make test`. Each test logs its counts (kills, faults, audit rows).")
	_, err := w.Write(b.Bytes())
	return err
}

type printer func(format string, a ...any)

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func renderSummary(p printer, r Results) {
	p("## Targets and the numbers reached")
	p("")
	p("| target | reached | verdict |")
	p("|---|---|---|")
	if in := r.Ingest; in != nil {
		if ratio, ok := in.Ratio(); ok {
			p("| ingest through tenantry ≥ %.1f × one raw binary COPY stream (chunks/s, wall clock, same data, same HNSW index) | %.2f × | %s (noisy: see §1) |",
				TargetIngestRatio, ratio, verdict(ratio >= TargetIngestRatio))
		}
		if ratio, best, ok := in.BestRatio(); ok {
			p("| ingest through tenantry ≥ %.1f × the best raw configuration measured (%s) | %.2f × | %s |",
				TargetIngestBestRatio, best.What, ratio, verdict(ratio >= TargetIngestBestRatio))
		}
		if cost, bound, ok := in.CPURatio(r.Host.NProc); ok {
			p("| worker + PostgreSQL CPU per chunk ≤ %.1f × the raw COPY's | %.1f × (chunks/s if each path had the %d CPUs to itself: %.2f ×) | %s |",
				TargetCPUCost, cost, r.Host.NProc, bound, verdict(cost <= TargetCPUCost))
		}
	}
	if l := r.Latency; l != nil && len(l.Total) > 0 {
		p50, p99 := Percentile(l.Total, 50), Percentile(l.Total, 99)
		p("| upload → searchable p50 ≤ %s (%s documents, %.1f/s) | %s | %s |", ms(TargetLatencyP50), sizeIEC(l.DocBytes), l.Rate, ms(p50), verdict(p50 <= TargetLatencyP50))
		p("| upload → searchable p99 ≤ %s | %s (n = %d) | %s |", ms(TargetLatencyP99), ms(p99), len(l.Total), verdict(p99 <= TargetLatencyP99))
		p("| upload → searchable p99 no worse than when issue 15 was filed (%s) | %s | %s |", ms(TargetLatencyP99Before), ms(p99), verdict(p99 <= TargetLatencyP99Before))
	}
	if m := r.Memory; m != nil {
		for _, row := range m.Rows {
			switch {
			case row.MediaType == "text/plain" && row.Bytes >= 100<<20:
				// The target is set at 100 MB and holds above it (flat in size).
				p("| worker peak RSS ≤ 150 MiB for a %s text document | %s (%s) | %s |", sizeIEC(int(row.Bytes)), bytesIEC(row.PeakRSS),
					statusText(row), verdict(row.PeakRSS <= TargetPeakRSS100MB))
			case row.Pages > 0 && row.Cold:
				p("| worker peak RSS for the same PDF in a process that compiles PDFium first (no compiled code: the binary run without the image's seed and an empty cache, or on a CPU lacking the build machine's features) | %s (%s) | reported |",
					bytesIEC(row.PeakRSS), statusText(row))
			case row.Pages > 0 && row.Seeded:
				p("| worker peak RSS ≤ 200 MiB for a %d-page PDF, a fresh task's first PDF (PDFium compiled when the image was built, `--pdf-seed-dir`) | %s (%s) | %s |", row.Pages, bytesIEC(row.PeakRSS), statusText(row),
					verdict(row.PeakRSS <= TargetPeakRSSPDF))
			case row.Pages > 0:
				p("| worker peak RSS ≤ 200 MiB for a %d-page PDF, PDFium's compiled code in `--pdf-cache-dir` (a restarted task) | %s (%s) | %s |", row.Pages, bytesIEC(row.PeakRSS), statusText(row),
					verdict(row.PeakRSS <= TargetPeakRSSPDF))
			}
		}
		if g, ok := m.Growth(); ok {
			p("| memory grows linearly with size | %s | see §3 |", g)
		}
	}
	if ratio, ok := r.Skew.Ratio(); ok {
		p("| one document 100× the median: time per chunk ≤ 1.3 × uniform documents' | %.2f × | %s |", ratio, verdict(ratio <= 1.3))
	}
	for _, pair := range []string{"document", "chunks16", "chunks256"} {
		if ratio, ok := TenantTxRatio(r.Micro, pair); ok {
			p("| tenant transaction overhead (%s write, scoped ÷ owner without RLS) | %.2f × | reported |", pair, ratio)
		}
	}
	if m := FindMicro(r.Micro, "VerifyES256"); m != nil {
		p("| envelope verification (ES256, full VerifyObject) | %.0f µs/op (%.0f /s per core) | reported |", m.NsPerOp/1e3, 1e9/m.NsPerOp)
	}
	if m := FindMicro(r.Micro, "Chunk"); m != nil && m.MBps > 0 {
		p("| chunking (512-token chunks, 64 overlap) | %.1f MB/s per core | reported |", m.MBps)
	}
	if r.Embed == "" {
		p("| embedding at the provider's limit (≥ 90%% of Q, ≤ 1%% throttled); per-tenant fairness | not measured in this run | see §5 |")
	} else {
		p("| embedding at the provider's limit; per-tenant fairness | see §5 | see §5 |")
	}
	p("")
}

// Ratio is the tenantry path's chunks/s over the limit's: the faster of the
// limit runs (the physical limit is the best the machine showed).
func (in *Ingest) Ratio() (float64, bool) {
	tr, lim := in.tenantryRun(), in.limit()
	if tr == nil || lim == 0 {
		return 0, false
	}
	return tr.PerSec / lim, true
}

// BestRatio is the tenantry path's chunks/s over the best raw COPY run
// (the single stream or the parallel streams), and that run.
func (in *Ingest) BestRatio() (float64, *Run, bool) {
	tr, best := in.tenantryRun(), in.fastest(func(r Run) bool { return r.Kind == "limit" || r.Name == "COPY, parallel streams" })
	if tr == nil || best == nil || best.PerSec == 0 {
		return 0, nil, false
	}
	return tr.PerSec / best.PerSec, best, true
}

// limit is the chunks/s of the faster single-stream COPY run (0: none).
func (in *Ingest) limit() float64 {
	if r := in.fastest(func(r Run) bool { return r.Kind == "limit" }); r != nil {
		return r.PerSec
	}
	return 0
}

// fastest is the run of the most chunks/s among those ok accepts (nil: none).
func (in *Ingest) fastest(ok func(Run) bool) *Run {
	var best *Run
	for i, r := range in.Runs {
		if ok(r) && (best == nil || r.PerSec > best.PerSec) {
			best = &in.Runs[i]
		}
	}
	return best
}

// limitCPUPerChunk is the PostgreSQL CPU seconds per chunk of the limit
// runs (the lowest: the cost the machine showed it can achieve).
func (in *Ingest) limitCPUPerChunk() float64 {
	var best float64
	for _, r := range in.Runs {
		if r.Kind == "limit" && r.DBCPU > 0 {
			c := r.DBCPU / float64(r.Chunks)
			if best == 0 || c < best {
				best = c
			}
		}
	}
	return best
}

// CPURatio is the tenantry path's CPU per chunk (PostgreSQL + worker) over
// the limit's, and the ratio of chunks/s the two would reach if each got
// every CPU it can use (the single COPY one backend, tenantry all nproc).
func (in *Ingest) CPURatio(nproc int) (cost, bound float64, ok bool) {
	tr, lim := in.tenantryRun(), in.limitCPUPerChunk()
	if tr == nil || lim == 0 || tr.DBCPU+tr.AppCPU == 0 || nproc < 1 {
		return 0, 0, false
	}
	per := (tr.DBCPU + tr.AppCPU) / float64(tr.Chunks)
	return per / lim, (float64(nproc) / per) / (1 / lim), true
}

// stagingNote points at the micro-benchmark of Tx.CopyFrom's two paths.
const stagingNote = "16 chunks go in as one multi-row INSERT under the policy, 256 as four pipelined 64-row INSERTs"

func (in *Ingest) tenantryRun() *Run {
	for i := range in.Runs {
		if in.Runs[i].Kind == "tenantry" {
			return &in.Runs[i]
		}
	}
	return nil
}

func (in *Ingest) run(name string) *Run {
	for i := range in.Runs {
		if in.Runs[i].Name == name {
			return &in.Runs[i]
		}
	}
	return nil
}

func renderIngest(p printer, in *Ingest, nproc int) {
	if in == nil {
		return
	}
	p("## 1. Ingest against the physical limit")
	p("")
	p("The same corpus — %d text documents of ~%s for %d tenants, cut into %d chunks (%d cl100k tokens, the worker's",
		in.Documents, sizeIEC(in.DocBytes), in.Tenants, in.Chunks, in.ChunkTokens)
	p("default) with %d-d vectors from the offline embedder — loaded into an empty copy of the `chunks` table with the",
		in.Dims)
	p("same HNSW index (`vector_cosine_ops`, default m/ef_construction), on the same PostgreSQL, in the same run. The limit")
	p("is raw binary COPY as the table owner (no RLS, no audit, no transaction per document, no queue, no S3).")
	p("The tenantry path is the real `tenantry worker` process (concurrency %d) fed by SQS: HEAD + envelope", in.Concurrency)
	p("verification, S3 GET, extract, chunk, embed, then per document one tenant transaction (forced RLS, multi-row INSERT,")
	p("hash-chained audit row) — timed from sending the first notification until the last document is ready.")
	p("")
	p("| load | what | streams | chunks | seconds | chunks/s | × limit | CPU s: PostgreSQL + worker | CPU ms per chunk |")
	p("|---|---|---|---|---|---|---|---|---|")
	lim := in.limit()
	for _, r := range in.Runs {
		ratio := "—"
		if lim > 0 {
			ratio = fmt.Sprintf("%.2f", r.PerSec/lim)
		}
		name := r.Name
		if r.Kind == "tenantry" {
			name = "**" + name + "**"
			ratio = "**" + ratio + "**"
		}
		cpu, per := "n/a", "n/a"
		if r.DBCPU+r.AppCPU > 0 {
			cpu = fmt.Sprintf("%.2f + %.2f", r.DBCPU, r.AppCPU)
			per = fmt.Sprintf("%.2f", 1000*(r.DBCPU+r.AppCPU)/float64(max(r.Chunks, 1)))
		}
		p("| %s | %s | %d | %d | %.2f | %.0f | %s | %s | %s |", name, r.What, r.Streams, r.Chunks, r.Seconds, r.PerSec, ratio, cpu, per)
	}
	p("")
	p("× limit is against the faster of the two limit runs (measured before and after the others: the gap between them")
	p("is the noise of this shared machine — compare their CPU columns, which barely move). Same data: %s", in.Check)
	p("")
	if len(in.Stages) > 0 {
		var total float64
		for _, s := range in.Stages {
			total += s.Seconds
		}
		p("### Where the worker's time goes")
		p("")
		p("From the worker's `tenantry_stage_seconds` histograms (sums over all documents; stages of different documents")
		p("overlap, so the sums exceed the wall time). Handler time in total: %.2f s; stages cover %.0f%% of it (the rest", in.HandlerSeconds, 100*safeDiv(total, in.HandlerSeconds))
		p("is the S3 HEAD, envelope verification and SQS bookkeeping). Mean SQS queue lag (sent → received): %s.", ms(in.QueueLagMean))
		p("")
		p("| stage | seconds (sum) | share of stage time | mean per document |")
		p("|---|---|---|---|")
		for _, s := range in.Stages {
			p("| %s | %.2f | %.0f%% | %s |", s.Name, s.Seconds, 100*safeDiv(s.Seconds, total), ms(safeDiv(s.Seconds, s.Count)))
		}
		p("")
	}
	p("### Reading it")
	p("")
	if ratio, ok := in.Ratio(); ok {
		p("- The tenantry path reached **%.2f ×** the physical limit (target %.1f: %s).", ratio, TargetIngestRatio, verdict(ratio >= TargetIngestRatio))
	}
	if cost, bound, ok := in.CPURatio(nproc); ok {
		tr, lc := in.tenantryRun(), in.limitCPUPerChunk()
		p("- CPU is the robust measure here: wall-clock throughput moves with whatever else this shared machine runs, CPU")
		p("  seconds per chunk hardly do. The COPY costs %.2f ms of PostgreSQL CPU per chunk. The tenantry path costs %.2f ms",
			1000*lc, 1000*(tr.DBCPU+tr.AppCPU)/float64(tr.Chunks))
		p("  (%.2f ms in PostgreSQL + %.2f ms in the worker process; the local S3 and SQS servers' CPU is not counted): %.1f ×.",
			1000*tr.DBCPU/float64(tr.Chunks), 1000*tr.AppCPU/float64(tr.Chunks), cost)
		p("  The target is %.1f × (%s).", TargetCPUCost, verdict(cost <= TargetCPUCost))
		p("  A single COPY can use one CPU, tenantry all %d, so with the machine to themselves the ratio would be about", nproc)
		p("  %d × %.2f ÷ %.2f = **%.2f** (%s) — and it shifts in tenantry's favour with more cores, against it with fewer.",
			nproc, 1000*lc, 1000*(tr.DBCPU+tr.AppCPU)/float64(tr.Chunks), bound, verdict(bound >= TargetIngestRatio))
	}
	if no, with := in.run("COPY, no HNSW index"), in.run("COPY (limit, before)"); no != nil && with != nil && no.DBCPU > 0 && with.DBCPU > 0 {
		p("- The HNSW index is the physical limit: the same COPY without it takes %.0f × less PostgreSQL CPU (%.2f vs %.2f ms",
			with.DBCPU/no.DBCPU, 1000*no.DBCPU/float64(no.Chunks), 1000*with.DBCPU/float64(with.Chunks))
		p("  per chunk); index maintenance is %.0f%% of the limit's cost. Every path pays it for every chunk.", 100*(1-no.DBCPU/with.DBCPU))
	}
	if st := in.run("tenant store only"); st != nil && st.DBCPU > 0 && in.limitCPUPerChunk() > 0 {
		lc := in.limitCPUPerChunk()
		extra := (st.DBCPU - lc*float64(st.Chunks)) / float64(in.Documents)
		p("- The database side of the tenant path, alone (pgstore Claim then Commit per document, 8 at once, as the worker")
		p("  role; no queue, S3, extraction or embedding): %.2f ms of PostgreSQL CPU per chunk, %.1f × the COPY's. Beyond the",
			1000*st.DBCPU/float64(st.Chunks), st.DBCPU/(lc*float64(st.Chunks)))
		p("  index, each document costs about **%.1f ms of PostgreSQL CPU** in its two transactions (claim: %.1f ms; commit:", 1000*extra,
			1000*in.StoreClaimCPU/float64(in.Documents))
		p("  the rest — set_config, forced-RLS checks, `Tx.CopyFrom`'s multi-row INSERT, the ledger and document")
		p("  updates, the SECURITY DEFINER audit function with its SHA-256 chain). With ~%.0f chunks per document that is the", float64(in.Chunks)/float64(in.Documents))
		p("  same order as the index itself; larger documents amortise it. §4 isolates the bulk load's cost: %s.", stagingNote)
		p("  (Its wall clock, %.2f × the limit, flatters it: 8 transactions at once use both CPUs, a single COPY one.)", st.PerSec/in.limit())
		if se := in.run("tenant store only, serial"); se != nil && se.DBCPU > 0 {
			serial := (se.DBCPU - lc*float64(se.Chunks)) / float64(in.Documents)
			p("  One document at a time, the same writes cost %.1f ms of PostgreSQL CPU per document beyond the index", 1000*serial)
			diff := "more"
			if serial > extra {
				diff = "less"
			}
			p("  (%.2f ms per chunk in all): 8 at once cost %.1f ms per document %s than one at a time (not broken down", 1000*se.DBCPU/float64(se.Chunks),
				math.Abs(1000*(extra-serial)), diff)
			p("  further here; the statement log of a serial run shows the time inside the chunk INSERT, i.e. the index).")
		}
	}
	if len(in.Stages) > 0 {
		var store, worker float64
		for _, s := range in.Stages {
			switch s.Name {
			case "store", "claim":
				store += s.Seconds
			case "extract", "chunk", "embed":
				worker += s.Seconds
			}
		}
		var total float64
		for _, s := range in.Stages {
			total += s.Seconds
		}
		p("- In the worker, %.0f%% of stage time is the two database transactions (claim + store, including waiting for", 100*safeDiv(store, total))
		p("  CPU and row locks) and %.0f%% extraction, chunking and embedding: the next bottleneck is the database write,", 100*safeDiv(worker, total))
		p("  not the pipeline.")
	}
	if par := in.run("COPY, parallel streams"); par != nil && lim > 0 {
		p("- With %d parallel COPY streams (one per CPU) the owner reaches %.2f × the single-stream limit: HNSW inserts", par.Streams, par.PerSec/lim)
		p("  parallelise across backends, which the worker's concurrent documents also exploit.")
	}
	p("")
}

func renderLatency(p printer, l *Latency) {
	if l == nil || len(l.Total) == 0 {
		return
	}
	p("## 2. Latency: upload → searchable")
	p("")
	p("%d documents of %s (text), one every %s, each uploaded through a presigned PUT (SigV4-verified by the local",
		len(l.Total), sizeIEC(l.DocBytes), (time.Duration(float64(time.Second) / l.Rate)).String())
	p("S3 server, envelope in the signed metadata), then its S3 notification sent to the worker's queue. Measured from the")
	p("start of the PUT until the document row is `ready` (its chunks are committed in the same transaction), observed by")
	p("polling PostgreSQL every %s. The worker runs with its defaults: long poll `WaitTime` = %s, %d pollers.", l.PollEvery, l.WaitTime, l.Pollers)
	p("")
	p("| | p50 | p90 | p99 | max | mean |")
	p("|---|---|---|---|---|---|")
	for _, row := range []struct {
		name string
		xs   []float64
	}{{"**upload → searchable**", l.Total}, {"presigned PUT", l.Put}, {"SendMessage (notification)", l.Notify}} {
		if len(row.xs) == 0 {
			continue
		}
		p("| %s | %s | %s | %s | %s | %s |", row.name, ms(Percentile(row.xs, 50)), ms(Percentile(row.xs, 90)),
			ms(Percentile(row.xs, 99)), ms(Percentile(row.xs, 100)), ms(Mean(row.xs)))
	}
	p("")
	buckets := []float64{0.1, 0.2, 0.3, 0.5, 1, 2}
	var head, sep, row []string
	prev := 0.0
	for i := 0; i <= len(buckets); i++ {
		n := 0
		for _, x := range l.Total {
			if x > prev && (i == len(buckets) || x <= buckets[i]) {
				n++
			}
		}
		if i == len(buckets) {
			head = append(head, "> "+ms(prev))
		} else {
			head = append(head, "≤ "+ms(buckets[i]))
			prev = buckets[i]
		}
		sep = append(sep, "---")
		row = append(row, fmt.Sprintf("%d", n))
	}
	p("Distribution (documents per bucket of upload → searchable):")
	p("")
	p("| %s |", strings.Join(head, " | "))
	p("|%s|", strings.Join(sep, "|"))
	p("| %s |", strings.Join(row, " | "))
	p("")
	p("From the worker's metrics: mean SQS queue lag (SentTimestamp → receipt) %s; mean handler time %s.", ms(l.QueueLagMean), ms(l.HandlerMean))
	if len(l.Tail) > 0 {
		p("")
		p("Where the tail is: the worker's own p99 (upper bound of the histogram bucket holding it) per part —")
		var parts []string
		for _, k := range []string{"queue lag", "handler", "stage fetch", "stage claim", "stage extract", "stage chunk", "stage embed", "stage store"} {
			if v, ok := l.Tail[k]; ok && v > 0 {
				parts = append(parts, fmt.Sprintf("%s ≤ %s", k, ms(v)))
			}
		}
		p("%s.", strings.Join(parts, ", "))
	}
	if len(l.Slowest) > 0 {
		var parts []string
		for _, s := range l.Slowest {
			parts = append(parts, fmt.Sprintf("%s (PUT %s, SendMessage %s)", ms(s.Total), ms(s.Put), ms(s.Notify)))
		}
		p("The slowest documents: %s.", strings.Join(parts, "; "))
	}
	p("")
	p("Notes: a long poll returns as soon as a message arrives, so `WaitTime` adds no latency while the worker is")
	p("idle-waiting; it bounds how long a drain waits. On the local stack the upload's event takes an extra hop in the real")
	p("flow (versitygw webhook → `tenantry dev s3-relay` → SQS); this benchmark sends the notification itself right after")
	p("the PUT, as S3 would, so the relay hop is not included (on AWS, the S3 → SQS delivery time is S3's, outside")
	p("tenantry). The p99 is the number other load on this shared machine moves first: one slow second in a 50 s run")
	p("is enough to cross it, so rerun before reading much into a single run.")
	p("")
}

func renderMemory(p printer, m *Memory) {
	if m == nil || len(m.Rows) == 0 {
		return
	}
	p("## 3. Memory: worker peak RSS by document size")
	p("")
	p("A fresh `tenantry worker` process per document (`TENANTRY_MAX_DOCUMENT_BYTES=%d`); peak RSS is the kernel's", m.MaxDocumentBytes)
	p("high-water mark `VmHWM` from `/proc/<pid>/status`, read once the document is ready or failed. Idle is the same")
	p("mark when the worker became ready, before the document.")
	p("")
	p("| document | bytes | idle peak RSS | peak RSS | growth over idle | growth ÷ size | Go heap at GC, max | live heap after GC, max | seconds | outcome |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range m.Rows {
		growth := r.PeakRSS - r.IdleRSS
		ratio := "—"
		if r.Bytes >= 1<<20 {
			ratio = fmt.Sprintf("%.1f", safeDiv(float64(growth), float64(r.Bytes)))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s |", r.Label, sizeIEC(int(r.Bytes)), bytesIEC(r.IdleRSS), bytesIEC(r.PeakRSS),
			bytesIEC(growth), ratio, bytesIEC(r.MaxHeap), bytesIEC(r.MaxLive), r.Seconds, statusText(r))
	}
	p("")
	if g, ok := m.Growth(); ok {
		p("Growth: %s.", g)
		p("")
	}
	var big *MemRow
	for i := range m.Rows {
		if m.Rows[i].MediaType == "text/plain" && (big == nil || m.Rows[i].Bytes > big.Bytes) {
			big = &m.Rows[i]
		}
	}
	p("How it stays flat: the object is hashed while it is read and kept in an unlinked temporary file above 8 MiB")
	p("(`Processor` spool), plain text is decoded and handed to the chunker in 64 KiB blocks and a PDF page by page")
	p("(`extract.ExtractTo`), the chunker holds only the chunk being cut (`chunk.Stream`), and batches of 64 chunks are")
	p("embedded and written into a pending version, `--document-parallel` of them at once, each in its own short")
	p("transaction; one last short transaction makes the version visible. The live-heap column is the Go runtime's")
	p("own account (`GODEBUG=gctrace=1`); with `GOGC=100` the heap may grow to about twice it before a collection.")
	if big != nil && big.Bytes >= 100<<20 {
		p("")
		p("For the %s document: peak RSS %s against the %s target — %s. Its outcome: %s (the benchmark's worker runs",
			sizeIEC(int(big.Bytes)), bytesIEC(big.PeakRSS), bytesIEC(TargetPeakRSS100MB), verdict(big.PeakRSS <= TargetPeakRSS100MB), statusText(*big))
		p("with `--max-chunks` raised, so every size is processed to the end).")
	}
	p("")
	p("The PDF rows include the memory of the PDFium WebAssembly engine that reads them (its instance lives in the Go heap),")
	p("not only the document's. The same PDF is handled by three fresh workers: one that compiles PDFium before its first")
	p("PDF (~250 MB transient: wazero's compiler, once per process without compiled code), one that loads the code that")
	p("compile left in `--pdf-cache-dir`, and one with an empty cache and `--pdf-seed-dir` pointing at code compiled")
	p("ahead of time by `tenantry pdfium compile`, as the container image is built. Each row checks the worker's own")
	p("\"PDF engine ready\" log line (`compiled`).")
	p("")
}

// Growth summarises peak RSS growth per MiB of text between the smallest
// and largest text documents that were stored.
func (m *Memory) Growth() (string, bool) {
	var text []MemRow
	for _, r := range m.Rows {
		if r.MediaType == "text/plain" {
			text = append(text, r)
		}
	}
	if len(text) < 2 {
		return "", false
	}
	var parts []string
	for i := 1; i < len(text); i++ {
		a, b := text[i-1], text[i]
		if a.Bytes < 1<<20 {
			continue
		}
		d := float64((b.PeakRSS - a.PeakRSS)) / float64(b.Bytes-a.Bytes)
		note := ""
		if b.Status != "ready" {
			note = " (the larger one was refused before embedding and storing)"
		}
		parts = append(parts, fmt.Sprintf("%s→%s: %.1f bytes of RSS per byte%s", sizeIEC(int(a.Bytes)), sizeIEC(int(b.Bytes)), d, note))
	}
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, "; "), true
}

func statusText(r MemRow) string {
	if r.Error != "" {
		return r.Status + " (" + r.Error + ")"
	}
	if r.Chunks > 0 {
		return fmt.Sprintf("%s, %d chunks", r.Status, r.Chunks)
	}
	return r.Status
}

// TenantTxRatio is BenchmarkTenantTx's scoped ÷ owner ns/op for a write.
func TenantTxRatio(ms []Micro, write string) (float64, bool) {
	s, o := FindMicro(ms, "TenantTx/"+write+"/scoped"), FindMicro(ms, "TenantTx/"+write+"/owner")
	if s == nil || o == nil || o.NsPerOp == 0 {
		return 0, false
	}
	return s.NsPerOp / o.NsPerOp, true
}

func renderMicro(p printer, ms []Micro) {
	if len(ms) == 0 {
		return
	}
	p("## 4. Micro-benchmarks (`go test -bench`)")
	p("")
	p("Medians of the repetitions (min–max in brackets).")
	p("")
	if _, ok := TenantTxRatio(ms, "document"); ok {
		p("### Tenant transaction overhead")
		p("")
		p("`BenchmarkTenantTx` (internal/tenantdb): the same write through `WithTenant` as the worker role under forced RLS")
		p("(*scoped*), and by the owner role in a plain transaction on the same table with RLS not forced (*owner*), in a")
		p("throwaway database without the HNSW index (so the index's growing cost does not drown the transaction's).")
		p("")
		p("| write | scoped | owner | scoped ÷ owner |")
		p("|---|---|---|---|")
		for _, w := range []string{"document", "chunks16", "chunks256"} {
			s, o := FindMicro(ms, "TenantTx/"+w+"/scoped"), FindMicro(ms, "TenantTx/"+w+"/owner")
			if s == nil || o == nil {
				continue
			}
			label := map[string]string{
				"document":  "one document row",
				"chunks16":  "one document row + 16 chunks with 1024-d vectors (`Tx.CopyFrom`: one multi-row INSERT)",
				"chunks256": "one document row + 256 chunks with 1024-d vectors (`Tx.CopyFrom`: four pipelined 64-row INSERTs)",
			}[w]
			p("| %s | %s | %s | **%.2f ×** |", label, dur(s.NsPerOp), dur(o.NsPerOp), s.NsPerOp/o.NsPerOp)
		}
		p("")
		p("The owner loads chunks with plain COPY, which PostgreSQL refuses for a table with row level security. The scoped")
		p("path inserts rows as multi-row `INSERT`s of at most 64 rows under the policy, pipelined in one round trip; the")
		p("worker role may not create the temporary staging table an earlier version copied into (migration 0002).")
		p("")
	}
	p("| package | benchmark | time/op | MB/s | runs |")
	p("|---|---|---|---|---|")
	for _, m := range ms {
		mbps := ""
		if m.MBps > 0 {
			mbps = fmt.Sprintf("%.1f", m.MBps)
		}
		p("| %s | %s | %s [%s–%s] | %s | %d |", strings.TrimPrefix(m.Pkg, "github.com/tenantry/tenantry/"), m.Name, dur(m.NsPerOp), dur(m.Min), dur(m.Max), mbps, m.Runs)
	}
	p("")
}

func renderEmbed(p printer, r Results) {
	p("## 5. Embedding at the provider's limit; per-tenant fairness")
	p("")
	if r.Embed == "" {
		p("> **Placeholder — not measured in this run.** The adaptive-concurrency embedding client and its benchmarks")
		p("> (a simulated OpenAI-compatible provider with quota Q and latency L: attained/Q and throttle rate for several")
		p("> Q and L; a small tenant's completion time with and without a 10,000-document tenant) belong to")
		p("> `internal/embed`, which had no such benchmark when this file was written. Once it exists, `make bench` runs")
		p("> and includes it automatically:")
		p(">")
		p("> ```sh")
		for _, c := range strings.Split(orNA(r.EmbedCmd), "\n") {
			p("> %s", c)
		}
		p("> ```")
		p("")
		return
	}
	p("Measured by the embedding client's own tests and benchmarks (internal/embed: a simulated OpenAI-compatible")
	p("provider with a request quota and latency; a small tenant's completion time alone, next to a 10,000-document")
	p("tenant with fair scheduling, and with plain FIFO). Their output, verbatim (each command after `$`):")
	p("")
	p("```")
	p("%s", strings.TrimSpace(r.Embed))
	p("```")
	p("")
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ms(s float64) string {
	switch {
	case s > 0 && s < 0.001:
		return fmt.Sprintf("%.1f ms", s*1000)
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func bytesIEC(n int64) string {
	switch {
	case n < 0:
		return "-" + bytesIEC(-n)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func sizeIEC(n int) string { return bytesIEC(int64(n)) }

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func renderSkew(p printer, s *Skew) {
	if s == nil || len(s.Runs) == 0 {
		return
	}
	p("## 3b. One large document among small ones")
	p("")
	p("The real `tenantry worker` (concurrency 8), a fresh database and queue per run, documents uploaded first (not timed),")
	p("then timed from the first notification until every document is ready. Uniform: documents of %s. Skewed: the same", sizeIEC(s.DocBytes))
	p("size but one document %d× it, about the same total chunks. `--document-parallel` is how many batches of one", s.Factor)
	p("document are embedded and stored at once.")
	p("")
	p("| corpus | documents | chunks | --document-parallel | seconds | chunks/s | time per chunk ÷ uniform |")
	p("|---|---|---|---|---|---|---|")
	u := 0.0
	if len(s.Runs) > 0 && s.Runs[0].Chunks > 0 {
		u = s.Runs[0].Seconds / float64(s.Runs[0].Chunks)
	}
	for _, r := range s.Runs {
		per := safeDiv(r.Seconds/float64(max(r.Chunks, 1)), u)
		p("| %s | %d | %d | %d | %.2f | %.0f | %.2f |", r.Name, r.Documents, r.Chunks, r.Parallel, r.Seconds,
			safeDiv(float64(r.Chunks), r.Seconds), per)
	}
	p("")
}
