package extract

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// csvTo extracts a table as one line per data row: "header: value" pairs
// joined by " | ", empty values left out. The first record is the header;
// a value beyond the header's width is named "column N". The delimiter is
// sniffed from the first line (comma, semicolon, tab or pipe) unless the
// media type fixes it (TSV: tab). Quotes are read leniently. The rows are
// handed over in blocks of about streamBlock bytes (continuation sections,
// each after the first starting with its line break) as they are read: the
// decoded source is read through, never held whole.
func (e *Extractor) csvTo(ctx context.Context, r *bufio.Reader, params map[string]string, comma rune, emit func(pipeline.Section) error) error {
	src := bufio.NewReaderSize(newDecodeReader(ctx, r, params["charset"], e.cfg.MaxDecompressedBytes), 1<<20)
	if comma == 0 {
		// The first line, as far as the buffer reaches.
		n := 4 << 10
		for {
			head, err := src.Peek(n)
			if bytes.IndexByte(head, '\n') >= 0 || err != nil || n >= src.Size() {
				if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
					return sourceErr(err)
				}
				comma = sniffDelimiter(string(head))
				break
			}
			n = min(n*4, src.Size())
		}
	}
	cr := csv.NewReader(src)
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	var header []string
	var b strings.Builder
	var total int64
	rows, written := 0, 0
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		s := pipeline.Section{Text: b.String(), Cont: written > 0}
		written++
		b.Reset()
		return emit(s)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return malformed("csv", "invalid CSV")
			}
			return sourceErr(err)
		}
		rows++
		if rows%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if header == nil {
			header = make([]string, len(rec))
			for i, h := range rec {
				header[i] = collapseSpace(h)
			}
			continue
		}
		line := csvRow(header, rec)
		if line == "" {
			continue
		}
		total += int64(len(line) + 1)
		if total > e.cfg.MaxTextBytes {
			return errOutputLimit
		}
		if written > 0 || b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
		if b.Len() >= streamBlock {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if written == 0 && b.Len() == 0 && header != nil {
		// Only a header: its names are the text.
		b.WriteString(strings.Join(header, " | "))
	}
	return flush()
}

// sourceErr maps the decoder's output limit to the source limit (the
// decoded CSV is source, not text).
func sourceErr(err error) error {
	if errors.Is(err, errOutputLimit) {
		return errSourceLimit
	}
	return err
}

// decodeReader is textDecoder as an io.Reader: it decodes r a block at a
// time, bounded by limit bytes of output (errOutputLimit past it).
type decodeReader struct {
	ctx   context.Context
	d     *textDecoder
	br    *bufio.Reader
	buf   []byte
	carry int
	out   string
	eof   bool
	err   error
}

func newDecodeReader(ctx context.Context, r io.Reader, charset string, limit int64) *decodeReader {
	r, charset = foreignCharset(r, charset) // as decodeText: any WHATWG charset
	br := bufio.NewReaderSize(r, 64<<10)
	d := &textDecoder{enc: charsetEncoding(charset), out: &strings.Builder{}, limit: limit}
	d.bom(br)
	return &decodeReader{ctx: ctx, d: d, br: br, buf: make([]byte, 64<<10)}
}

func (dr *decodeReader) Read(p []byte) (int, error) {
	for dr.out == "" {
		if dr.err != nil {
			return 0, dr.err
		}
		if dr.eof {
			return 0, io.EOF
		}
		dr.fill()
	}
	n := copy(p, dr.out)
	dr.out = dr.out[n:]
	return n, nil
}

// fill decodes the next block into out.
func (dr *decodeReader) fill() {
	if err := dr.ctx.Err(); err != nil {
		dr.err = err
		return
	}
	var err error
	if dr.carry, dr.eof, err = dr.d.step(dr.br, dr.buf, dr.carry); err != nil {
		dr.err = err
		return
	}
	dr.out = dr.d.take()
}
