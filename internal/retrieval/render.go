package retrieval

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteHits writes hits for an operator (`tenantry search`): a line each
// (score, document#ordinal, page, a one-line snippet), or JSON lines.
func WriteHits(w io.Writer, hits []Hit, asJSON bool) error {
	enc := json.NewEncoder(w)
	for _, h := range hits {
		var err error
		if asJSON {
			err = enc.Encode(h)
		} else {
			_, err = fmt.Fprintf(w, "%.3f  %s#%d (page %d)  %s\n", h.Score, h.DocumentID, h.Ordinal, h.Page, oneLine(h.Text, 100))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// oneLine collapses white space and cuts s to n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
