package anchor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrBroken is WriteReports' answer when a chain does not verify against
// its anchors.
var ErrBroken = errors.New("anchor: at least one chain does not match its anchors")

// WriteReports writes reports as JSON lines or as a table with a summary
// line, and returns ErrBroken if any is not OK.
func WriteReports(w io.Writer, reports []Report, asJSON bool) error {
	enc := json.NewEncoder(w)
	for _, r := range reports {
		if asJSON {
			_ = enc.Encode(r)
			continue
		}
		status := fmt.Sprintf("ok (anchored to seq %d, %d after)", r.AnchoredSeq, r.Unanchored)
		if !r.OK {
			status = "BROKEN: " + r.Problem
		}
		fmt.Fprintf(w, "%s  %6d events  %3d anchors  %s\n", r.TenantID, r.Events, r.Anchors, status)
	}
	if Broken(reports) {
		return ErrBroken
	}
	if !asJSON {
		fmt.Fprintf(w, "%d chain(s) verified against their anchors\n", len(reports))
	}
	return nil
}

// WriteResults writes an anchoring run's results as JSON lines or a table.
// It returns an error if any tenant was refused.
func WriteResults(w io.Writer, results []Result, asJSON bool) error {
	enc := json.NewEncoder(w)
	refused := 0
	for _, r := range results {
		if r.Status == "refused" {
			refused++
		}
		if asJSON {
			_ = enc.Encode(r)
			continue
		}
		line := fmt.Sprintf("%s  %-9s seq %d", r.TenantID, r.Status, r.Seq)
		if r.Key != "" {
			line += "  " + r.Key
		}
		if r.Problem != "" {
			line += "  " + r.Problem
		}
		fmt.Fprintln(w, line)
	}
	if refused > 0 {
		return fmt.Errorf("%w: %d tenant(s) not anchored", ErrBroken, refused)
	}
	return nil
}
