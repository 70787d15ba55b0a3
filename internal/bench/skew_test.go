package bench_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/bench"
	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
)

// measureSkew times the real worker on two corpora of about the same total
// chunks in the same run: uniform documents, and the same small documents
// but one of them 100× the median. With a document's batches embedded and
// stored in parallel (--document-parallel), the big one should not hold the
// tail; the same skewed corpus with --document-parallel=1 is the control.
func measureSkew(t *testing.T, bin string, sz sizes) *bench.Skew {
	docBytes, smallDocs := 4<<10, 10
	if sz.ingestDocs >= 100 { // full
		docBytes, smallDocs = 12<<10, 100
	}
	sk := &bench.Skew{DocBytes: docBytes, Factor: 100}
	rng := rand.New(rand.NewPCG(11, 11))
	small := make([][]byte, smallDocs+100)
	for i := range small {
		small[i] = harness.Text(rng, docBytes)
	}
	big := harness.Text(rng, 100*docBytes)
	uniform := small                                                   // smallDocs+100 documents of the median size
	skewed := append(append([][]byte(nil), small[:smallDocs]...), big) // smallDocs of the median, one 100× it
	for _, run := range []struct {
		name     string
		docs     [][]byte
		parallel int
	}{
		{"uniform", uniform, 4},
		{"one document 100× the median", skewed, 4},
		{"the same, --document-parallel=1", skewed, 1},
	} {
		t.Run(run.name, func(t *testing.T) {
			secs, chunks := timeCorpus(t, bin, run.docs, run.parallel)
			sk.Runs = append(sk.Runs, bench.SkewRun{Name: run.name, Documents: len(run.docs), Chunks: chunks, Parallel: run.parallel, Seconds: secs})
			t.Logf("skew %-34s %4d documents, %5d chunks, %.2f s, %.0f chunks/s", run.name, len(run.docs), chunks, secs, float64(chunks)/secs)
		})
	}
	return sk
}

// timeCorpus uploads docs (not timed), then times a fresh worker from the
// first notification until every document is ready.
func timeCorpus(t *testing.T, bin string, docs [][]byte, parallel int) (float64, int) {
	ctx := context.Background()
	env := harness.NewEnv(t, harness.EnvConfig{Prefix: "skew-"})
	tenants := []uuid.UUID{uuid.New(), uuid.New()}
	keys := make([]string, len(docs))
	for i, body := range docs {
		tn := tenants[i%len(tenants)]
		id := fmt.Sprintf("doc-%04d", i)
		keys[i] = harness.Key(tn, id, id+".txt")
		if err := env.Put(ctx, keys[i], "text/plain", body, env.Kit.Object(t, tn, env.Bucket, keys[i])); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	w, err := env.StartWorker(ctx, bin, harness.WorkerConfig{Settings: []string{"TENANTRY_DOCUMENT_PARALLEL=" + strconv.Itoa(parallel)}}, logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop(30 * time.Second) }()
	msgs := make([]string, len(keys))
	for i, k := range keys {
		msgs[i] = env.Notification("ObjectCreated:Put", k)
	}
	db := tenantdbtest.Conn(t, env.DB.AdminURL)
	began := time.Now()
	if err := env.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, "every document ready", 30*time.Minute, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		var n int
		err := db.QueryRow(ctx, "SELECT count(*) FROM documents WHERE status = 'ready'").Scan(&n)
		return n == len(docs), err
	}); err != nil {
		t.Fatalf("%v\nworker log:\n%s", err, tailFile(logf.Name()))
	}
	secs := time.Since(began).Seconds()
	var chunks int
	if err := db.QueryRow(ctx, "SELECT coalesce(sum(chunk_count), 0) FROM documents").Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	return secs, chunks
}
