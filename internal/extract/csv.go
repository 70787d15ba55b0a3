package extract

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// csv extracts a table as one line per data row: "header: value" pairs
// joined by " | ", empty values left out. The first record is the header;
// a value beyond the header's width is named "column N". The delimiter is
// sniffed from the first line (comma, semicolon, tab or pipe) unless the
// media type fixes it (TSV: tab). Quotes are read leniently.
func (e *Extractor) csv(ctx context.Context, r *bufio.Reader, size int64, params map[string]string, comma rune) (pipeline.Extracted, error) {
	src, err := decodeText(ctx, r, params["charset"], size, e.cfg.MaxDecompressedBytes)
	if errors.Is(err, errOutputLimit) {
		err = errSourceLimit
	}
	if err != nil {
		return pipeline.Extracted{}, err
	}
	if comma == 0 {
		comma = sniffDelimiter(src)
	}
	cr := csv.NewReader(strings.NewReader(src))
	cr.Comma = comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	var header []string
	var b strings.Builder
	b.Grow(int(min(int64(len(src)+len(src)/2), e.cfg.MaxTextBytes)))
	rows := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return pipeline.Extracted{}, malformed("csv", "invalid CSV")
		}
		rows++
		if rows%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return pipeline.Extracted{}, err
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
		if int64(b.Len()+len(line)+1) > e.cfg.MaxTextBytes {
			return pipeline.Extracted{}, errOutputLimit
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if b.Len() == 0 && header != nil {
		// Only a header: its names are the text.
		b.WriteString(strings.Join(header, " | "))
	}
	return pipeline.Extracted{Sections: []pipeline.Section{{Text: strings.TrimRight(b.String(), "\n")}}}, nil
}

func csvRow(header, rec []string) string {
	var b strings.Builder
	for i, v := range rec {
		v = collapseSpace(v)
		if v == "" {
			continue
		}
		name := ""
		if i < len(header) {
			name = header[i]
		}
		if name == "" {
			name = "column " + strconv.Itoa(i+1)
		}
		if b.Len() > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(v)
	}
	return b.String()
}

// sniffDelimiter picks the candidate delimiter that occurs most often in the
// first line outside quotes (comma on a tie or when none occurs).
func sniffDelimiter(src string) rune {
	line, _, _ := strings.Cut(src, "\n")
	counts := map[rune]int{}
	quoted := false
	for _, r := range line {
		switch r {
		case '"':
			quoted = !quoted
		case ',', ';', '\t', '|':
			if !quoted {
				counts[r]++
			}
		}
	}
	best, n := ',', counts[',']
	for _, r := range []rune{';', '\t', '|'} {
		if counts[r] > n {
			best, n = r, counts[r]
		}
	}
	return best
}
