package chaos_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/chaos/faultproxy"
	"github.com/tenantry/tenantry/internal/chaos/harness"
)

// holdPlan sizes one kill-while-holding run.
type holdPlan struct {
	backlog, small int   // documents of the backlogged tenant, of the small one
	kills          []int // held messages at which each successive worker is killed
}

func holdRunPlan() holdPlan {
	if long() {
		return holdPlan{backlog: 2000, small: 100, kills: []int{1000, 500, 300, 200, 100}}
	}
	return holdPlan{backlog: 300, small: 20, kills: []int{100, 50}}
}

// TestChaosKillWhileHolding: a worker holds received, unverified messages
// of a backlogged tenant in memory (tenantlimits.Intake, worker.Admitter:
// no HEAD, no verification, no goroutine; kept invisible by the runner's
// batched heartbeats). It is SIGKILLed while holding many, restarted,
// killed again while holding, and restarted for good. Whatever it held
// comes back when its visibility lapses; in the end every document is
// ready exactly once with its chunk count, nothing is dead-lettered, every
// audit chain verifies. Two shapes: the whole backlog in SQS before the
// first worker starts, and the backlog arriving while the workers run (a
// wave for each worker to be killed, so each has one to hold).
func TestChaosKillWhileHolding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		prequeued bool
	}{
		{name: "backlog queued before the worker starts", prequeued: true},
		{name: "backlog arriving while the worker runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			killWhileHolding(t, holdRunPlan(), tc.prequeued)
		})
	}
}

func killWhileHolding(t *testing.T, p holdPlan, prequeued bool) {
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "chaos-hold-", MaxReceive: 40})
	bin := harness.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	db := admin{env.DB.AdminURL}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 16))
	t.Logf("plan %+v, pre-queued %v, seed %d", p, prequeued, seed)

	chunker, err := harness.NewChunker(512, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer chunker.Close()
	big, small := uuid.New(), uuid.New()
	docs := make([]harness.Doc, 0, p.backlog+p.small)
	bodies := make([][]byte, 0, cap(docs))
	for i := range cap(docs) {
		tn := big
		if i >= p.backlog {
			tn = small
		}
		id := fmt.Sprintf("doc-%05d", i)
		body := harness.Text(rng, 1<<10+rng.IntN(3<<10))
		chs, err := chunker.Chunks(ctx, "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, harness.Doc{Tenant: tn, DocumentID: id, Key: harness.Key(tn, id, id+".txt"),
			Version: harness.Version(body), Chunks: len(chs)})
		bodies = append(bodies, body)
	}
	upload(t, ctx, env, docs, bodies)
	// The backlog first, the small tenant's documents behind it.
	notes := make([]string, len(docs))
	for i, d := range docs {
		notes[i] = env.Notification("ObjectCreated:Put", d.Key)
	}

	// One slot, and S3 answering the worker 30 ms late (through a proxy):
	// a document takes at least ~100 ms whatever the machine's speed, so
	// the backlog (received without touching S3) outlasts the held
	// messages' first heartbeats; eight slots on an idle machine finished
	// a wave before them.
	proxy := s3Proxy(t, env, seed)
	if err := proxy.Set(faultproxy.Faults{Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := workerStarterVia(t, ctx, env, bin, proxy.URL(), "TENANTRY_CONCURRENCY=1")
	// Pre-queued: everything is in SQS before the first worker starts.
	// Arriving: the backlog comes in one wave per worker to be killed, each
	// sent as that worker starts, as fast as the queue takes it (faster than
	// the worker finishes documents, so it piles up in the intake); the
	// small tenant's documents come with the last wave. Each worker then
	// has a backlog of its own to hold, however fast the one before it was.
	waves := [][]string{notes}
	kills := slices.Clone(p.kills)
	if !prequeued {
		waves = holdWaves(notes[:p.backlog], len(kills))
		waves[len(waves)-1] = append(waves[len(waves)-1], notes[p.backlog:]...)
		for i := range kills {
			kills[i] = min(kills[i], len(waves[i])/2)
		}
	}
	fed := make(chan error, len(waves))
	send := func(i int) { fed <- env.Send(ctx, waves[i]...) }
	if prequeued {
		send(0)
	}
	w := start()
	if !prequeued {
		go send(0)
	}

	// Kill each worker once it holds enough and has kept them invisible
	// (minBeats: the held messages' batched heartbeats have run); start the
	// next at once (the dead one's messages stay invisible until their
	// visibility lapses).
	// Two batches of extensions (10 messages each) before a kill: the
	// held messages at the front of the backlog were kept invisible by a
	// heartbeat and are still held when the worker dies (one slot works
	// through them in order), so an extension that kept them invisible
	// too long would lose them.
	const minBeats = 20
	heldAtKill := make([]int, 0, len(kills))
	for i, want := range kills {
		var held, beats int
		err := harness.Eventually(ctx, fmt.Sprintf("the worker holding %d messages through their heartbeats", want), 2*time.Minute, 20*time.Millisecond,
			func(ctx context.Context) (bool, error) {
				select {
				case <-w.Done():
					return false, fmt.Errorf("worker exited: %w", w.ExitErr())
				default:
				}
				m, err := w.Metrics(ctx)
				if err != nil {
					return false, nil
				}
				held = int(m.Sum("tenantry_worker_held"))
				beats = int(m.Sum("tenantry_worker_heartbeats_total"))
				return held >= want && beats >= minBeats, nil
			})
		if err != nil {
			ready, _ := db.count(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'")
			t.Fatalf("%v (held %d, %d extensions, %d of %d documents ready)", err, held, beats, ready, len(docs))
		}
		if err := w.Kill(); err != nil {
			t.Fatal(err)
		}
		heldAtKill = append(heldAtKill, held)
		w = start()
		if i+1 < len(waves) {
			go send(i + 1)
		}
	}
	for range waves {
		if err := <-fed; err != nil {
			t.Fatal(err)
		}
	}
	readyAtLastKill, _ := db.count(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'")

	waitErr := harness.Eventually(ctx, "every document ready and the queue drained", 10*time.Minute, 200*time.Millisecond,
		func(ctx context.Context) (bool, error) {
			n, err := db.count(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'")
			if err != nil || n < len(docs) {
				return false, err
			}
			v, f, err := env.QueueDepth(ctx, env.QueueURL)
			return err == nil && v == 0 && f == 0, nil
		})
	if err := w.Stop(30 * time.Second); err != nil {
		t.Errorf("last worker: %v", err)
	}
	r, _ := requireExactlyOnce(ctx, t, db, env, docs, waitErr, 3*time.Second)
	if n, err := db.count(ctx, "SELECT count(*) FROM security_events"); err != nil || n != 0 {
		t.Errorf("security events: %d (%v), want 0", n, err)
	}
	t.Logf("pre-queued %v: killed %d workers holding %v messages of a %d-document backlog (%d of %d documents ready after "+
		"the last kill): %d documents ready exactly once (%d chunks), %d duplicate deliveries absorbed, %d audit events verified",
		prequeued, len(heldAtKill), heldAtKill, p.backlog, readyAtLastKill, len(docs), r.Ready, r.Chunks, r.DuplicateAudits, r.AuditEvents)
}

// holdWaves splits notes into n waves of (nearly) equal size, in order.
func holdWaves(notes []string, n int) [][]string {
	waves := make([][]string, n)
	for i := range n {
		waves[i] = slices.Clip(notes[i*len(notes)/n : (i+1)*len(notes)/n])
	}
	return waves
}
