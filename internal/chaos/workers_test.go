package chaos_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantry/tenantry/internal/chaos/harness"
)

// workerStarter returns a function that starts bin as a worker with the
// chaos settings plus extra, all logging to one file whose tail is printed
// if the test fails. Every started worker is killed when the test ends.
func workerStarter(t *testing.T, ctx context.Context, env *harness.Env, bin string, extra ...string) func() *harness.Process {
	t.Helper()
	return workerStarterVia(t, ctx, env, bin, "", extra...)
}

// workerStarterVia is workerStarter with the workers reaching S3 at
// s3Endpoint (a fault proxy's URL; "": the stack's S3).
func workerStarterVia(t *testing.T, ctx context.Context, env *harness.Env, bin, s3Endpoint string, extra ...string) func() *harness.Process {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "worker.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log tail:\n%s", tail(logf.Name(), 60))
		}
		_ = logf.Close()
	})
	cfg := harness.WorkerConfig{S3Endpoint: s3Endpoint, Settings: append(append([]string(nil), chaosSettings...), extra...)}
	return func() *harness.Process {
		t.Helper()
		w, err := env.StartWorker(ctx, bin, cfg, logf)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Kill() }) // a failed test leaves no worker behind
		return w
	}
}
