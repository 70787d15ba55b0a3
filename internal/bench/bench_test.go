package bench_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pgvector/pgvector-go"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
	"golang.org/x/sync/errgroup"

	"github.com/tenantry/tenantry/internal/bench"
	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/embed/offline"
	"github.com/tenantry/tenantry/internal/pgstore"
	"github.com/tenantry/tenantry/internal/presign"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/pipeline"
)

// sizes of one run: full (make bench) or smoke (make test).
type sizes struct {
	ingestDocs, ingestTenants, ingestDocBytes int
	latencyN, latencyBytes                    int
	latencyRate                               float64
	memSizes                                  []int
	pdfPages                                  int
	// structured is the size of the memory phase's HTML, Markdown and
	// DOCX documents (0: none), formats lists which of them.
	structured int
	formats    []string
}

func sizesFor(mode string) sizes {
	if mode == "full" {
		return sizes{ingestDocs: 400, ingestTenants: 4, ingestDocBytes: 12 << 10,
			latencyN: 200, latencyBytes: 10 << 10, latencyRate: 4,
			memSizes: []int{1 << 10, 10 << 10, 100 << 10, 1 << 20, 10 << 20, 30 << 20, 100 << 20, 300 << 20}, pdfPages: 1500,
			structured: 30 << 20, formats: []string{"html", "md", "docx"}}
	}
	return sizes{ingestDocs: 12, ingestTenants: 2, ingestDocBytes: 4 << 10,
		latencyN: 8, latencyBytes: 10 << 10, latencyRate: 5, memSizes: []int{1 << 10, 1 << 20}}
}

const chunkTokens, chunkOverlap, dims = 512, 64, 1024

// TestBenchmarks measures ingest against raw COPY, upload → searchable
// latency and the worker's peak RSS, and writes the report: JSON to
// $TENANTRY_BENCH_JSON and Markdown to $TENANTRY_BENCH_DOC when set.
// TENANTRY_BENCH=full runs the full sizes (make bench); otherwise a smoke
// run with tiny sizes (make test) shows that the measurements work. Nothing
// here asserts a speed.
func TestBenchmarks(t *testing.T) {
	mode := os.Getenv("TENANTRY_BENCH")
	if mode != "full" {
		mode = "smoke"
		if testing.Short() {
			t.Skip("smoke benchmark skipped in -short")
		}
	}
	if f := os.Getenv("TENANTRY_BENCH_RENDER"); f != "" {
		// Re-render a saved run (no measurement): report wording changes.
		var res bench.Results
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		if err != nil {
			t.Fatal(err)
		}
		writeReport(t, res)
		return
	}
	harness.LoadStack(t)
	sz := sizesFor(mode)
	began := time.Now()
	res := bench.Results{Date: began, Mode: mode, Host: host(t)}
	bin := harness.Binary(t)
	only := os.Getenv("TENANTRY_BENCH_ONLY") // e.g. "latency,memory"; empty: all
	want := func(phase string) bool { return only == "" || strings.Contains(","+only+",", ","+phase+",") }
	if want("ingest") {
		t.Run("ingest", func(t *testing.T) { res.Ingest = measureIngest(t, bin, sz) })
	}
	if want("latency") {
		t.Run("latency", func(t *testing.T) { res.Latency = measureLatency(t, bin, sz) })
	}
	if want("memory") {
		t.Run("memory", func(t *testing.T) { res.Memory = measureMemory(t, bin, sz) })
	}
	if want("skew") {
		t.Run("skew", func(t *testing.T) { res.Skew = measureSkew(t, bin, sz) })
	}
	if f := os.Getenv("TENANTRY_BENCH_MICRO"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res.Micro = bench.ParseGoBench(string(b))
	}
	if f := os.Getenv("TENANTRY_BENCH_EMBED"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			res.Embed = string(b)
		}
	}
	res.EmbedCmd = os.Getenv("TENANTRY_BENCH_EMBED_CMD")
	if res.EmbedCmd == "" {
		res.EmbedCmd = "go test -run '^$' -bench . -benchtime 1x ./internal/embed/..."
	}
	if c := os.Getenv("TENANTRY_BENCH_COMMANDS"); c != "" {
		res.Commands = strings.Split(strings.TrimSpace(c), "\n")
	} else {
		res.Commands = []string{"TENANTRY_BENCH=full go test -count=1 -timeout 90m -run '^TestBenchmarks$' -v ./internal/bench"}
	}
	res.Duration = time.Since(began).Seconds()
	writeReport(t, res)
	summary(t, res)
}

// writeReport writes the JSON ($TENANTRY_BENCH_JSON) and Markdown
// ($TENANTRY_BENCH_DOC) reports when asked to.
func writeReport(t *testing.T, res bench.Results) {
	if f := os.Getenv("TENANTRY_BENCH_JSON"); f != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if f := os.Getenv("TENANTRY_BENCH_DOC"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := bench.Render(out, res); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", f)
	}
}

func summary(t *testing.T, r bench.Results) {
	if in := r.Ingest; in != nil {
		for _, run := range in.Runs {
			t.Logf("ingest %-28s %6d chunks %8.2f s %8.0f chunks/s", run.Name, run.Chunks, run.Seconds, run.PerSec)
		}
		if ratio, ok := in.Ratio(); ok {
			t.Logf("ingest ratio tenantry/limit = %.2f (%s)", ratio, in.Check)
		}
	}
	if l := r.Latency; l != nil {
		t.Logf("latency n=%d p50=%.0fms p90=%.0fms p99=%.0fms max=%.0fms", len(l.Total), 1000*bench.Percentile(l.Total, 50),
			1000*bench.Percentile(l.Total, 90), 1000*bench.Percentile(l.Total, 99), 1000*bench.Percentile(l.Total, 100))
	}
	if m := r.Memory; m != nil {
		for _, row := range m.Rows {
			t.Logf("memory %-22s idle %4d MiB peak %5d MiB %7.2f s %s %s", row.Label, row.IdleRSS>>20, row.PeakRSS>>20, row.Seconds, row.Status, row.Error)
		}
	}
}

// host describes the machine and the stack.
func host(t *testing.T) bench.Host {
	h := bench.Host{NProc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				f := strings.Fields(rest)
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					h.MemoryBytes = kb << 10
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				h.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			h.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if root, err := harness.ModuleRoot(); err == nil {
		cmd := exec.Command("git", "describe", "--always", "--dirty")
		cmd.Dir = root
		if out, err := cmd.Output(); err == nil {
			h.Commit = strings.TrimSpace(string(out))
		}
	}
	ctx := context.Background()
	if c, err := pgx.Connect(ctx, os.Getenv("TENANTRY_ADMIN_DATABASE_URL")); err == nil {
		var v string
		if c.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
			h.Postgres = "PostgreSQL " + strings.Fields(v)[0]
		}
		if c.QueryRow(ctx, "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").Scan(&v) == nil {
			h.PGVector = v
		}
		c.Close(ctx)
	}
	return h
}

// corpus is the ingest benchmark's documents, with their chunks and
// vectors computed exactly as the worker computes them.
type corpus struct {
	docs   []harness.Doc
	bodies [][]byte
	pdocs  []pipeline.Document
	chunks [][]pipeline.Chunk
	embs   [][]pipeline.Embedding
	rows   [][]any // pgstore's chunk columns, in document and ordinal order
	total  int
}

var chunkColumns = []string{"tenant_id", "document_id", "version", "ordinal", "text", "token_count", "char_start",
	"char_end", "page", "embedding", "model", "content_hash"}

func newCorpus(t *testing.T, env *harness.Env, sz sizes) *corpus {
	t.Helper()
	ctx := context.Background()
	chunker, err := harness.NewChunker(chunkTokens, chunkOverlap)
	if err != nil {
		t.Fatal(err)
	}
	defer chunker.Close()
	emb, err := offline.New(offline.Config{Dims: dims})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(42, 8))
	tenants := make([]uuid.UUID, sz.ingestTenants)
	for i := range tenants {
		tenants[i] = uuid.New()
	}
	c := &corpus{}
	for i := range sz.ingestDocs {
		tn := tenants[i%len(tenants)]
		id := fmt.Sprintf("doc-%04d", i)
		body := harness.Text(rng, sz.ingestDocBytes)
		chs, err := chunker.Chunks(ctx, "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		texts := make([]string, len(chs))
		for j, ch := range chs {
			texts[j] = ch.Text
		}
		vecs, err := emb.Embed(ctx, texts)
		if err != nil {
			t.Fatal(err)
		}
		key := harness.Key(tn, id, id+".txt")
		d := harness.Doc{Tenant: tn, DocumentID: id, Key: key, Version: harness.Version(body), Chunks: len(chs)}
		es := make([]pipeline.Embedding, len(vecs))
		for j, v := range vecs {
			es[j] = pipeline.Embedding{Vector: v, Model: emb.Model()}
			hs := sha256.Sum256([]byte(chs[j].Text))
			c.rows = append(c.rows, []any{tn, id, d.Version, chs[j].Ordinal, chs[j].Text, chs[j].TokenCount, chs[j].CharStart,
				chs[j].CharEnd, chs[j].Page, pgvector.NewVector(v), emb.Model(), "sha256:" + hex.EncodeToString(hs[:])})
		}
		c.docs = append(c.docs, d)
		c.bodies = append(c.bodies, body)
		c.chunks = append(c.chunks, chs)
		c.embs = append(c.embs, es)
		c.pdocs = append(c.pdocs, pipeline.Document{DocumentID: id, SourceURI: "s3://" + env.Bucket + "/" + key,
			Version: d.Version, MediaType: "text/plain", Filename: id + ".txt", SizeBytes: int64(len(body))})
		c.total += len(chs)
	}
	return c
}

// ownerPool connects as the owner role with pgvector's binary codecs.
func ownerPool(t *testing.T, url string, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error { return pgxvec.RegisterTypes(ctx, c) }
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// copyLimit loads every row with binary COPY as the owner into a fresh copy
// of the chunks table in schema bench (outside the worker's search path, so
// its preflight never sees a table without RLS), in streams parallel
// COPYs, and returns the seconds the load took.
func copyLimit(t *testing.T, pool *pgxpool.Pool, c *corpus, table string, streams int, index bool) (secs, dbCPU float64) {
	t.Helper()
	ctx := context.Background()
	like := "CREATE TABLE bench." + table + " (LIKE public.chunks INCLUDING ALL)"
	if !index {
		like = "CREATE TABLE bench." + table + " (LIKE public.chunks INCLUDING ALL EXCLUDING INDEXES, PRIMARY KEY (tenant_id, document_id, version, ordinal))"
	}
	for _, sql := range []string{"CREATE SCHEMA IF NOT EXISTS bench", like} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	per := (len(c.rows) + streams - 1) / streams
	conns := make([]*pgxpool.Conn, streams)
	pids := make([]int, streams)
	for i := range conns {
		var err error
		if conns[i], err = pool.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Release()
		if err := conns[i].QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pids[i]); err != nil {
			t.Fatal(err)
		}
	}
	cpu0 := backendsCPU(pids)
	began := time.Now()
	var g errgroup.Group
	for s := range streams {
		part := c.rows[min(s*per, len(c.rows)):min((s+1)*per, len(c.rows))]
		g.Go(func() error {
			_, err := conns[s].CopyFrom(ctx, pgx.Identifier{"bench", table}, chunkColumns, pgx.CopyFromRows(part))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("COPY into %s: %v", table, err)
	}
	return time.Since(began).Seconds(), backendsCPU(pids) - cpu0
}

// backendsCPU sums the CPU seconds of PostgreSQL backends (0 for those
// that cannot be read).
func backendsCPU(pids []int) float64 {
	var s time.Duration
	for _, p := range pids {
		if d, err := harness.ProcCPU(p); err == nil {
			s += d
		}
	}
	return s.Seconds()
}

// workerBackends lists the backends of the worker role in the database q
// is connected to.
func workerBackends(t *testing.T, q *pgx.Conn) []int {
	t.Helper()
	rows, err := q.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND usename = 'tenantry_worker'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var p int
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p)
	}
	return pids
}

// waitHandled waits until the worker has finished handling n messages
// (succeeded or dead-lettered): its metrics are complete only then.
func waitHandled(t *testing.T, w *harness.Process, n int) harness.Metrics {
	t.Helper()
	var m harness.Metrics
	err := harness.Eventually(context.Background(), "the worker's metrics", 30*time.Second, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		var err error
		m, err = w.Metrics(ctx)
		if err != nil {
			return false, err
		}
		return m.Sum("tenantry_worker_messages_succeeded_total")+m.Sum("tenantry_worker_messages_dead_lettered_total") >= float64(n), nil
	})
	if err != nil {
		t.Error(err)
	}
	return m
}

func measureIngest(t *testing.T, bin string, sz sizes) *bench.Ingest {
	ctx := context.Background()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "bench-"})
	c := newCorpus(t, env, sz)
	pool := ownerPool(t, env.DB.OwnerURL, int32(max(runtime.NumCPU(), 2)))
	in := &bench.Ingest{Documents: len(c.docs), Tenants: sz.ingestTenants, Chunks: c.total, Dims: dims, DocBytes: sz.ingestDocBytes,
		ChunkTokens: chunkTokens, Concurrency: 8}
	add := func(name, kind, what string, streams int, secs, dbCPU, appCPU float64) {
		in.Runs = append(in.Runs, bench.Run{Name: name, Kind: kind, What: what, Streams: streams, Chunks: c.total, Seconds: secs,
			PerSec: float64(c.total) / secs, DBCPU: dbCPU, AppCPU: appCPU})
		t.Logf("%-28s %.2f s, %.0f chunks/s, CPU: PostgreSQL %.2f s, worker %.2f s", name, secs, float64(c.total)/secs, dbCPU, appCPU)
	}
	secs, cpu := copyLimit(t, pool, c, "chunks_limit", 1, true)
	add("COPY (limit, before)", "limit", "binary COPY as the owner, one stream, HNSW index", 1, secs, cpu, 0)
	secs, cpu = copyLimit(t, pool, c, "chunks_noindex", 1, false)
	add("COPY, no HNSW index", "diagnostic", "the same COPY into a copy without the HNSW index", 1, secs, cpu, 0)
	streams := max(runtime.NumCPU(), 2)
	secs, cpu = copyLimit(t, pool, c, "chunks_parallel", streams, true)
	add("COPY, parallel streams", "diagnostic", fmt.Sprintf("%d COPYs at once as the owner, HNSW index", streams), streams, secs, cpu, 0)
	secs, cpu, claimCPU := storeOnly(t, c, 8)
	add("tenant store only", "diagnostic", "pgstore Claim, then Commit, per document as the worker role (8 at once): forced RLS, multi-row INSERT, audit", 8,
		secs, cpu, 0)
	in.StoreClaimCPU, in.StoreCommitCPU = claimCPU, cpu-claimCPU
	secs, cpu, _ = storeOnly(t, c, 1)
	add("tenant store only, serial", "diagnostic", "the same, one document at a time", 1, secs, cpu, 0)
	secs, cpu = storePending(t, c, 8, pgstore.GroupConfig{})
	add("tenant store, pending", "diagnostic", "pgstore Open, then Finish with every chunk, per document as the worker role (8 at once): the worker's path, each document alone", 8,
		secs, cpu, 0)
	secs, cpu = storePending(t, c, 8, pgstore.GroupConfig{MaxDocs: 16})
	add("tenant store, pending, grouped", "diagnostic", "the same with grouped writes (the worker's default: flips ready together share a transaction, 2 writers)", 8,
		secs, cpu, 0)

	// The full path: upload first (not timed), then a ready worker gets
	// every notification at once.
	uploadAll(t, env, c)
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	w, err := env.StartWorker(ctx, bin, harness.WorkerConfig{}, logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop(30 * time.Second) }()
	msgs := make([]string, len(c.docs))
	for i, d := range c.docs {
		msgs[i] = env.Notification("ObjectCreated:Put", d.Key)
	}
	db := tenantdbtest.Conn(t, env.DB.AdminURL)
	began := time.Now()
	if err := env.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "every document ready", 30*time.Minute, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		var n int
		err := db.QueryRow(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'").Scan(&n)
		return n == len(c.docs), err
	}); err != nil {
		t.Fatalf("%v\nworker log:\n%s", err, tailFile(logf.Name()))
	}
	secs = time.Since(began).Seconds()
	m := waitHandled(t, w, len(c.docs))
	appCPU, _ := w.CPU()
	add("tenantry worker", "tenantry", "SQS → worker process → verify → S3 → extract → chunk → embed → tenant tx (RLS, audit)", 8,
		secs, backendsCPU(workerBackends(t, db)), appCPU.Seconds())
	for _, st := range []string{"fetch", "claim", "extract", "chunk", "embed", "store"} {
		l := `stage="` + st + `"`
		in.Stages = append(in.Stages, bench.Stage{Name: st, Seconds: m.Sum("tenantry_stage_seconds_sum", l), Count: m.Sum("tenantry_stage_seconds_count", l)})
	}
	in.HandlerSeconds = m.Sum("tenantry_worker_handler_duration_seconds_sum")
	in.QueueLagMean = safeDiv(m.Sum("tenantry_worker_queue_lag_seconds_sum"), m.Sum("tenantry_worker_queue_lag_seconds_count"))
	_ = w.Stop(30 * time.Second)
	secs, cpu = copyLimit(t, pool, c, "chunks_limit_after", 1, true)
	add("COPY (limit, after)", "limit", "the first COPY again, into another fresh copy", 1, secs, cpu, 0)

	// Same data: the worker stored exactly the rows COPY loaded.
	r, err := harness.Check(ctx, db, env.DB.OwnerURL, c.docs)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Problems {
		t.Error(p)
	}
	const cols = "tenant_id, document_id, version, ordinal, text, token_count, char_start, char_end, page, embedding::text, model, content_hash"
	var onlyWorker, onlyCopy int
	if err := db.QueryRow(ctx, "SELECT (SELECT count(*) FROM (SELECT "+cols+" FROM public.chunks EXCEPT ALL SELECT "+cols+
		" FROM bench.chunks_limit) a), (SELECT count(*) FROM (SELECT "+cols+" FROM bench.chunks_limit EXCEPT ALL SELECT "+cols+
		" FROM public.chunks) b)").Scan(&onlyWorker, &onlyCopy); err != nil {
		t.Fatal(err)
	}
	in.Identical = onlyWorker == 0 && onlyCopy == 0 && r.Chunks == c.total
	in.Check = fmt.Sprintf("the worker's %d chunk rows and the COPY's %d are identical column by column (texts, offsets, hashes, "+
		"vectors): %d rows only in one, %d only in the other; every document ready once, %d audit rows, chains verified.",
		r.Chunks, c.total, onlyWorker, onlyCopy, r.AuditEvents)
	if !in.Identical {
		t.Errorf("the worker did not store the COPY's rows: %s", in.Check)
		var diffs []string
		rows, err := db.Query(ctx, `SELECT coalesce(w.document_id, l.document_id), coalesce(w.ordinal, l.ordinal),
			concat_ws(',', format('tokens %s/%s, length %s', w.token_count, l.token_count, length(w.text)), CASE WHEN w.text <> l.text THEN 'text' END, CASE WHEN w.token_count <> l.token_count THEN 'token_count' END,
				CASE WHEN w.char_start <> l.char_start OR w.char_end <> l.char_end THEN 'offsets' END,
				CASE WHEN w.page <> l.page THEN 'page' END, CASE WHEN w.embedding::text <> l.embedding::text THEN 'embedding' END,
				CASE WHEN w.model <> l.model THEN 'model' END, CASE WHEN w.content_hash <> l.content_hash THEN 'content_hash' END)
			FROM public.chunks w FULL JOIN bench.chunks_limit l USING (tenant_id, document_id, version, ordinal)
			WHERE l.text IS DISTINCT FROM w.text OR l.embedding::text IS DISTINCT FROM w.embedding::text OR l.token_count IS DISTINCT FROM w.token_count
				OR l.char_start IS DISTINCT FROM w.char_start OR l.char_end IS DISTINCT FROM w.char_end OR l.page IS DISTINCT FROM w.page
				OR l.content_hash IS DISTINCT FROM w.content_hash LIMIT 5`)
		if err == nil {
			for rows.Next() {
				var doc, cols string
				var ord int
				if rows.Scan(&doc, &ord, &cols) == nil {
					diffs = append(diffs, fmt.Sprintf("%s#%d: %s", doc, ord, cols))
				}
			}
			rows.Close()
		}
		t.Logf("first differences: %v", diffs)
	}
	return in
}

// storeOnly runs pgstore's Claim for every document, then Commit for every
// document, 8 at once, as the worker role on a fresh database. It returns
// the seconds and the CPU seconds of its PostgreSQL backends, in total and
// for the claims alone.
func storeOnly(t *testing.T, c *corpus, workers int) (secs, cpu, claimCPU float64) {
	t.Helper()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	store := pgstore.New(tenantdbtest.OpenURL(t, db.WorkerURL), nil)
	admin := tenantdbtest.Conn(t, db.AdminURL)
	each := func(fn func(i int) error) {
		var next atomic.Int64
		var g errgroup.Group
		for range workers {
			g.Go(func() error {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(c.docs) {
						return nil
					}
					if err := fn(i); err != nil {
						return err
					}
				}
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	began := time.Now()
	each(func(i int) error {
		_, err := store.For(tenantdbtest.Scope(t, c.docs[i].Tenant)).Claim(ctx, c.pdocs[i])
		return err
	})
	claimCPU = backendsCPU(workerBackends(t, admin))
	each(func(i int) error {
		return store.For(tenantdbtest.Scope(t, c.docs[i].Tenant)).Commit(ctx, c.pdocs[i], c.chunks[i], c.embs[i])
	})
	return time.Since(began).Seconds(), backendsCPU(workerBackends(t, admin)), claimCPU
}

// storePending runs pgstore's Open then Finish (all chunks at once, as the
// streaming path does for a small document) for every document, workers at
// once, as the worker role on a fresh database, with grouped writes as
// group says. It returns the seconds and the CPU seconds of the database
// backends.
func storePending(t *testing.T, c *corpus, workers int, group pgstore.GroupConfig) (secs, cpu float64) {
	t.Helper()
	ctx := context.Background()
	db := tenantdbtest.NewDatabase(t)
	store := pgstore.New(tenantdbtest.OpenURL(t, db.WorkerURL), nil).Group(group)
	admin := tenantdbtest.Conn(t, db.AdminURL)
	var next atomic.Int64
	var g errgroup.Group
	began := time.Now()
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(c.docs) {
					return nil
				}
				s := store.For(tenantdbtest.Scope(t, c.docs[i].Tenant).WithJob(fmt.Sprintf("job-%d", i)))
				_, p, err := s.Open(ctx, c.pdocs[i], "bench")
				if err != nil {
					return err
				}
				model := c.embs[i][0].Model
				if err := p.Finish(ctx, c.chunks[i], c.embs[i], len(c.chunks[i]), model); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return time.Since(began).Seconds(), backendsCPU(workerBackends(t, admin))
}

func uploadAll(t *testing.T, env *harness.Env, c *corpus) {
	t.Helper()
	ctx := context.Background()
	var next atomic.Int64
	var g errgroup.Group
	for range 8 {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(c.docs) {
					return nil
				}
				d := c.docs[i]
				if err := env.Put(ctx, d.Key, "text/plain", c.bodies[i], env.Kit.Object(t, d.Tenant, env.Bucket, d.Key)); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func measureLatency(t *testing.T, bin string, sz sizes) *bench.Latency {
	ctx := context.Background()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "lat-"})
	if os.Getenv("TENANTRY_BENCH_NOV_INDEXES") == "1" {
		novIndexes(t, env)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// The worker's defaults: 20 s long poll, 2 pollers, concurrency 8.
	w, err := env.StartWorker(ctx, bin, harness.WorkerConfig{}, logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop(30 * time.Second) }()
	pre, err := presign.New(s3.NewPresignClient(env.Stack.S3), env.Kit.NewIssuer(t), presign.Config{Bucket: env.Bucket}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tenant := uuid.New()
	rng := rand.New(rand.NewPCG(7, 7))
	const pollEvery = 5 * time.Millisecond

	// The observer: one connection polling the documents still pending.
	type pend struct {
		start time.Time
		done  chan time.Time
	}
	var mu sync.Mutex
	pending := map[string]*pend{}
	obsCtx, stopObs := context.WithCancel(ctx)
	obsDone := make(chan struct{})
	conn := tenantdbtest.Conn(t, env.DB.AdminURL)
	go func() {
		defer close(obsDone)
		for obsCtx.Err() == nil {
			mu.Lock()
			ids := make([]string, 0, len(pending))
			for id := range pending {
				ids = append(ids, id)
			}
			mu.Unlock()
			if len(ids) > 0 {
				rows, err := conn.Query(obsCtx, "SELECT document_id FROM documents WHERE status = 'ready' AND document_id = ANY($1)", ids)
				now := time.Now()
				if err == nil {
					for rows.Next() {
						var id string
						if rows.Scan(&id) == nil {
							mu.Lock()
							if p := pending[id]; p != nil {
								p.done <- now
								delete(pending, id)
							}
							mu.Unlock()
						}
					}
					rows.Close()
				}
			}
			time.Sleep(pollEvery)
		}
	}()
	defer func() { stopObs(); <-obsDone }()

	l := &bench.Latency{DocBytes: sz.latencyBytes, Rate: sz.latencyRate, WaitTime: "20s", Pollers: 2, PollEvery: pollEvery.String()}
	one := func(i int, record bool) (chan time.Time, error) {
		id := fmt.Sprintf("lat-%04d", i)
		body := harness.Text(rng, sz.latencyBytes)
		p := &pend{start: time.Now(), done: make(chan time.Time, 1)}
		mu.Lock()
		pending[id] = p
		mu.Unlock()
		ps, err := pre.Presign(ctx, presign.Request{TenantID: tenant, DocumentID: id, Filename: id + ".txt", Actor: "user:bench", ContentType: "text/plain"})
		if err != nil {
			return nil, err
		}
		if err := presign.Upload(ctx, nil, ps, strings.NewReader(string(body)), int64(len(body))); err != nil {
			return nil, err
		}
		put := time.Now()
		if err := env.Send(ctx, env.Notification("ObjectCreated:Put", ps.Key)); err != nil {
			return nil, err
		}
		if record {
			l.Put = append(l.Put, put.Sub(p.start).Seconds())
			l.Notify = append(l.Notify, time.Since(put).Seconds())
		}
		out := make(chan time.Time, 1)
		go func() {
			select {
			case at := <-p.done:
				out <- at
			case <-time.After(2 * time.Minute):
				close(out)
			}
		}()
		return out, nil
	}
	// Warm-up (not recorded): the first documents pay connection set-up.
	for i := range 3 {
		ch, err := one(-1-i, false)
		if err != nil {
			t.Fatal(err)
		}
		<-ch
	}
	type result struct {
		start time.Time
		ch    chan time.Time
	}
	var results []result
	began := time.Now()
	interval := time.Duration(float64(time.Second) / sz.latencyRate)
	for i := range sz.latencyN {
		if wait := time.Until(began.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		start := time.Now()
		ch, err := one(i, true)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, result{start, ch})
	}
	var samples []bench.Sample
	for i, r := range results {
		at, ok := <-r.ch
		if !ok {
			t.Fatalf("document %d not ready within 2 minutes", i)
		}
		l.Total = append(l.Total, at.Sub(r.start).Seconds())
		samples = append(samples, bench.Sample{Total: l.Total[i], Put: l.Put[i], Notify: l.Notify[i]})
	}
	sort.Slice(samples, func(a, b int) bool { return samples[a].Total > samples[b].Total })
	l.Slowest = samples[:min(5, len(samples))]
	m := waitHandled(t, w, sz.latencyN+3)
	l.QueueLagMean = safeDiv(m.Sum("tenantry_worker_queue_lag_seconds_sum"), m.Sum("tenantry_worker_queue_lag_seconds_count"))
	l.HandlerMean = safeDiv(m.Sum("tenantry_worker_handler_duration_seconds_sum"), m.Sum("tenantry_worker_handler_duration_seconds_count"))
	l.Tail = map[string]float64{
		"handler":   m.Quantile("tenantry_worker_handler_duration_seconds", 0.99),
		"queue lag": m.Quantile("tenantry_worker_queue_lag_seconds", 0.99),
	}
	for _, st := range []string{"fetch", "claim", "extract", "chunk", "embed", "store"} {
		l.Tail["stage "+st] = m.Quantile("tenantry_stage_seconds", 0.99, `stage="`+st+`"`)
	}
	return l
}

func measureMemory(t *testing.T, bin string, sz sizes) *bench.Memory {
	ctx := context.Background()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "mem-"})
	// Large enough that every size is processed to the end (100 MB of text
	// is ~60,000 chunks), so the growth measured is the whole path's.
	const maxDoc, maxChunks = 320 << 20, 200000
	if v := os.Getenv("TENANTRY_BENCH_MEM_SIZES"); v != "" {
		// e.g. "1048576,314572800": only these text sizes (bytes), and the
		// PDF, HTML, Markdown or DOCX document only when "pdf", "html",
		// "md" or "docx" is listed.
		sz.memSizes, sz.pdfPages, sz.formats = nil, 0, nil
		sz.structured = 30 << 20
		if n, err := strconv.Atoi(os.Getenv("TENANTRY_BENCH_MEM_STRUCTURED")); err == nil && n > 0 {
			sz.structured = n
		}
		for _, f := range strings.Split(v, ",") {
			switch f {
			case "pdf":
				sz.pdfPages = 1500
				continue
			case "html", "md", "docx":
				sz.formats = append(sz.formats, f)
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("TENANTRY_BENCH_MEM_SIZES: %v", err)
			}
			sz.memSizes = append(sz.memSizes, n)
		}
	}
	m := &bench.Memory{MaxDocumentBytes: maxDoc}
	if os.Getenv("TENANTRY_BENCH_MEM_NO_HNSW") == "1" {
		// The worker's memory does not depend on the index; without it a
		// 300 MB document is stored in minutes, not the better part of an
		// hour (HNSW inserts are the store's cost, see §1).
		env.DB.DropHNSW(t)
		t.Log("memory: chunks HNSW index dropped for this phase")
	}
	db := tenantdbtest.Conn(t, env.DB.AdminURL)
	tenant := uuid.New()
	rng := rand.New(rand.NewPCG(5, 5))
	type item struct {
		label, ctype, filename string
		body                   []byte
		pages                  int
		cold                   bool // a PDF with an empty compile cache
		seeded                 bool // a PDF with an empty compile cache and a seed, as the image has
	}
	var items []item
	pdfCache := t.TempDir()
	for _, n := range sz.memSizes {
		items = append(items, item{label: "text " + sizeLabel(n), ctype: "text/plain", filename: "doc.txt", body: harness.Text(rng, n)})
	}
	if sz.pdfPages > 0 {
		pages := make([][]string, sz.pdfPages)
		for i := range pages {
			lines := strings.Split(strings.TrimSpace(string(harness.Text(rng, 3000))), ". ")
			pages[i] = lines
		}
		pdf := harness.PDF(pages)
		// Three times: with one PDFium compile cache, first empty (the
		// process compiles PDFium, ~250 MB transient, once), then filled by
		// it (a restarted task); then a fresh process with an empty cache
		// and the seed the image carries (compiled by `tenantry pdfium
		// compile` as the Dockerfile does): a new task's first PDF.
		items = append(items,
			item{label: fmt.Sprintf("PDF, %d pages, compiling", sz.pdfPages), ctype: "application/pdf", filename: "doc.pdf", body: pdf, pages: sz.pdfPages, cold: true},
			item{label: fmt.Sprintf("PDF, %d pages, cached", sz.pdfPages), ctype: "application/pdf", filename: "doc.pdf", body: pdf, pages: sz.pdfPages},
			item{label: fmt.Sprintf("PDF, %d pages, seeded", sz.pdfPages), ctype: "application/pdf", filename: "doc.pdf", body: pdf, pages: sz.pdfPages, seeded: true})
	}
	for _, f := range sz.formats {
		switch f {
		case "html":
			items = append(items, item{label: "HTML " + sizeLabel(sz.structured), ctype: "text/html", filename: "doc.html", body: htmlDoc(rng, sz.structured)})
		case "md":
			items = append(items, item{label: "Markdown " + sizeLabel(sz.structured), ctype: "text/markdown", filename: "doc.md", body: markdownDoc(rng, sz.structured)})
		case "docx":
			items = append(items, item{label: "DOCX, " + sizeLabel(sz.structured) + " of XML", ctype: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
				filename: "doc.docx", body: docxDoc(rng, sz.structured)})
		}
	}
	for i, it := range items {
		id := fmt.Sprintf("mem-%02d", i)
		key := harness.Key(tenant, id, it.filename)
		if err := env.Put(ctx, key, it.ctype, it.body, env.Kit.Object(t, tenant, env.Bucket, key)); err != nil {
			t.Fatal(err)
		}
		env.FreshQueues(ctx)
		logf, err := os.Create(filepath.Join(t.TempDir(), id+".log"))
		if err != nil {
			t.Fatal(err)
		}
		settings := []string{
			"TENANTRY_MAX_DOCUMENT_BYTES=" + strconv.Itoa(maxDoc), "TENANTRY_MAX_CHUNKS=" + strconv.Itoa(maxChunks),
			"TENANTRY_WAIT_TIME=1s", "TENANTRY_HANDLER_TIMEOUT=60m", "GODEBUG=gctrace=1", "TENANTRY_PDF_CACHE_DIR=" + pdfCache}
		if it.seeded {
			seed := filepath.Join(t.TempDir(), "seed")
			if out, err := exec.CommandContext(ctx, bin, "pdfium", "compile", "--dir", seed).CombinedOutput(); err != nil {
				t.Fatalf("tenantry pdfium compile: %v: %s", err, out)
			}
			settings = append(settings, "TENANTRY_PDF_CACHE_DIR="+t.TempDir(), "TENANTRY_PDF_SEED_DIR="+seed)
		}
		wc := harness.WorkerConfig{Settings: settings}
		if it.pages > 0 {
			wc.LogLevel = "info" // for the "PDF engine ready" line
		}
		w, err := env.StartWorker(ctx, bin, wc, logf)
		if err != nil {
			t.Fatal(err)
		}
		row := bench.MemRow{Label: it.label, MediaType: it.ctype, Bytes: int64(len(it.body)), Pages: it.pages, Cold: it.cold, Seeded: it.seeded}
		row.IdleRSS, _ = w.PeakRSS()
		began := time.Now()
		if err := env.Send(ctx, env.Notification("ObjectCreated:Put", key)); err != nil {
			t.Fatal(err)
		}
		err = harness.Eventually(ctx, it.label+" handled", 60*time.Minute, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
			var status, code string
			var chunks int
			err := db.QueryRow(ctx, "SELECT status, error, chunk_count FROM documents WHERE document_id = $1", id).Scan(&status, &code, &chunks)
			if errors.Is(err, pgx.ErrNoRows) || status == "processing" {
				return false, nil
			}
			row.Status, row.Error, row.Chunks = status, code, chunks
			return err == nil, err
		})
		row.Seconds = time.Since(began).Seconds()
		row.PeakRSS, _ = w.PeakRSS()
		if mt := waitHandled(t, w, 1); mt != nil {
			row.Stages = map[string]float64{}
			for _, st := range []string{"fetch", "claim", "extract", "chunk", "embed", "store"} {
				row.Stages[st] = mt.Sum("tenantry_stage_seconds_sum", `stage="`+st+`"`)
			}
		}
		if err != nil {
			row.Status, row.Error = "timeout", err.Error()
			t.Errorf("%s: %v", it.label, err)
		}
		_ = w.Stop(30 * time.Second)
		logf.Close()
		row.MaxHeap, row.MaxLive = gcTrace(logf.Name())
		if it.pages > 0 {
			// The worker says whether it compiled PDFium; each PDF row is
			// only what its label says if that matches.
			if compiled, ok := pdfCompiled(logf.Name()); !ok || compiled != it.cold {
				t.Errorf("%s: the worker's PDF engine compiled=%v (logged: %v), want %v", it.label, compiled, ok, it.cold)
			}
		}
		t.Logf("%-16s %10d bytes: idle %4d MiB, peak %5d MiB, %.2f s, %s %s (%d chunks), Go heap max %d MiB live %d MiB, stages %v",
			it.label, len(it.body), row.IdleRSS>>20, row.PeakRSS>>20, row.Seconds, row.Status, row.Error, row.Chunks,
			row.MaxHeap>>20, row.MaxLive>>20, row.Stages)
		m.Rows = append(m.Rows, row)
	}
	return m
}

// pdfCompiled reads a worker log's "PDF engine ready" line: whether the
// process compiled PDFium (false: it loaded the compiled code).
func pdfCompiled(path string) (compiled, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		var l struct {
			Msg      string `json:"msg"`
			Compiled *bool  `json:"compiled"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "PDF engine ready" && l.Compiled != nil {
			return *l.Compiled, true
		}
	}
	return false, false
}

var gcLine = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB`)

// gcTrace returns the largest heap at a GC start and the largest live heap
// after a GC that a worker's GODEBUG=gctrace=1 output shows.
func gcTrace(path string) (maxHeap, maxLive int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, m := range gcLine.FindAllStringSubmatch(string(b), -1) {
		start, _ := strconv.ParseInt(m[1], 10, 64)
		live, _ := strconv.ParseInt(m[3], 10, 64)
		maxHeap, maxLive = max(maxHeap, start<<20), max(maxLive, live<<20)
	}
	return maxHeap, maxLive
}

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func tailFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 40 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// novIndexes gives the chunks table the indexes it had on 2026-11-23
// (diagnostic, TENANTRY_BENCH_NOV_INDEXES=1): no full-text GIN indexes and
// the HNSW index with pgvector's default build parameters (m 16,
// ef_construction 64), to tell the write cost the search indexes added from
// the worker's own.
func novIndexes(t *testing.T, env *harness.Env) {
	t.Helper()
	c := tenantdbtest.Conn(t, env.DB.OwnerURL)
	for _, sql := range []string{"DROP INDEX chunks_fts_english", "DROP INDEX chunks_fts_simple", "DROP INDEX chunks_embedding_hnsw",
		"CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops)"} {
		if _, err := c.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Log("latency: chunks indexes as on 2026-11-23 (no full-text GIN, HNSW ef_construction 64)")
}
