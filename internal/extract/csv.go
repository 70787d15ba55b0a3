package extract

import (
	"bufio"
	"context"
	"strconv"
	"strings"

	"github.com/tenantry/tenantry/pipeline"
)

// csv is csvTo's text as one section (the blocks joined).
func (e *Extractor) csv(ctx context.Context, r *bufio.Reader, _ int64, params map[string]string, comma rune) (pipeline.Extracted, error) {
	var b strings.Builder
	if err := e.csvTo(ctx, r, params, comma, func(s pipeline.Section) error {
		b.WriteString(s.Text)
		return nil
	}); err != nil {
		return pipeline.Extracted{}, err
	}
	return pipeline.Extracted{Sections: []pipeline.Section{{Text: b.String()}}}, nil
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
