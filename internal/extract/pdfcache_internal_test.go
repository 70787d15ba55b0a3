package extract

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// TestSeedPDFCache: entries the cache lacks are copied whole; entries it has
// are kept; links and other non-files in a seed are not followed.
func TestSeedPDFCache(t *testing.T) {
	t.Parallel()
	seed, dir := t.TempDir(), t.TempDir()
	write := func(root, rel, body string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(seed, "wazero-v1-amd64-linux/aa", "seed aa")
	write(seed, "wazero-v1-amd64-linux/bb", "seed bb")
	write(dir, "wazero-v1-amd64-linux/bb", "cache bb")
	secret := filepath.Join(t.TempDir(), "secret")
	write(filepath.Dir(secret), "secret", "outside the seed")
	if err := os.Symlink(secret, filepath.Join(seed, "wazero-v1-amd64-linux", "cc")); err != nil {
		t.Fatal(err)
	}
	have, err := cacheEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := seedPDFCache(seed, dir, have)
	if err != nil || n != 1 {
		t.Fatalf("seedPDFCache = %d, %v; want 1 copied", n, err)
	}
	got, err := cacheEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(have, got) {
		t.Fatalf("entries after seeding %v, but the directory holds %v", have, got)
	}
	want := map[string]int64{"wazero-v1-amd64-linux/aa": 7, "wazero-v1-amd64-linux/bb": 8}
	if len(got) != len(want) || got["wazero-v1-amd64-linux/aa"] != 7 || got["wazero-v1-amd64-linux/bb"] != 8 {
		t.Fatalf("cache entries %v, want %v (the cache's own bb kept, the link not followed)", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "wazero-v1-amd64-linux", "aa")); string(b) != "seed aa" {
		t.Fatalf("copied %q", b)
	}
	// Nothing but entries: no temporary file left behind.
	ents, _ := os.ReadDir(filepath.Join(dir, "wazero-v1-amd64-linux"))
	if len(ents) != 2 {
		t.Fatalf("%d files in the cache directory, want 2", len(ents))
	}

	for _, bad := range []string{filepath.Join(seed, "absent"), filepath.Join(seed, "wazero-v1-amd64-linux", "aa")} {
		if _, err := seedPDFCache(bad, dir, got); err == nil {
			t.Errorf("seed %s: no error", bad)
		}
	}
}
