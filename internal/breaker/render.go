package breaker

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteStatuses writes breaker statuses as a table or (asJSON) JSON lines.
func WriteStatuses(w io.Writer, sts []Status, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, st := range sts {
			if err := enc.Encode(st); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tSTATE\tPARKED\tREFUSED\tSINCE\tBY\tREASON\tLAST FAILURES")
	for _, st := range sts {
		state := string(st.State)
		if st.Manual {
			state += " (paused)"
		}
		since := ""
		if !st.ChangedAt.IsZero() {
			since = st.ChangedAt.UTC().Format(time.RFC3339)
		}
		last := make([]string, 0, len(st.LastFailures))
		for _, f := range st.LastFailures {
			last = append(last, f.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", st.Tenant, state, st.Parked, st.Refused, since, st.Actor,
			oneLine(st.Reason), strings.Join(last, ","))
	}
	return tw.Flush()
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
