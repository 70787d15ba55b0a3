package extract_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantry/tenantry/internal/extract"
)

// readyLog starts a fresh Extractor's PDF engine with cfg, extracts a small
// PDF with it and returns the engine's "PDF engine ready" log fields and
// any warnings.
func readyLog(t *testing.T, cfg extract.Config) (ready map[string]any, warnings []string) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	e, err := extract.New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	}()
	pdf := makePDF("seeded engine page")
	out, err := e.Extract(context.Background(), "application/pdf", bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Sections) != 1 || !strings.Contains(out.Sections[0].Text, "seeded engine page") {
		t.Fatalf("extracted %+v", out.Sections)
	}
	for _, l := range logs.All() {
		switch {
		case l.Message == "PDF engine ready":
			ready = l.ContextMap()
		case l.Level == zap.WarnLevel:
			warnings = append(warnings, l.Message)
		}
	}
	if ready == nil {
		t.Fatal(`no "PDF engine ready" line`)
	}
	return ready, warnings
}

// files lists dir's regular files (relative path → content).
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPDFSeed: a compile cache made ahead of time (as the image build does)
// spares a fresh process the compile; a seed that does not fit is no worse
// than none.
func TestPDFSeed(t *testing.T) {
	t.Parallel()
	// The package's warm cache (TestMain compiled PDFium into it) is a seed
	// made by this binary on this machine; the bogus one has an entry under
	// another wazero version's directory, as a seed built for another CPU
	// or release would.
	bogus := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bogus, "wazero-v0.0.0-other"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bogus, "wazero-v0.0.0-other", "00ff"), []byte("not code"), 0o644); err != nil {
		t.Fatal(err)
	}
	filled := t.TempDir() // a cache dir that already holds the code
	for rel, body := range files(t, pdfCacheDir()) {
		p := filepath.Join(filled, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, seed, cache string
		compiled          bool
		seeded            int64
		warn              string
	}{
		{name: "seed fits: loaded, not compiled", seed: pdfCacheDir(), cache: t.TempDir(), seeded: int64(len(files(t, pdfCacheDir())))},
		{name: "seed for another CPU or release: compiled as without one", seed: bogus, cache: t.TempDir(), compiled: true, seeded: 1},
		{name: "missing seed: logged, cache used", seed: filepath.Join(t.TempDir(), "absent"), cache: filled, warn: "PDF compile seed not used"},
		{name: "seed without a cache directory: logged, compiled in memory", seed: pdfCacheDir(), compiled: true, warn: "PDF compile seed not used: no PDF cache directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seedBefore := files(t, pdfCacheDir())
			ready, warnings := readyLog(t, extract.Config{PDFCacheDir: tc.cache, PDFSeedDir: tc.seed})
			if got := ready["compiled"]; got != tc.compiled {
				t.Errorf("compiled = %v, want %v (log %v)", got, tc.compiled, ready)
			}
			if got := ready["seeded"]; got != tc.seeded {
				t.Errorf("seeded = %v, want %d", got, tc.seeded)
			}
			if tc.warn == "" && len(warnings) > 0 || tc.warn != "" && (len(warnings) != 1 || warnings[0] != tc.warn) {
				t.Errorf("warnings %q, want %q", warnings, tc.warn)
			}
			if tc.cache != "" && tc.seed == pdfCacheDir() {
				got := files(t, tc.cache)
				for rel, body := range seedBefore {
					if got[rel] != body {
						t.Errorf("cache entry %s differs from the seed's", rel)
					}
				}
			}
			if after := files(t, pdfCacheDir()); len(after) != len(seedBefore) {
				t.Errorf("the seed changed: %d entries, had %d", len(after), len(seedBefore))
			}
		})
	}
}

// TestCompilePDFium compiles into an empty directory, as the image build
// does, and a process seeded from it does not compile.
func TestCompilePDFium(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "made", "here")
	out, err := extract.CompilePDFium(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Entries < 1 || out.Bytes < 1<<20 || out.Dir != dir {
		t.Fatalf("compiled %+v: want at least one entry of compiled code", out)
	}
	ready, _ := readyLog(t, extract.Config{PDFCacheDir: t.TempDir(), PDFSeedDir: dir})
	if ready["compiled"] != false || ready["seeded"] != int64(out.Entries) {
		t.Fatalf("seeded from the compiled directory: %v", ready)
	}

	for _, bad := range []struct{ name, dir string }{
		{"no directory", ""},
		{"a file in the way", filepath.Join(dir, mustFile(t, dir), "x")},
	} {
		if _, err := extract.CompilePDFium(context.Background(), bad.dir, nil); err == nil {
			t.Errorf("%s: compiled into %q without an error", bad.name, bad.dir)
		}
	}
}

// mustFile returns the name of a regular file directly in dir, creating one.
func mustFile(t *testing.T, dir string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return "plain"
}
