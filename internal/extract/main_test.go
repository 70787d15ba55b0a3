package extract_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/extract"
)

var (
	sharedOnce sync.Once
	sharedExt  *extract.Extractor
	closers    []*extract.Extractor // closed by TestMain
)

// pdfCacheDir keeps wazero's compiled PDFium between test runs on this
// machine (the first run compiles it, ~3 s; later runs load it).
func pdfCacheDir() string {
	return filepath.Join(os.TempDir(), "tenantry-test-pdfium-cache")
}

// shared returns one Extractor with default limits for the package's tests,
// so the PDF engine starts once.
func shared(t testing.TB) *extract.Extractor {
	t.Helper()
	sharedOnce.Do(func() {
		e, err := extract.New(extract.Config{PDFCacheDir: pdfCacheDir()}, nil)
		if err != nil {
			panic(err)
		}
		sharedExt = e
		closers = append(closers, e)
	})
	return sharedExt
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(memChildEnv); spec != "" {
		os.Exit(runMemChild(spec)) // a child of TestExtractMemory: nothing else runs
	}
	// Compile PDFium into the cache directory once, before tests with
	// deadlines start PDF engines (a cold compile takes ~3 s, ~35 s under
	// the race detector).
	warm, err := extract.New(extract.Config{PDFCacheDir: pdfCacheDir()}, nil)
	if err == nil {
		err = warm.PreparePDF(context.Background())
		_ = warm.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "warm PDF engine:", err)
		os.Exit(1)
	}
	code := m.Run()
	for _, e := range closers {
		if err := e.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
