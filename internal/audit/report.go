package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrChainsBroken is WriteReports' answer when at least one chain is broken.
var ErrChainsBroken = errors.New("audit: at least one chain is broken")

// WriteReports writes reports as JSON lines or as a table with a summary
// line, and returns ErrChainsBroken if any chain is broken.
func WriteReports(w io.Writer, reports []TenantReport, asJSON bool) error {
	enc := json.NewEncoder(w)
	for _, r := range reports {
		if asJSON {
			_ = enc.Encode(r)
			continue
		}
		status := "ok"
		if !r.OK {
			status = "BROKEN: " + r.Problem
		}
		fmt.Fprintf(w, "%s  %6d events  %s\n", r.TenantID, r.Events, status)
	}
	if Broken(reports) {
		return ErrChainsBroken
	}
	if !asJSON {
		fmt.Fprintf(w, "%d chain(s) verified\n", len(reports))
	}
	return nil
}
