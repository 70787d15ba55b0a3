package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// TestFairDispatch measures the starvation scenario through the real
// worker process: tenant A's backlog is queued first, tenant B's documents
// all fail permanently, then tenant C sends 20 documents. For each size of
// A's backlog it reports C's p99 notification→ready latency as a ratio to
// C alone measured just before (same run, same worker settings), how fast
// B's breaker tripped, and how many of B's messages were parked instead of
// run. Nothing here asserts a speed.
//
// A's backlog sizes: TENANTRY_BENCH=full 300, 2,000 and 10,000 documents;
// any other TENANTRY_BENCH value 300 and 2,000; unset: skipped.
// TENANTRY_FAIR_A sets them instead (comma-separated); B gets a twentieth
// of A, at least 30. TENANTRY_FAIR_PREQUEUE queues A's and B's before the
// worker starts (see starvationRun). Markdown goes to
// $TENANTRY_FAIRNESS_BENCH_DOC when set.
func TestFairDispatch(t *testing.T) {
	mode := os.Getenv("TENANTRY_BENCH")
	if mode == "" {
		t.Skip("TENANTRY_BENCH not set: the fairness measurement runs in make bench")
	}
	sizes := []int{300, 2000}
	if mode == "full" {
		sizes = append(sizes, 10000)
	}
	if v := os.Getenv("TENANTRY_FAIR_A"); v != "" {
		sizes = sizes[:0]
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				t.Fatalf("TENANTRY_FAIR_A=%q: want positive numbers of documents, comma-separated", v)
			}
			sizes = append(sizes, n)
		}
	}
	harness.LoadStack(t)
	bin := harness.Binary(t)
	lines := []string{
		"| A queued first, B all failing, then C 20 | C alone p99 | C p50 | C p99 | C p99 / alone | B tripped after | B run / parked | A ready when C done | A deferred |",
		"|---|---|---|---|---|---|---|---|---|",
	}
	for _, aDocs := range sizes {
		bDocs := max(aDocs/20, 30)
		if v, err := strconv.Atoi(os.Getenv("TENANTRY_FAIR_B")); err == nil && v >= 0 {
			bDocs = v // experiments: B's size (0: no failing tenant)
		}
		alone := starvationRun(t, bin, 0, 0)
		mixed := starvationRun(t, bin, aDocs, bDocs)
		ratio := float64(mixed.cP99) / float64(alone.cP99)
		lines = append(lines, fmt.Sprintf("| A %d, B %d | %s | %s | %s | **%.2f** | %s | %d / %d | %d of %d | %d |", aDocs, bDocs,
			alone.cP99.Round(time.Millisecond), mixed.cP50.Round(time.Millisecond), mixed.cP99.Round(time.Millisecond), ratio,
			mixed.bTrip.Round(time.Millisecond), mixed.bRun, mixed.bParked, mixed.aReadyAtC, aDocs, mixed.deferred))
		t.Logf("A %d: until C was done: %d deferred, %d fed back, worker CPU %s (C alone: %s); A's notifications sent in %s; "+
			"when C was done the worker had %d messages in flight (held or running) and %.0f MB resident (C alone: %.0f MB); "+
			"C's p50/p99 until its row was written %s/%s (alone %s/%s), from then until ready %s/%s (alone %s/%s); GCs %d (alone %d); "+
			"%d messages visible in the queue when C's first was sent, none visible %s after it (alone: %d, %s)",
			aDocs, mixed.deferred, mixed.undeferred, mixed.cpu.Round(time.Millisecond), alone.cpu.Round(time.Millisecond),
			mixed.sendA.Round(time.Millisecond), mixed.inFlight, mixed.rss/(1<<20), alone.rss/(1<<20),
			mixed.cWait50.Round(time.Millisecond), mixed.cWait99.Round(time.Millisecond), alone.cWait50.Round(time.Millisecond),
			alone.cWait99.Round(time.Millisecond), mixed.cWork50.Round(time.Millisecond), mixed.cWork99.Round(time.Millisecond),
			alone.cWork50.Round(time.Millisecond), alone.cWork99.Round(time.Millisecond), mixed.gcs, alone.gcs,
			mixed.aheadOfC, mixed.queueDry.Round(time.Millisecond), alone.aheadOfC, alone.queueDry.Round(time.Millisecond))
		t.Logf("A %d: from the worker's start until C was done: %d of %d database pool acquires waited for a connection, "+
			"mean acquire %s, mean wait for a dispatch slot %s (C alone: %d of %d, %s, %s)", aDocs,
			mixed.poolWaits, mixed.poolAcquires, mixed.poolMean.Round(time.Microsecond), mixed.slotMean.Round(time.Microsecond),
			alone.poolWaits, alone.poolAcquires, alone.poolMean.Round(time.Microsecond), alone.slotMean.Round(time.Microsecond))
	}
	t.Log("\n" + strings.Join(lines, "\n"))
	if f := os.Getenv("TENANTRY_FAIRNESS_BENCH_DOC"); f != "" {
		how := "sent one by one while the worker runs"
		if os.Getenv("TENANTRY_FAIR_PREQUEUE") != "" {
			how = "all in the queue before the worker starts"
		}
		doc := "# Fair dispatch across tenants (measured)\n\n" + strings.Join(lines, "\n") +
			"\n\nOne worker process per row and per baseline (concurrency 8, prefetch 8, the default intake hold of 2,048 x concurrency = 16,384, " +
			"breaker: 5 consecutive permanent failures), the local stack, offline embedder. A's and B's notifications are " + how +
			"; C's follow. Each worker first handles 8 documents of a warm-up tenant alone (not with a prequeued backlog), so neither C alone nor C next to the backlog meets a cold worker. Latency: C's SQS notification sent → document ready; each row's ratio is to C alone measured just before it. " +
			"Command: `TENANTRY_BENCH=" + mode + " go test -count=1 -run '^TestFairDispatch$' -v ./internal/bench` (part of `make bench`).\n"
		if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// warmDocs is how many documents of a warm-up tenant each run sends, and
// waits for, before the measured ones.
const warmDocs = 8

type starvation struct {
	cP50, cP99 time.Duration
	bTrip      time.Duration
	bRun       int
	bParked    int
	aReadyAtC  int
	// What it cost until C was done: messages deferred and fed back, and
	// the worker process's CPU time.
	deferred, undeferred int
	cpu                  time.Duration
	// How long sending A's notifications took, and the worker's messages
	// in flight and resident memory when C was done.
	sendA    time.Duration
	inFlight int
	rss      float64
	// Where C's time went (p50, p99): from its notification until its
	// document row was written (queue, intake, verification, a slot) and
	// from then until ready (the pipeline's stages); the worker's garbage
	// collections until C was done.
	cWait50, cWait99, cWork50, cWork99 time.Duration
	gcs                                int
	// The queue in front of C: messages visible (not yet received) when
	// C's first notification was sent, and how long after it the queue
	// first had none visible (every message sent so far received: C's time
	// in the queue is at most this).
	aheadOfC int
	queueDry time.Duration
	// From the worker's start until C was done (warm-up included): the
	// database pool's acquires, those that waited for a connection and
	// the mean time an acquire took; the mean wait for a dispatch slot.
	poolAcquires, poolWaits int
	poolMean, slotMean      time.Duration
}

func starvationRun(t *testing.T, bin string, aDocs, bDocs int) starvation {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "fair-", MaxReceive: 40})
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	rng := rand.New(rand.NewPCG(11, 11))
	type doc struct {
		tenant uuid.UUID
		id     string
		key    string
		ctype  string
		body   []byte
	}
	var docs []doc
	add := func(tn uuid.UUID, prefix string, n int, ctype string) {
		for i := range n {
			id := fmt.Sprintf("%s-%05d", prefix, i)
			body := harness.Text(rng, 2<<10)
			if ctype != "text/plain" {
				body = []byte("MZ a broken export")
			}
			docs = append(docs, doc{tn, id, harness.Key(tn, id, id+".txt"), ctype, body})
		}
	}
	// A warm-up tenant's documents go first, alone, so that C alone and C
	// next to the backlog both meet a worker past its start (connections
	// open, caches filled): the ratio compares tenants, not a cold start.
	warm := uuid.New()
	add(warm, "w", warmDocs, "text/plain")
	add(a, "a", aDocs, "text/plain")
	add(b, "b", bDocs, "application/x-msdownload")
	add(c, "c", 20, "text/plain")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, d := range docs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := env.Put(ctx, d.key, d.ctype, d.body, env.Kit.Object(t, d.tenant, env.Bucket, d.key)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	logDir := t.TempDir()
	if d := os.Getenv("TENANTRY_FAIR_LOG_DIR"); d != "" {
		logDir = d // experiments: keep each worker's log
	}
	logf, err := os.Create(filepath.Join(logDir, fmt.Sprintf("worker-a%d-b%d-%d.log", aDocs, bDocs, time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	settings := []string{"TENANTRY_CONCURRENCY=8", "TENANTRY_WAIT_TIME=1s",
		"TENANTRY_BREAKER_CONSECUTIVE_FAILURES=5", "TENANTRY_BACKOFF_BASE=100ms"}
	// Experiments: TENANTRY_FAIRNESS_SETTINGS adds worker settings (KEY=VALUE, space-separated).
	settings = append(settings, strings.Fields(os.Getenv("TENANTRY_FAIRNESS_SETTINGS"))...)
	var aDone, bSent, cSent time.Time
	ahead := 0
	send := func(ds []doc) {
		for _, d := range ds {
			switch {
			case d.tenant == b && bSent.IsZero():
				bSent = time.Now()
				aDone = bSent
			case d.tenant == c && cSent.IsZero():
				if v, err := time.ParseDuration(os.Getenv("TENANTRY_FAIR_C_AFTER")); err == nil && aDocs > 0 {
					time.Sleep(v) // experiments: a pause between the backlogs' notifications and C's
				}
				if v, _, err := env.QueueDepth(ctx, env.QueueURL); err == nil {
					ahead = v
				}
				cSent = time.Now()
			}
			if err := env.Send(ctx, env.Notification("ObjectCreated:Put", d.key)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// TENANTRY_FAIR_PREQUEUE set: A's and B's notifications are all in the
	// queue before the worker starts (a backlog the worker finds), and B's
	// trip counts from the worker's start; otherwise they are sent, in
	// order, while the worker runs.
	conn := tenantdbtest.Conn(t, env.DB.AdminURL)
	if v := os.Getenv("TENANTRY_FAIR_A_LIMIT"); v != "" && aDocs > 0 {
		// Experiments: A's per-tenant concurrency cap (tenantry tenant limits).
		if _, err := conn.Exec(ctx, "INSERT INTO tenant_limits (tenant_id, max_concurrency) VALUES ($1, $2)", a, v); err != nil {
			t.Fatal(err)
		}
	}
	warmUp, docs := docs[:warmDocs], docs[warmDocs:]
	late := docs
	prequeued := os.Getenv("TENANTRY_FAIR_PREQUEUE") != ""
	if prequeued {
		// The backlog is in the queue before the worker starts: no warm-up
		// (its documents would wait behind it).
		send(docs[:len(docs)-20])
		late = docs[len(docs)-20:]
	}
	w, err := env.StartWorker(ctx, bin, harness.WorkerConfig{Settings: settings}, logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop(30 * time.Second) }()
	if !prequeued {
		send(warmUp)
		err := harness.Eventually(ctx, "the warm-up documents ready", 5*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
			var n int
			err := conn.QueryRow(ctx, "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'", warm).Scan(&n)
			return n == warmDocs, err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if prequeued {
		bSent = start
	}
	send(late)
	dry := make(chan time.Duration, 1)
	go func() {
		err := harness.Eventually(ctx, "no message visible in the queue", 15*time.Minute, 10*time.Millisecond, func(ctx context.Context) (bool, error) {
			v, _, err := env.QueueDepth(ctx, env.QueueURL)
			return err == nil && v == 0, nil
		})
		if err != nil {
			dry <- -1
			return
		}
		dry <- time.Since(cSent)
	}()
	var ready, created []time.Time
	err = harness.Eventually(ctx, "C's documents ready", 15*time.Minute, 20*time.Millisecond, func(ctx context.Context) (bool, error) {
		rows, err := conn.Query(ctx, "SELECT created_at, updated_at FROM documents WHERE tenant_id = $1 AND status = 'ready'", c)
		if err != nil {
			return false, err
		}
		defer rows.Close()
		ready, created = ready[:0], created[:0]
		for rows.Next() {
			var cr, at time.Time
			if err := rows.Scan(&cr, &at); err != nil {
				return false, err
			}
			ready, created = append(ready, at), append(created, cr)
		}
		return len(ready) == 20, rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	var out starvation
	if m, err := w.Metrics(ctx); err == nil {
		out.deferred = int(m.Sum("tenantry_breaker_parked_total", `kind="deferred"`))
		out.undeferred = int(m.Sum("tenantry_breaker_released_total", `kind="deferred"`))
		out.inFlight = int(m.Sum("tenantry_worker_in_flight", `runner="documents"`))
		out.rss = m.Sum("process_resident_memory_bytes")
		out.gcs = int(m.Sum("go_gc_duration_seconds_count"))
		out.poolAcquires = int(m.Sum("tenantry_db_pool_acquires_total"))
		out.poolWaits = int(m.Sum("tenantry_db_pool_acquire_waits_total"))
		if out.poolAcquires > 0 {
			out.poolMean = time.Duration(float64(time.Second) * m.Sum("tenantry_db_pool_acquire_seconds_total") / float64(out.poolAcquires))
		}
		if n := m.Sum("tenantry_dispatch_wait_seconds_count"); n > 0 {
			out.slotMean = time.Duration(float64(time.Second) * m.Sum("tenantry_dispatch_wait_seconds_sum") / n)
		}
	}
	if aDocs > 0 && !aDone.IsZero() {
		out.sendA = aDone.Sub(start)
	}
	out.cpu, _ = w.CPU()
	out.aheadOfC, out.queueDry = ahead, <-dry
	lats := make([]time.Duration, 0, 20)
	for _, at := range ready {
		lats = append(lats, at.Sub(cSent))
	}
	slices.Sort(lats)
	out.cP50, out.cP99 = lats[len(lats)/2], lats[len(lats)-1]
	waits, works := make([]time.Duration, 0, 20), make([]time.Duration, 0, 20)
	for i := range ready {
		waits, works = append(waits, created[i].Sub(cSent)), append(works, ready[i].Sub(created[i]))
	}
	slices.Sort(waits)
	slices.Sort(works)
	out.cWait50, out.cWait99, out.cWork50, out.cWork99 = waits[len(waits)/2], waits[len(waits)-1], works[len(works)/2], works[len(works)-1]
	_ = conn.QueryRow(ctx, "SELECT count(*) FROM documents WHERE tenant_id = $1 AND status = 'ready'", a).Scan(&out.aReadyAtC)
	if bDocs > 0 {
		var changed time.Time
		if err := conn.QueryRow(ctx, "SELECT changed_at FROM tenant_breakers WHERE tenant_id = $1 AND state <> 'closed'", b).Scan(&changed); err == nil {
			out.bTrip = changed.Sub(bSent)
		}
		_ = conn.QueryRow(ctx, "SELECT count(*) FROM documents WHERE tenant_id = $1", b).Scan(&out.bRun)
		_ = conn.QueryRow(ctx, "SELECT count(*) FROM parked_messages WHERE tenant_id = $1", b).Scan(&out.bParked)
	}
	return out
}
