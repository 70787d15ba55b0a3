package dlq

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// NewTerminalProgress is NewProgress with a progress bar on stderr only
// when it is a terminal and the report is not JSON.
func NewTerminalProgress(stdout io.Writer, stderr *os.File, asJSON, dryRun bool) *Progress {
	tty := isatty.IsTerminal(stderr.Fd()) || isatty.IsCygwinTerminal(stderr.Fd())
	return NewProgress(stdout, stderr, tty && !asJSON, asJSON, dryRun)
}

// OperatorActor is the actor a replay is audited as: the given one, else
// the operating system user.
func OperatorActor(actor string) (string, error) {
	if actor != "" {
		return actor, nil
	}
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return "", errors.New("--actor is required (no $USER)")
	}
	return u.Username, nil
}

// Rendering of inspect reports and replay progress for operators
// (`tenantry dlq`). Nothing here reads or writes a queue.

// jsonMessage is a message line of `tenantry dlq inspect --json`.
type jsonMessage struct {
	Type string `json:"type"`
	Message
	AgeSeconds int64 `json:"age_seconds"`
}

// WriteInspectJSON writes a report as JSON lines: messages, groups, a summary.
func WriteInspectJSON(w io.Writer, rep *Report) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range rep.Messages {
		_ = enc.Encode(jsonMessage{Type: "message", Message: m, AgeSeconds: int64(m.Age / time.Second)})
	}
	for _, gr := range rep.Groups {
		_ = enc.Encode(struct {
			Type string `json:"type"`
			Group
		}{"group", gr})
	}
	_ = enc.Encode(map[string]any{
		"type": "summary", "queue": rep.Queue, "approximate": rep.ApproximateCount, "scanned": rep.Scanned,
		"shown": len(rep.Messages), "truncated": rep.Truncated,
	})
}

// WriteInspectTable writes a report as two tables: messages, and counts per
// tenant and reason.
func WriteInspectTable(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "DLQ %s: %d message(s) read (approximately %d in the queue), %d shown", rep.Queue, rep.Scanned, rep.ApproximateCount, len(rep.Messages))
	if rep.Truncated {
		fmt.Fprint(w, " (limit reached)")
	}
	fmt.Fprintln(w)
	if len(rep.Messages) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tACTION\tRESOURCE\tREASON\tSTAGE\tRECEIVES\tAGE\tREPLAYS")
	for _, m := range rep.Messages {
		tenant := m.TenantLabel()
		if !m.Verified {
			tenant += " (" + m.UnverifiedReason + ")"
		}
		res := m.Resource
		if m.MoreResources > 0 {
			res += fmt.Sprintf(" (+%d)", m.MoreResources)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\n", m.ID, tenant, dash(m.Action), dash(clipMiddle(res, 56)),
			m.Reason, dash(m.Stage), m.Attempts, humanAge(m.Age), m.ReplayCount)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tREASON\tMESSAGES")
	for _, gr := range rep.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", gr.Tenant, gr.Reason, gr.Count)
	}
	_ = tw.Flush()
}

// Progress prints replay progress: a progress bar on stderr when it is a
// terminal (and lines only for messages that did not move), plain lines
// otherwise.
type Progress struct {
	w      io.Writer
	json   *json.Encoder
	dryRun bool
	bar    *progressbar.ProgressBar
	codes  map[string]int
}

// NewProgress returns a Progress writing lines (or, with asJSON, JSON lines)
// to stdout and, with bar, a progress bar to stderr.
func NewProgress(stdout, stderr io.Writer, bar, asJSON, dryRun bool) *Progress {
	o := &Progress{w: stdout, dryRun: dryRun, codes: map[string]int{}}
	if asJSON {
		o.json = json.NewEncoder(stdout)
		o.json.SetEscapeHTML(false)
	}
	if bar {
		o.bar = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("reading DLQ"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return o
}

// Start is ReplayConfig.OnStart.
func (o *Progress) Start(st Stats) {
	verb := "replaying to"
	if o.dryRun {
		verb = "dry run, would replay to"
	}
	if o.bar != nil {
		if st.Approximate > 0 {
			o.bar.ChangeMax(st.Approximate)
		}
		o.bar.Describe(verb + " " + QueueName(st.Target))
		return
	}
	if o.json == nil {
		fmt.Fprintf(o.w, "%s %s (about %d message(s) in the DLQ)\n", verb, QueueName(st.Target), st.Approximate)
	}
}

// Result is ReplayConfig.OnResult.
func (o *Progress) Result(r Result) {
	if r.Code != "" {
		o.codes[string(r.Outcome)+": "+r.Code]++
	}
	if o.bar != nil {
		_ = o.bar.Add(1)
	}
	if r.Outcome == OutcomeSkipped {
		return
	}
	if o.json != nil {
		line := struct {
			Type    string `json:"type"`
			Outcome string `json:"outcome"`
			Code    string `json:"code,omitempty"`
			Error   string `json:"error,omitempty"`
			Result
		}{Type: "result", Outcome: string(r.Outcome), Code: r.Code, Result: r}
		if r.Err != nil {
			line.Error = r.Err.Error()
		}
		_ = o.json.Encode(line)
		return
	}
	problem := r.Outcome != OutcomeReplayed && r.Outcome != OutcomeWouldReplay || r.Duplicated
	if o.bar != nil && !problem {
		return
	}
	m := r.Message
	line := fmt.Sprintf("%-12s %s  tenant=%s", r.Outcome, m.ID, m.TenantLabel())
	if !m.Verified {
		line += " (" + m.UnverifiedReason + ")"
	}
	if m.Resource != "" {
		line += "  resource=" + clipMiddle(m.Resource, 80)
	}
	line += "  dead_letter_reason=" + m.Reason
	if r.Code != "" {
		line += "  code=" + r.Code
	}
	if r.NewMessageID != "" {
		line += "  new_id=" + r.NewMessageID
	}
	if r.Err != nil {
		line += "  error=" + r.Err.Error()
	}
	if o.bar != nil {
		_ = o.bar.Clear()
	}
	fmt.Fprintln(o.w, line)
}

// Finish prints the summary.
func (o *Progress) Finish(st Stats) {
	if o.bar != nil {
		_ = o.bar.Finish()
	}
	if o.json != nil {
		_ = o.json.Encode(map[string]any{
			"type": "summary", "target": st.Target, "scanned": st.Scanned, "selected": st.Matched, "replayed": st.Replayed,
			"would_replay": st.WouldReplay, "rejected": st.Rejected, "refused": st.Refused, "failed": st.Failed,
			"duplicated": st.Duplicated, "codes": o.codes, "send_rate": st.SendRate(),
		})
		return
	}
	fmt.Fprintf(o.w, "\n%d read, %d selected: %d replayed, %d would replay, %d rejected (envelope), %d refused, %d failed, %d duplicated",
		st.Scanned, st.Matched, st.Replayed, st.WouldReplay, st.Rejected, st.Refused, st.Failed, st.Duplicated)
	if r := st.SendRate(); r > 0 {
		fmt.Fprintf(o.w, "; measured %.1f msg/s", r)
	}
	fmt.Fprintln(o.w)
	keys := make([]string, 0, len(o.codes))
	for k := range o.codes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(o.codes[b], o.codes[a]), cmp.Compare(a, b)) })
	for _, k := range keys {
		fmt.Fprintf(o.w, "  %-40s %d\n", k, o.codes[k])
	}
	if st.Rejected > 0 {
		fmt.Fprintln(o.w, "Rejected envelopes stay in the DLQ: the backend must issue new ones (see docs/dlq.md).")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// clipMiddle shortens s to at most n runes, keeping both ends.
func clipMiddle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n || n < 5 {
		return s
	}
	half := (n - 1) / 2
	return string(r[:half]) + "…" + string(r[len(r)-(n-1-half):])
}

// humanAge formats an age compactly: 45s, 12m, 3h05m, 2d04h.
func humanAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%02dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// unsupportedHint explains ErrUnsupported to an operator of `tenantry dlq
// redrive`.
const unsupportedHint = "this SQS server does not support message-move tasks (StartMessageMoveTask, ListMessageMoveTasks, " +
	"CancelMessageMoveTask; the local fauxqs server has none). Use `tenantry dlq replay`, which works on any SQS server " +
	"and also filters, re-verifies and audits"

// WriteMoveTasks writes SQS message-move tasks as JSON lines or a table.
func WriteMoveTasks(w io.Writer, tasks []MoveTask, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, t := range tasks {
			_ = enc.Encode(t)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tMOVED\tTO MOVE\tSTARTED\tDESTINATION\tHANDLE")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", t.Status, t.Moved, t.ToMove, t.Started.Format(time.RFC3339),
			dash(QueueName(t.DestinationARN)), dash(t.Handle))
	}
	return tw.Flush()
}
