package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// sizedReaderAt is a document that can be read at any offset and knows its
// size: a bytes.Reader or an io.SectionReader (what pipeline.Processor hands
// over: the object in memory, or a section of its spool file).
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

// whole returns r when it is a sizedReaderAt positioned at its start (so
// reading it at offsets 0..Size reads exactly the document), else nil. Call
// it before anything reads r.
func whole(r io.Reader) io.Reader {
	if _, ok := r.(sizedReaderAt); !ok {
		return nil
	}
	if sk, ok := r.(io.Seeker); ok {
		if pos, err := sk.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
			return nil
		}
	}
	return r
}

// source returns the document to be read at offsets, for the readers that
// seek or read it more than once (a ZIP's directory is at its end; PDFium
// reads objects where the cross-reference table says they are; HTML is
// read in passes): orig itself when it is a sizedReaderAt (whole), else the
// rest of br (the whole document: nothing was read from it but peeks)
// copied into a spill in Config.SpoolDir, held in memory up to above bytes
// (above 0: always in the unlinked temporary file) and removed by release.
//
// The document is bounded by MaxBytes and by limit (the caller's own bound
// on it, MaxBytes when it has none) alike, whichever way it is read: one
// past both is refused with errInputLimit when MaxBytes is the lower (or
// equal) bound, else with errOutputLimit, the error reading it whole
// returns first. Copying stops one byte past the lower bound, so a refused
// document is never spooled whole.
func (e *Extractor) source(ctx context.Context, orig io.Reader, br *bufio.Reader, limit, above int64) (src sizedReaderAt, release func(), err error) {
	if s, ok := orig.(sizedReaderAt); ok {
		if err := e.sourceSize(s.Size(), limit); err != nil {
			return nil, nil, err
		}
		return s, func() {}, nil
	}
	sp := &spill{dir: e.cfg.SpoolDir, above: above}
	n, err := io.Copy(sp, ctxReader{ctx: ctx, r: io.LimitReader(br, min(e.cfg.MaxBytes, limit)+1)})
	if err == nil {
		err = e.sourceSize(n, limit)
	}
	if err != nil {
		sp.close()
		return nil, nil, err
	}
	return sp.readerAt(), sp.close, nil
}

// sourceSize refuses a document of n bytes past MaxBytes or limit (see
// source).
func (e *Extractor) sourceSize(n, limit int64) error {
	switch {
	case n > e.cfg.MaxBytes && e.cfg.MaxBytes <= limit:
		return errInputLimit
	case n > limit:
		return errOutputLimit
	}
	return nil
}

// spill collects a stream in memory up to above bytes and, once it passes
// them, in an unlinked temporary file in dir: the decoded source of a large
// HTML or Markdown document (and the raw bytes of an HTML source that
// cannot be read at offsets), which the incremental readers then read
// through and at offsets instead of holding it.
type spill struct {
	dir   string
	above int64
	// reserve, when set, is the memory taken at the first write (the
	// size expected, at most above): a source that grows to above bytes
	// in memory is not copied from ever larger arrays on its way there.
	reserve int64
	mem     []byte
	f       *os.File
	name    string // f's name
	n       int64
}

// Write appends p.
func (s *spill) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.grow(len(p)); err != nil {
		return 0, err
	}
	if s.f != nil {
		n, err := s.f.Write(p)
		s.n += int64(n)
		return n, err
	}
	s.mem = append(s.mem, p...)
	s.n += int64(len(p))
	return len(p), nil
}

// WriteString appends p.
func (s *spill) WriteString(p string) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.grow(len(p)); err != nil {
		return 0, err
	}
	if s.f != nil {
		n, err := s.f.WriteString(p)
		s.n += int64(n)
		return n, err
	}
	s.mem = append(s.mem, p...)
	s.n += int64(len(p))
	return len(p), nil
}

// grow moves what is held to the file when n more bytes would pass above.
func (s *spill) grow(n int) error {
	if s.f != nil {
		return nil
	}
	if s.n+int64(n) <= s.above {
		if s.mem == nil && s.reserve > 0 {
			s.mem = make([]byte, 0, max(min(s.reserve, s.above), int64(n)))
		}
		return nil
	}
	f, err := os.CreateTemp(s.dir, "tenantry-extract-*")
	if err != nil {
		return fmt.Errorf("extract: spool: %w", err)
	}
	s.f, s.name = f, f.Name()
	_ = os.Remove(s.name) // unlinked now where the system allows it: gone with the process
	if _, err := f.Write(s.mem); err != nil {
		return fmt.Errorf("extract: spool: %w", err)
	}
	s.mem = nil
	return nil
}

// size is how many bytes were written.
func (s *spill) size() int64 { return s.n }

// held returns what was written when it is all in memory (ok false: it is
// in the file).
func (s *spill) held() (p []byte, ok bool) { return s.mem, s.f == nil }

// readerAt reads what was written, at any offset.
func (s *spill) readerAt() sizedReaderAt {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.n)
	}
	return bytes.NewReader(s.mem)
}

// close removes the file, if any.
func (s *spill) close() {
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.name) //nolint:gosec // the name os.CreateTemp chose, in SpoolDir; for systems that keep an open file
		s.f = nil
	}
	s.mem = nil
}

// spanAt reads r[start:end].
func spanAt(r io.ReaderAt, start, end int64, buf []byte) ([]byte, error) {
	buf = slices.Grow(buf[:0], int(end-start))[:end-start]
	n, err := r.ReadAt(buf, start)
	if n == len(buf) {
		return buf, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// sourceReader reads r from its start, failing once ctx is done.
func sourceReader(ctx context.Context, r sizedReaderAt) *bufio.Reader {
	return bufio.NewReaderSize(ctxReader{ctx: ctx, r: io.NewSectionReader(r, 0, r.Size())}, 64<<10)
}

// scanBlocks calls fn with r read in consecutive blocks of about block
// bytes, each starting with the last keep bytes of the one before (keep,
// returned by fn, at most 8); final marks the last. fn returns stop to end
// the scan early.
func scanBlocks(ctx context.Context, r sizedReaderAt, block int, fn func(p []byte, final bool) (keep int, stop bool)) error {
	size := r.Size()
	buf := make([]byte, block+8)
	kept := 0
	for off := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := min(int64(block), size-off)
		n, err := r.ReadAt(buf[kept:kept+int(want)], off)
		if n < int(want) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		off += want
		final := off >= size
		keep, stop := fn(buf[:kept+n], final)
		if stop || final {
			return nil
		}
		kept = copy(buf, buf[kept+n-keep:kept+n])
	}
}
