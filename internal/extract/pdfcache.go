package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// PDFium's compiled code lives in wazero's compilation cache: a directory of
// files named by a hash of the WebAssembly module, the wazero version and the
// CPU features the code was compiled for. Compiling costs ~3 s and ~250 MB of
// live heap (wazero's compiler sizes its pools by PDFium's largest functions;
// a soft memory limit hardly lowers it: 264 against 281 MB at 150 MiB), so a
// process that compiles PDFium peaks at about twice the RSS of one that loads
// it.
//
// A seed is such a directory made ahead of time, read-only: the container
// image compiles PDFium when it is built (`tenantry pdfium compile`). Before
// the engine's first start its entries are copied into the writable
// PDFCacheDir, so a fresh task loads the code (~0.1 s) instead of compiling
// it. An entry compiled for other CPU features is simply not looked up:
// wazero compiles then, as without a seed, and the engine reports it.

// PDFCompiled reports a finished CompilePDFium.
type PDFCompiled struct {
	Dir     string        // the cache directory written
	Entries int           // files in it
	Bytes   int64         // their size
	Took    time.Duration // compiling (or loading, when Dir held the code)
}

// CompilePDFium compiles PDFium into dir, a compilation cache that a worker
// later uses as its PDFSeedDir (or PDFCacheDir). It fails when wazero leaves
// no compiled code in dir.
func CompilePDFium(ctx context.Context, dir string, logger *zap.Logger) (PDFCompiled, error) {
	if dir == "" {
		return PDFCompiled{}, errors.New("extract: CompilePDFium needs a directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return PDFCompiled{}, fmt.Errorf("extract: PDF compile directory: %w", err)
	}
	ex, err := New(Config{PDFCacheDir: dir}, logger)
	if err != nil {
		return PDFCompiled{}, err
	}
	begin := time.Now()
	err = ex.PreparePDF(ctx)
	took := time.Since(begin)
	if cerr := ex.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return PDFCompiled{}, err
	}
	entries, err := cacheEntries(dir)
	if err != nil {
		return PDFCompiled{}, err
	}
	out := PDFCompiled{Dir: dir, Entries: len(entries), Took: took}
	for _, size := range entries {
		out.Bytes += size
	}
	if out.Entries == 0 {
		return out, fmt.Errorf("extract: no compiled PDFium written to %s", dir)
	}
	return out, nil
}

// cacheEntries lists the regular files under dir by slash-separated path
// relative to dir, with their sizes. A missing dir has none.
func cacheEntries(dir string) (map[string]int64, error) {
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extract: PDF compile cache %s: %w", dir, err)
	}
	return out, nil
}

// seedPDFCache copies the regular files of seed that dir lacks (have: dir's
// entries, as cacheEntries lists them) into dir, each through a temporary
// file renamed into place so a process sharing dir never loads a
// half-written entry, adds them to have and returns how many it copied.
// Symbolic links and other special files in seed are ignored.
func seedPDFCache(seed, dir string, have map[string]int64) (int, error) {
	if info, err := os.Stat(seed); err != nil {
		return 0, fmt.Errorf("extract: PDF compile seed: %w", err)
	} else if !info.IsDir() {
		return 0, fmt.Errorf("extract: PDF compile seed %s is not a directory", seed)
	}
	want, err := cacheEntries(seed)
	if err != nil {
		return 0, err
	}
	copied := 0
	for rel, size := range want {
		if _, ok := have[rel]; ok {
			continue
		}
		if err := copyEntry(filepath.Join(seed, filepath.FromSlash(rel)), filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return copied, err
		}
		have[rel] = size
		copied++
	}
	return copied, nil
}

func copyEntry(src, dst string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("extract: PDF compile seed: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("extract: PDF compile seed: %w", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".*.seed")
	if err != nil {
		return fmt.Errorf("extract: PDF compile seed: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, in); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("extract: PDF compile seed: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("extract: PDF compile seed: %w", err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("extract: PDF compile seed: %w", err)
	}
	return nil
}
