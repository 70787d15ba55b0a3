package client_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportableFromAnotherModule builds testdata/producer, a module of its
// own that requires tenantry through a replace directive and imports
// client: the SDK must not expose anything another module cannot use.
// Offline: dependencies come from the module cache the tests already use.
func TestImportableFromAnotherModule(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a module (-short)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mod, err := os.ReadFile("testdata/producer/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod = []byte(strings.Replace(string(mod), "=> ../../..", "=> "+repo, 1))
	src, err := os.ReadFile("testdata/producer/main.go")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": mod, "main.go": src, "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = dir
		// The module proxy of the environment, not GOPROXY=off: a consumer
		// resolves the whole module graph, whose go.mod files (e.g. an old
		// go-logr/logr that otel's stdr names) a fresh module cache filled by
		// this repository's own builds does not hold.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("build", "-o", filepath.Join(dir, "producer"), ".")
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "producer"))
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "reindex true" {
		t.Fatalf("producer: %q, %v", out, err)
	}
}
