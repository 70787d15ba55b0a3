package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// TestChaosParkedWorkSurvivesKills: a paused tenant's uploads are parked
// while the worker process is SIGKILLed at random moments, then released
// (resume) while it is still being killed; another tenant runs throughout.
// Afterwards every document is ready exactly once (0 lost, 0 doubled),
// nothing is parked or refused, nothing is dead-lettered, and every audit
// chain verifies.
func TestChaosParkedWorkSurvivesKills(t *testing.T) {
	t.Parallel()
	n, minKills := 30, 2 // per phase
	if long() {
		n, minKills = 300, 5
	}
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "chaos-park-", MaxReceive: 40})
	bin := harness.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 5))
	t.Logf("seed %d", seed)

	raw, err := tenantdb.OpenOperator(ctx, env.DB.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	op := breaker.NewOperator(raw, nil, nil)
	paused, other := uuid.New(), uuid.New()
	if err := op.Pause(ctx, paused, "chaos", "parking drill"); err != nil {
		t.Fatal(err)
	}
	docs := make([]harness.Doc, 0, n+n/3)
	bodies := make([][]byte, 0, cap(docs))
	for i := range cap(docs) {
		tn := paused
		if i >= n {
			tn = other
		}
		id := fmt.Sprintf("doc-%04d", i)
		docs = append(docs, harness.Doc{Tenant: tn, DocumentID: id, Key: harness.Key(tn, id, id+".txt")})
		bodies = append(bodies, harness.Text(rng, 1<<10+rng.IntN(2<<10)))
		docs[i].Version = harness.Version(bodies[i])
	}
	upload(t, ctx, env, docs, bodies)

	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	settings := append(append([]string(nil), chaosSettings...),
		"TENANTRY_BREAKER_POLL_INTERVAL=100ms", "TENANTRY_BREAKER_RELEASE_RATE=15")
	sup := &supervisor{env: env, bin: bin, logw: logf, rng: rand.New(rand.NewPCG(seed, 8)),
		cfg: harness.WorkerConfig{Settings: settings}}
	sup.killing.Store(true)
	supCtx, stopSup := context.WithCancel(ctx)
	supDone := make(chan struct{})
	go func() {
		defer close(supDone)
		sup.run(supCtx, [2]time.Duration{300 * time.Millisecond, 900 * time.Millisecond})
	}()
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
	status := func() breaker.Status {
		st, err := op.Status(ctx, paused)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// Phase 1, parking: notifications go in a few at a time while the worker is killed.
	for i, d := range docs {
		if err := env.Send(ctx, env.Notification("ObjectCreated:Put", d.Key)); err != nil {
			t.Fatal(err)
		}
		if i%5 == 4 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	err = harness.Eventually(ctx, "every upload of the paused tenant parked", 3*time.Minute, 200*time.Millisecond,
		func(ctx context.Context) (bool, error) {
			return status().Parked == int64(n) && sup.kills.Load() >= int64(minKills), nil
		})
	if err != nil {
		t.Fatalf("%v (status %+v, %d kills)", err, status(), sup.kills.Load())
	}
	if k, _ := db.count(ctx, "SELECT count(*) FROM documents WHERE tenant_id = $1", paused); k != 0 {
		t.Fatalf("%d documents of the paused tenant stored", k)
	}
	parkKills := sup.kills.Load()

	// Phase 2, release: resume while the worker is still being killed.
	if err := op.Resume(ctx, paused, "chaos", "drill over"); err != nil {
		t.Fatal(err)
	}
	err = harness.Eventually(ctx, "every document ready, nothing parked, the queue drained", 5*time.Minute, 300*time.Millisecond,
		func(ctx context.Context) (bool, error) {
			if sup.kills.Load()-parkKills >= int64(minKills) {
				sup.killing.Store(false) // the release phase had its share
			}
			ready, err := db.count(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'")
			if err != nil || ready < len(docs) || status().Parked != 0 || sup.killing.Load() {
				return false, err
			}
			v, f, err := env.QueueDepth(ctx, env.QueueURL)
			return err == nil && v == 0 && f == 0, nil
		})
	stop()
	r, _ := requireExactlyOnce(ctx, t, db, env, docs, err, 3*time.Second)
	if st := status(); st.State != breaker.Closed || st.Parked != 0 || st.Refused != 0 {
		t.Errorf("breaker after the run: %+v", st)
	}
	releases, _ := db.count(ctx, "SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'breaker.release'", paused)
	t.Logf("parked %d uploads under %d SIGKILLs, released them under %d more: %d documents ready exactly once (%d chunks), "+
		"%d release audit rows (>= %d: a release killed before its delete is sent again), %d duplicate deliveries absorbed",
		n, parkKills, sup.kills.Load()-parkKills, r.Ready, r.Chunks, releases, n, r.DuplicateAudits)
}
