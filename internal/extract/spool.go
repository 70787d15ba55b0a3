package extract

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
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

// readerAt returns the document as an io.ReaderAt and its size, for the
// formats whose parsers seek (a ZIP's directory is at its end; PDFium reads
// objects where the cross-reference table says they are): orig itself when
// it is a sizedReaderAt (whole), else the rest of br copied into an unlinked
// temporary file in Config.SpoolDir (bounded by MaxBytes as it is read, and
// removed by release). The bytes are never held in memory whole.
func (e *Extractor) readerAt(ctx context.Context, format string, orig io.Reader, br *bufio.Reader) (ra io.ReaderAt, size int64, release func(), err error) {
	if s, ok := orig.(sizedReaderAt); ok {
		if s.Size() > e.cfg.MaxBytes {
			return nil, 0, nil, tooLarge(format, "document exceeds MaxBytes")
		}
		return s, s.Size(), func() {}, nil
	}
	f, err := os.CreateTemp(e.cfg.SpoolDir, "tenantry-extract-*")
	if err != nil {
		return nil, 0, nil, err
	}
	name := f.Name()
	_ = os.Remove(name) // unlinked now where the system allows it: gone with the process
	release = func() {
		_ = f.Close()
		_ = os.Remove(name)
	}
	n, err := io.Copy(f, ctxReader{ctx: ctx, r: br})
	if err != nil {
		release()
		if errors.Is(err, errInputLimit) {
			return nil, 0, nil, tooLarge(format, "document exceeds MaxBytes")
		}
		return nil, 0, nil, err
	}
	return f, n, release, nil
}
