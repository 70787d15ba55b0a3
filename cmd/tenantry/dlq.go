package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/tenantdb"
)

// DLQCmd inspects and replays dead-letter queues.
type DLQCmd struct {
	Inspect DLQInspectCmd `cmd:"" help:"List a DLQ without consuming it: tenant (verified), action, resource, reason, stage, receives, age, replays."`
	Replay  DLQReplayCmd  `cmd:"" help:"Move selected messages back to their queue: re-verified, rate-limited, audited in each tenant's chain."`
	Redrive DLQRedriveCmd `cmd:"" help:"SQS's own unfiltered message-move tasks (start, list, cancel), where the server has them."`
}

// DLQSourceFlags name the DLQ and how its messages are verified.
type DLQSourceFlags struct {
	AWS      AWSFlags              `embed:""`
	Envelope EnvelopeVerifierFlags `embed:"" prefix:"envelope-"`
	DLQURL   string                `name:"dlq-url" env:"TENANTRY_DLQ_URL" required:"" help:"Dead-letter queue URL."`
	Buckets  []string              `name:"bucket" env:"TENANTRY_BUCKETS" help:"Accept S3 events only for these buckets (as the worker; default: any)."`
}

func (f DLQSourceFlags) resolver(g *Globals) (*dlq.EnvelopeResolver, error) {
	ctx := g.Context()
	v, err := f.Envelope.Verifier(ctx, f.AWS, g.Logger())
	if err != nil {
		return nil, err
	}
	s3c, err := f.AWS.S3(ctx)
	if err != nil {
		return nil, err
	}
	return &dlq.EnvelopeResolver{Verifier: v, Objects: objects.New(s3c), Buckets: f.Buckets}, nil
}

// DLQFilterFlags select messages.
type DLQFilterFlags struct {
	Tenant           []string      `name:"tenant" help:"Only these tenants (verified tenant ids; repeat or comma-separate)."`
	DeadLetterReason []string      `name:"dead-letter-reason" help:"Only these dead-letter reason codes (e.g. handler_failed, redrive_policy)."`
	Stage            []string      `name:"stage" help:"Only these failed stages."`
	MinAge           time.Duration `name:"min-age" help:"Only messages dead-lettered at least this long ago."`
	MaxAge           time.Duration `name:"max-age" help:"Only messages dead-lettered at most this long ago."`
	Message          []string      `name:"id" help:"Only these message ids (DLQ or original)."`
}

func (f DLQFilterFlags) filter() (dlq.Filter, error) {
	out := dlq.Filter{Reasons: f.DeadLetterReason, Stages: f.Stage, MinAge: f.MinAge, MaxAge: f.MaxAge, IDs: f.Message}
	for _, s := range f.Tenant {
		id, err := uuid.Parse(s)
		if err != nil || id.String() != strings.ToLower(s) {
			return dlq.Filter{}, fmt.Errorf("--tenant %q is not a tenant id (canonical UUID)", s)
		}
		out.Tenants = append(out.Tenants, id)
	}
	return out, out.Validate()
}

// DLQInspectCmd lists a DLQ.
type DLQInspectCmd struct {
	DLQSourceFlags `embed:""`
	DLQFilterFlags `embed:""`

	Limit      int           `name:"limit" default:"1000" help:"Most messages listed."`
	JSON       bool          `name:"json" help:"JSON lines (type message, group, summary) instead of tables."`
	Visibility time.Duration `name:"visibility-timeout" default:"20s" help:"How long a read message stays hidden if this process dies before making it visible again (it is released at once otherwise)."`
}

// Run inspects.
func (c *DLQInspectCmd) Run(g *Globals) error {
	ctx := g.Context()
	f, err := c.filter()
	if err != nil {
		return err
	}
	res, err := c.resolver(g)
	if err != nil {
		return err
	}
	client, err := c.AWS.SQS(ctx)
	if err != nil {
		return err
	}
	in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: c.DLQURL, Filter: f, Limit: c.Limit, VisibilityTimeout: c.Visibility}, client, res, g.Logger())
	if err != nil {
		return err
	}
	rep, err := in.Inspect(ctx)
	if rep != nil {
		if c.JSON {
			writeInspectJSON(os.Stdout, rep)
		} else {
			writeInspectTable(os.Stdout, rep)
		}
	}
	return err
}

// jsonMessage is a message line of `dlq inspect --json`.
type jsonMessage struct {
	Type string `json:"type"`
	dlq.Message
	AgeSeconds int64 `json:"age_seconds"`
}

func writeInspectJSON(w io.Writer, rep *dlq.Report) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, m := range rep.Messages {
		_ = enc.Encode(jsonMessage{Type: "message", Message: m, AgeSeconds: int64(m.Age / time.Second)})
	}
	for _, gr := range rep.Groups {
		_ = enc.Encode(struct {
			Type string `json:"type"`
			dlq.Group
		}{"group", gr})
	}
	_ = enc.Encode(map[string]any{
		"type": "summary", "queue": rep.Queue, "approximate": rep.ApproximateCount, "scanned": rep.Scanned,
		"shown": len(rep.Messages), "truncated": rep.Truncated,
	})
}

func writeInspectTable(w io.Writer, rep *dlq.Report) {
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

// DLQReplayCmd replays.
type DLQReplayCmd struct {
	DLQSourceFlags `embed:""`
	DLQFilterFlags `embed:""`

	To          string        `name:"to" help:"Target queue URL (default: the DLQ's source queue, from its redrive policy)."`
	Reason      string        `name:"reason" required:"" help:"Why you replay (audited in every affected tenant's chain), e.g. \"embedder fixed, INC-42\"."`
	Actor       string        `name:"actor" env:"TENANTRY_DLQ_ACTOR,USER" help:"Who replays (the audit rows' actor); default $USER, else the OS user."`
	DryRun      bool          `name:"dry-run" help:"Read and verify only: print what would move; send, delete and write nothing."`
	Rate        float64       `name:"rate" default:"10" help:"Most messages sent per second."`
	MaxReplays  int           `name:"max-replays" default:"3" help:"Refuse messages already replayed this many times (replay loops)."`
	Limit       int           `name:"limit" help:"Most messages replayed (0: all selected)."`
	MinValidity time.Duration `name:"min-validity" default:"1m" help:"Refuse envelopes that expire sooner than this (the worker must still accept them)."`
	JSON        bool          `name:"json" help:"One JSON line per selected message, and a summary line."`
	DatabaseURL string        `name:"database-url" env:"TENANTRY_DATABASE_URL" help:"Worker role connection string (audit rows, security events); required unless --dry-run."`
}

// Run replays.
func (c *DLQReplayCmd) Run(g *Globals) error {
	ctx := g.Context()
	f, err := c.filter()
	if err != nil {
		return err
	}
	if c.Actor == "" {
		u, err := user.Current()
		if err != nil || u.Username == "" {
			return errors.New("--actor is required (no $USER)")
		}
		c.Actor = u.Username
	}
	var gw dlq.Gateway
	if !c.DryRun {
		if c.DatabaseURL == "" {
			return errors.New("--database-url (TENANTRY_DATABASE_URL) is required to audit a replay (or use --dry-run)")
		}
		db, err := tenantdb.Open(ctx, tenantdb.Config{URL: c.DatabaseURL, MaxConns: 2, Logger: g.Logger()})
		if err != nil {
			return err
		}
		defer db.Close()
		gw = db
	}
	res, err := c.resolver(g)
	if err != nil {
		return err
	}
	client, err := c.AWS.SQS(ctx)
	if err != nil {
		return err
	}
	tty := isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd())
	out := newReplayOutput(os.Stdout, os.Stderr, tty && !c.JSON, c.JSON, c.DryRun)
	r, err := dlq.NewReplayer(dlq.ReplayConfig{
		DLQURL: c.DLQURL, TargetURL: c.To, Filter: f, Reason: c.Reason, Actor: c.Actor, DryRun: c.DryRun,
		Rate: c.Rate, MaxReplays: c.MaxReplays, Limit: c.Limit, MinValidity: c.MinValidity,
		OnStart: out.start, OnResult: out.result,
	}, client, res, gw, g.Logger())
	if err != nil {
		return err
	}
	st, err := r.Replay(ctx)
	out.finish(st)
	if err != nil {
		return err
	}
	if st.Failed > 0 || st.Duplicated > 0 {
		return fmt.Errorf("%d message(s) failed, %d duplicated: see above (nothing was lost)", st.Failed, st.Duplicated)
	}
	return nil
}

// replayOutput prints replay progress: a progress bar on stderr when it is a
// terminal (and lines only for messages that did not move), plain lines
// otherwise.
type replayOutput struct {
	w      io.Writer
	json   *json.Encoder
	dryRun bool
	bar    *progressbar.ProgressBar
	codes  map[string]int
}

func newReplayOutput(stdout, stderr io.Writer, bar, asJSON, dryRun bool) *replayOutput {
	o := &replayOutput{w: stdout, dryRun: dryRun, codes: map[string]int{}}
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

func (o *replayOutput) start(st dlq.Stats) {
	verb := "replaying to"
	if o.dryRun {
		verb = "dry run, would replay to"
	}
	if o.bar != nil {
		if st.Approximate > 0 {
			o.bar.ChangeMax(st.Approximate)
		}
		o.bar.Describe(verb + " " + dlq.QueueName(st.Target))
		return
	}
	if o.json == nil {
		fmt.Fprintf(o.w, "%s %s (about %d message(s) in the DLQ)\n", verb, dlq.QueueName(st.Target), st.Approximate)
	}
}

func (o *replayOutput) result(r dlq.Result) {
	if r.Code != "" {
		o.codes[string(r.Outcome)+": "+r.Code]++
	}
	if o.bar != nil {
		_ = o.bar.Add(1)
	}
	if r.Outcome == dlq.OutcomeSkipped {
		return
	}
	if o.json != nil {
		line := struct {
			Type    string `json:"type"`
			Outcome string `json:"outcome"`
			Code    string `json:"code,omitempty"`
			Error   string `json:"error,omitempty"`
			dlq.Result
		}{Type: "result", Outcome: string(r.Outcome), Code: r.Code, Result: r}
		if r.Err != nil {
			line.Error = r.Err.Error()
		}
		_ = o.json.Encode(line)
		return
	}
	problem := r.Outcome != dlq.OutcomeReplayed && r.Outcome != dlq.OutcomeWouldReplay || r.Duplicated
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

func (o *replayOutput) finish(st dlq.Stats) {
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

// DLQRedriveCmd wraps SQS message-move tasks.
type DLQRedriveCmd struct {
	Start  DLQRedriveStartCmd  `cmd:"" help:"Start moving every message of the DLQ (no filter, no verification, no audit)."`
	List   DLQRedriveListCmd   `cmd:"" help:"List the DLQ's recent message-move tasks."`
	Cancel DLQRedriveCancelCmd `cmd:"" help:"Cancel a running message-move task."`
}

// DLQRedriveFlags are the flags every redrive subcommand takes.
type DLQRedriveFlags struct {
	AWS    AWSFlags `embed:""`
	DLQURL string   `name:"dlq-url" env:"TENANTRY_DLQ_URL" required:"" help:"Dead-letter queue URL."`
}

// DLQRedriveStartCmd starts a task.
type DLQRedriveStartCmd struct {
	DLQRedriveFlags `embed:""`
	To              string `name:"to" help:"Destination queue URL (default: each message's source queue)."`
	MaxPerSecond    int32  `name:"max-per-second" help:"Most messages moved per second (default: SQS's)."`
}

// Run starts.
func (c *DLQRedriveStartCmd) Run(g *Globals) error {
	r, err := c.redriver(g)
	if err != nil {
		return err
	}
	h, err := r.Start(g.Context(), c.DLQURL, c.To, c.MaxPerSecond)
	if err != nil {
		return redriveHint(err)
	}
	fmt.Println("started message-move task", h)
	return nil
}

// DLQRedriveListCmd lists tasks.
type DLQRedriveListCmd struct {
	DLQRedriveFlags `embed:""`
	JSON            bool `name:"json" help:"JSON lines."`
}

// Run lists.
func (c *DLQRedriveListCmd) Run(g *Globals) error {
	r, err := c.redriver(g)
	if err != nil {
		return err
	}
	tasks, err := r.List(g.Context(), c.DLQURL)
	if err != nil {
		return redriveHint(err)
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		for _, t := range tasks {
			_ = enc.Encode(t)
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tMOVED\tTO MOVE\tSTARTED\tDESTINATION\tHANDLE")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", t.Status, t.Moved, t.ToMove, t.Started.Format(time.RFC3339),
			dash(dlq.QueueName(t.DestinationARN)), dash(t.Handle))
	}
	return tw.Flush()
}

// DLQRedriveCancelCmd cancels a task.
type DLQRedriveCancelCmd struct {
	AWS    AWSFlags `embed:""`
	Handle string   `arg:"" help:"Task handle (from start or list)."`
}

// Run cancels.
func (c *DLQRedriveCancelCmd) Run(g *Globals) error {
	client, err := c.AWS.SQS(g.Context())
	if err != nil {
		return err
	}
	n, err := dlq.NewRedriver(client).Cancel(g.Context(), c.Handle)
	if err != nil {
		return redriveHint(err)
	}
	fmt.Printf("cancelled; %d message(s) had been moved\n", n)
	return nil
}

func (f DLQRedriveFlags) redriver(g *Globals) (*dlq.Redriver, error) {
	client, err := f.AWS.SQS(g.Context())
	if err != nil {
		return nil, err
	}
	return dlq.NewRedriver(client), nil
}

func redriveHint(err error) error {
	if errors.Is(err, dlq.ErrUnsupported) {
		return fmt.Errorf("this SQS server does not support message-move tasks (StartMessageMoveTask, ListMessageMoveTasks, "+
			"CancelMessageMoveTask; the local fauxqs server has none). Use `tenantry dlq replay`, which works on any SQS server "+
			"and also filters, re-verifies and audits: %w", dlq.ErrUnsupported)
	}
	return err
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
