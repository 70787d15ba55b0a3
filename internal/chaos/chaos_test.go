package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/internal/chaos/faultproxy"
	"github.com/tenantry/tenantry/internal/chaos/harness"
)

// plan sizes one chaos run.
type plan struct {
	docs, tenants int
	minKills      int
	killAfter     [2]time.Duration // a kill comes uniformly this long after the worker is ready
	feed          time.Duration    // notifications are spread over this
	restartPG     bool             // long: restart the stack's PostgreSQL; short: cut the worker's connections
	s3Window      time.Duration    // how long S3 misbehaves
	deadline      time.Duration    // for everything to be ready after the feed
	duplicates    float64          // share of documents whose notification is delivered twice
	size          [2]int           // document size range, bytes
}

func chaosPlan() plan {
	if long() {
		return plan{docs: 1000, tenants: 5, minKills: 24, killAfter: [2]time.Duration{1500 * time.Millisecond, 4 * time.Second},
			feed: 90 * time.Second, restartPG: true, s3Window: 10 * time.Second, deadline: 20 * time.Minute,
			duplicates: 0.05, size: [2]int{2 << 10, 12 << 10}}
	}
	if dense() {
		// Many duplicate deliveries of new documents, kills and cut
		// connections, no PostgreSQL restart (safe on a shared stack).
		return plan{docs: 400, tenants: 3, minKills: 12, killAfter: [2]time.Duration{600 * time.Millisecond, 1500 * time.Millisecond},
			feed: 25 * time.Second, s3Window: 4 * time.Second, deadline: 4 * time.Minute,
			duplicates: 0.3, size: [2]int{2 << 10, 8 << 10}}
	}
	return plan{docs: 60, tenants: 3, minKills: 3, killAfter: [2]time.Duration{600 * time.Millisecond, 1200 * time.Millisecond},
		feed: 5 * time.Second, s3Window: 2 * time.Second, deadline: 80 * time.Second,
		duplicates: 0.1, size: [2]int{2 << 10, 8 << 10}}
}

// chaosSettings: short visibility timeout so a killed worker's messages
// come back quickly, fast backoff, and enough receives that retries during
// the faults never dead-letter a good document (the queue's redrive allows
// more still).
var chaosSettings = []string{
	"TENANTRY_VISIBILITY_TIMEOUT=5s", "TENANTRY_WAIT_TIME=1s", "TENANTRY_BACKOFF_BASE=100ms",
	"TENANTRY_BACKOFF_MAX=2s", "TENANTRY_MAX_RECEIVES=30", "TENANTRY_DRAIN_TIMEOUT=5s",
	"TENANTRY_CONCURRENCY=8", "TENANTRY_DB_MAX_CONNS=8",
}

// supervisor keeps one worker process running, as ECS or systemd would: it
// restarts it whenever it exits, and SIGKILLs it at random moments until
// told to stop killing.
type supervisor struct {
	env  *harness.Env
	bin  string
	cfg  harness.WorkerConfig
	logw *os.File
	rng  *rand.Rand

	kills, killsInFlight, crashes, starts atomic.Int64
	killing                               atomic.Bool
}

// run supervises until ctx ends, then stops the worker (SIGTERM, drain).
func (s *supervisor) run(ctx context.Context, killAfter [2]time.Duration) {
	for ctx.Err() == nil {
		ops, err := harness.FreeAddr()
		if err != nil {
			continue
		}
		p, err := harness.Start(s.bin, []string{"worker"}, s.env.WorkerEnv(s.cfg, ops), ops, s.logw)
		if err != nil {
			fmt.Fprintf(s.logw, "chaos: start failed: %v\n", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		s.starts.Add(1)
		if err := p.WaitReady(ctx, time.Minute); err != nil {
			select {
			case <-p.Done():
				s.crashes.Add(1)
				fmt.Fprintf(s.logw, "chaos: worker exited before ready: %v\n", p.ExitErr())
				time.Sleep(300 * time.Millisecond) // e.g. PostgreSQL restarting: start again
			default:
				_ = p.Stop(10 * time.Second)
			}
			continue
		}
		var kill <-chan time.Time
		if s.killing.Load() {
			d := killAfter[0] + time.Duration(s.rng.Int64N(int64(killAfter[1]-killAfter[0])+1))
			kill = time.After(d)
		}
		select {
		case <-kill:
			if m, err := p.Metrics(ctx); err == nil && m.Sum("tenantry_worker_in_flight") > 0 {
				s.killsInFlight.Add(1)
			}
			_ = p.Kill()
			s.kills.Add(1)
			fmt.Fprintf(s.logw, "chaos: SIGKILL #%d\n", s.kills.Load())
		case <-p.Done():
			s.crashes.Add(1)
			fmt.Fprintf(s.logw, "chaos: worker exited by itself: %v\n", p.ExitErr())
		case <-ctx.Done():
			if err := p.Stop(15 * time.Second); err != nil {
				fmt.Fprintf(s.logw, "chaos: drain: %v\n", err)
			}
		}
	}
}

// TestChaosWorkerKillsAndFaults: documents for several tenants while the
// worker process is SIGKILLed at random moments and restarted, PostgreSQL
// goes away (long: restarted; short: the worker's backends terminated), and
// S3 answers 5xx, hangs and resets for a while. Afterwards every document is
// ready exactly once, nothing is dead-lettered, every audit chain verifies.
func TestChaosWorkerKillsAndFaults(t *testing.T) {
	t.Parallel()
	p := chaosPlan()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "chaos-", MaxReceive: 40})
	bin := harness.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), p.feed+p.deadline+2*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 99))
	t.Logf("plan %+v, seed %d", p, seed)

	proxy := s3Proxy(t, env, seed)

	// The corpus: uploaded before the run (the upload is not under test).
	tenants := make([]uuid.UUID, p.tenants)
	for i := range tenants {
		tenants[i] = uuid.New()
	}
	chunker, err := harness.NewChunker(512, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer chunker.Close()
	docs := make([]harness.Doc, p.docs)
	bodies := make([][]byte, p.docs)
	for i := range docs {
		tn := tenants[i%len(tenants)]
		id := fmt.Sprintf("doc-%04d", i)
		bodies[i] = harness.Text(rng, p.size[0]+rng.IntN(p.size[1]-p.size[0]))
		chs, err := chunker.Chunks(ctx, "text/plain", bodies[i])
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = harness.Doc{Tenant: tn, DocumentID: id, Key: harness.Key(tn, id, id+".txt"), Version: harness.Version(bodies[i]), Chunks: len(chs)}
	}
	upload(t, ctx, env, docs, bodies)

	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	settings := chaosSettings
	if g := os.Getenv("TENANTRY_CHAOS_GROUP_DOCS"); g != "" {
		// The worker's --group-docs for this run (grouped writes on or off).
		settings = append(append([]string(nil), chaosSettings...), "TENANTRY_GROUP_DOCS="+g)
		t.Logf("worker with TENANTRY_GROUP_DOCS=%s", g)
	}
	sup := &supervisor{env: env, bin: bin, logw: logf, rng: rand.New(rand.NewPCG(seed, 7)),
		cfg: harness.WorkerConfig{S3Endpoint: proxy.URL(), Settings: settings}}
	sup.killing.Store(true)
	supCtx, stopSup := context.WithCancel(ctx)
	supDone := make(chan struct{})
	go func() { defer close(supDone); sup.run(supCtx, p.killAfter) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopSup()
			<-supDone
		}
	}
	t.Cleanup(stop)
	defer func() {
		if t.Failed() {
			t.Logf("worker log tail:\n%s", tail(logf.Name(), 60))
		}
	}()

	// Feed the notifications at a steady pace, with some delivered twice;
	// break things at fixed points of the feed.
	began := time.Now()
	order := rng.Perm(len(docs))
	var faults sync.WaitGroup
	var pgNote, s3Note string
	for n, i := range order {
		switch n {
		case len(order) * 35 / 100:
			faults.Add(1)
			go func() { defer faults.Done(); pgNote = breakPostgres(t, ctx, p, db) }()
		case len(order) * 55 / 100:
			faults.Add(1)
			go func() { defer faults.Done(); s3Note = breakS3(ctx, proxy, p.s3Window) }()
		case len(order) * 90 / 100:
			// Keep work outstanding until the kills are done.
			for sup.kills.Load() < int64(p.minKills) && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
		msgs := []string{env.Notification("ObjectCreated:Put", docs[i].Key)}
		if rng.Float64() < p.duplicates {
			msgs = append(msgs, msgs[0]) // at-least-once delivery: the same event twice
		}
		if err := env.Send(ctx, msgs...); err != nil {
			t.Fatal(err)
		}
		if wait := time.Until(began.Add(p.feed * time.Duration(n+1) / time.Duration(len(order)))); wait > 0 {
			time.Sleep(wait)
		}
	}
	fed := time.Since(began)

	// Wait: every document ready and the queue drained.
	err = harness.Eventually(ctx, "every document ready and the queue drained", p.deadline, 500*time.Millisecond,
		func(ctx context.Context) (bool, error) {
			n, err := db.count(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'")
			if err != nil || n < len(docs) {
				return false, err
			}
			sup.killing.Store(false)
			v, f, err := env.QueueDepth(ctx, env.QueueURL)
			return err == nil && v == 0 && f == 0, nil
		})
	took := time.Since(began)
	faults.Wait()
	stop()
	r, dead := requireExactlyOnce(ctx, t, db, env, docs, err, 5*time.Second)
	if k := sup.kills.Load(); k < int64(p.minKills) {
		t.Errorf("only %d SIGKILLs, want at least %d", k, p.minKills)
	}
	if n, err := db.count(ctx, "SELECT count(*) FROM security_events"); err != nil || n != 0 {
		t.Errorf("security events: %d (%v), want 0", n, err)
	}
	var maxAttempts int
	var jobsDone, jobsOther int
	_ = db.do(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT coalesce(max(attempts), 0), count(*) FILTER (WHERE status = 'done'),
			count(*) FILTER (WHERE status <> 'done') FROM jobs`).Scan(&maxAttempts, &jobsDone, &jobsOther)
	})
	if jobsOther != 0 {
		t.Errorf("%d ledger entries not done", jobsOther)
	}
	st := proxy.Stats()
	t.Logf("chaos: %d documents (%d chunks) for %d tenants in %s (fed over %s): %d SIGKILLs (%d with handlers in flight), "+
		"%d exits by itself, %d starts; %s; %s (S3 proxy: %d requests, %d 5xx, %d hangs, %d resets); "+
		"%d document.ingested rows, %d ingest_duplicate rows (duplicate deliveries, no data effect), %d audit events verified, "+
		"max attempts of one document %d, %d dead-lettered",
		len(docs), r.Chunks, p.tenants, took.Round(time.Millisecond), fed.Round(time.Millisecond), sup.kills.Load(), sup.killsInFlight.Load(),
		sup.crashes.Load(), sup.starts.Load(), pgNote, s3Note, st.Requests, st.Errors, st.Hangs, st.Resets,
		r.IngestAudits, r.DuplicateAudits, r.AuditEvents, maxAttempts, len(dead))
}

// upload puts the corpus with eight uploaders.
func upload(t *testing.T, ctx context.Context, env *harness.Env, docs []harness.Doc, bodies [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(docs))
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(docs) {
					return
				}
				d := docs[i]
				if err := env.Put(ctx, d.Key, "text/plain", bodies[i], env.Kit.Object(t, d.Tenant, env.Bucket, d.Key)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// requireExactlyOnce is the end of every chaos run: waitErr is the outcome of
// waiting for every document to be ready; then nothing may sit in the DLQ
// and check must find nothing lost, doubled or unverifiable.
func requireExactlyOnce(ctx context.Context, t *testing.T, db admin, env *harness.Env, docs []harness.Doc, waitErr error,
	dlqWait time.Duration) (harness.Report, []harness.DeadLetter) {
	t.Helper()
	if waitErr != nil {
		r, _ := check(ctx, db, env, docs)
		t.Fatalf("%v\nstate: %+v", waitErr, r)
	}
	dead, err := env.DeadLetters(ctx, 0, dlqWait)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dead {
		t.Errorf("dead-lettered: reason %q stage %q", d.Reason, d.Stage)
	}
	r, err := check(ctx, db, env, docs)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range r.Problems {
		t.Error(pr)
	}
	return r, dead
}

func check(ctx context.Context, db admin, env *harness.Env, docs []harness.Doc) (harness.Report, error) {
	var r harness.Report
	err := db.do(ctx, func(c *pgx.Conn) error {
		var err error
		r, err = harness.Check(ctx, c, env.DB.OwnerURL, docs)
		return err
	})
	return r, err
}

// breakPostgres restarts the stack's PostgreSQL (long run) or terminates
// the worker role's backends in this test's database (short run: the shared
// server stays up for everyone else's tests).
func breakPostgres(t *testing.T, ctx context.Context, p plan, db admin) string {
	if p.restartPG {
		root, err := harness.ModuleRoot()
		if err != nil {
			t.Error(err)
			return "postgres restart failed"
		}
		began := time.Now()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "deploy/local/stack.sh"), "restart-pg")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("restart-pg: %v: %s", err, out)
			return "postgres restart failed"
		}
		return fmt.Sprintf("PostgreSQL restarted (%s)", time.Since(began).Round(time.Millisecond))
	}
	n, err := db.count(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE usename = 'tenantry_worker' AND datname = current_database()) AS killed`)
	if err != nil {
		t.Errorf("terminate backends: %v", err)
	}
	return fmt.Sprintf("%d worker database connections terminated", n)
}

// breakS3 makes S3 misbehave for window: 40% errors (503 SlowDown, then
// 500), 10% held 2 s then dropped, 10% reset.
func breakS3(ctx context.Context, proxy *faultproxy.Proxy, window time.Duration) string {
	before := proxy.Stats()
	for _, status := range []int{503, 500} {
		_ = proxy.Set(faultproxy.Faults{ErrorRate: 0.4, Status: status, HangRate: 0.1, Hang: 2 * time.Second, ResetRate: 0.1})
		select {
		case <-ctx.Done():
		case <-time.After(window / 2):
		}
	}
	proxy.Clear()
	after := proxy.Stats()
	return fmt.Sprintf("S3 faulty for %s (%d of %d requests failed)", window,
		(after.Errors+after.Hangs+after.Resets)-(before.Errors+before.Hangs+before.Resets), after.Requests-before.Requests)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// s3Proxy starts a fault proxy in front of the stack's S3 (closed when t
// ends); the worker reaches S3 through it when its endpoint is proxy.URL().
func s3Proxy(t *testing.T, env *harness.Env, seed uint64) *faultproxy.Proxy {
	t.Helper()
	proxy, err := faultproxy.New(faultproxy.Config{Target: env.Stack.S3Endpoint, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	return proxy
}
