package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/envelope/envelopetest"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/internal/tenantdb/tenantdbtest"
	"github.com/tenantry/tenantry/worker"
)

func replayConfig(f *fixture) dlq.ReplayConfig {
	return dlq.ReplayConfig{
		DLQURL: f.dlqURL, TargetURL: f.queueURL, Reason: "fixed the embedder (INC-42)", Actor: "alice",
		Rate: 1000,
	}
}

func newReplayer(t *testing.T, f *fixture, cfg dlq.ReplayConfig, gw dlq.Gateway) *dlq.Replayer {
	t.Helper()
	r, err := dlq.NewReplayer(cfg, f.client, f.resolver, gw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReplayMovesExactlyTheSelectedMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	type sent struct{ body, tenant, reason string }
	var all []sent
	for i := range 9 {
		tenant, reason := f.tenantA, "handler_failed"
		if i%3 == 0 {
			tenant = f.tenantB
		}
		if i%2 == 0 {
			reason = "extract_failed"
		}
		body := f.job(t, tenant, fmt.Sprintf("doc-%d", i))
		// A producer attribute that must survive the round trip.
		f.deadLetter(t, body, map[string]string{"producer": "backend-7"}, worker.DeadLetterInfo{Reason: reason, Stage: "embed", Error: "timeout"})
		all = append(all, sent{body, tenant.String(), reason})
	}
	// Select tenant A's handler_failed messages only.
	cfg := replayConfig(f)
	cfg.Filter = dlq.Filter{Tenants: []uuid.UUID{f.tenantA}, Reasons: []string{"handler_failed"}}
	var results []dlq.Result
	cfg.OnResult = func(r dlq.Result) { results = append(results, r) }
	st, err := newReplayer(t, f, cfg, db).Replay(opCtx(t))
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	var wantMoved, wantKept []string
	for _, s := range all {
		if s.tenant == f.tenantA.String() && s.reason == "handler_failed" {
			wantMoved = append(wantMoved, s.body)
		} else {
			wantKept = append(wantKept, s.body)
		}
	}
	slices.Sort(wantMoved)
	slices.Sort(wantKept)
	if len(wantMoved) == 0 || len(wantKept) == 0 {
		t.Fatal("test setup selects nothing or everything")
	}
	if st.Replayed != len(wantMoved) || st.Scanned != 9 || st.Matched != len(wantMoved) || st.Failed+st.Rejected+st.Refused+st.Duplicated != 0 {
		t.Errorf("stats %+v, want %d replayed of 9", st, len(wantMoved))
	}
	moved := drain(t, f.client, f.queueURL)
	kept := drain(t, f.client, f.dlqURL)
	if diff := cmp.Diff(wantMoved, bodies(moved)); diff != "" {
		t.Errorf("moved (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantKept, bodies(kept)); diff != "" {
		t.Errorf("kept in the DLQ (-want +got):\n%s", diff)
	}
	// Attributes: producer's kept, dead-letter ones moved into the history,
	// replay count 1.
	for _, m := range moved {
		if m.str("producer") != "backend-7" {
			t.Errorf("producer attribute lost: %v", m.Attrs)
		}
		for _, n := range []string{worker.AttrReason, worker.AttrStage, worker.AttrAttempts, worker.AttrError, worker.AttrDeadLetteredAt, worker.AttrOriginalMessageID} {
			if _, ok := m.Attrs[n]; ok {
				t.Errorf("dead-letter attribute %s still on the replayed copy", n)
			}
		}
		if got := m.str(dlq.AttrReplayCount); got != "1" || aws.ToString(m.Attrs[dlq.AttrReplayCount].DataType) != "Number" {
			t.Errorf("replay count %q (%s), want Number 1", got, aws.ToString(m.Attrs[dlq.AttrReplayCount].DataType))
		}
		h, err := dlq.ParseHistory(m.str(dlq.AttrHistory))
		if err != nil || len(h) != 1 || h[0].Reason != "handler_failed" || h[0].Stage != "embed" || h[0].Attempts < 1 || h[0].MessageID == "" {
			t.Errorf("history %+v (%v)", h, err)
		}
	}
	// Audit: one row per replay in tenant A's chain, none in B's.
	rows := auditRows(t, db, f.tenantA)
	if len(rows) != len(wantMoved) {
		t.Fatalf("tenant A has %d audit rows, want %d", len(rows), len(wantMoved))
	}
	seqs := map[int64]bool{}
	for _, r := range results {
		if r.Outcome == dlq.OutcomeReplayed {
			seqs[r.AuditSeq] = true
		}
	}
	for _, e := range rows {
		var d map[string]any
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Fatalf("detail is not JSON: %v", err)
		}
		if e.Action != dlq.AuditAction || e.Actor != "alice" || !strings.HasPrefix(e.Resource, "doc:doc-") ||
			!strings.HasPrefix(e.PayloadHash, "sha256:") || d["reason"] != cfg.Reason || d["message_id"] == "" || d["dead_letter_reason"] != "handler_failed" || !seqs[e.Seq] {
			t.Errorf("audit row %+v", e)
		}
		if strings.Contains(e.Detail, "document_id") || strings.Contains(e.Detail, "envelope\"") {
			t.Errorf("audit detail carries message content: %s", e.Detail)
		}
	}
	if rows := auditRows(t, db, f.tenantB); len(rows) != 0 {
		t.Errorf("tenant B has %d audit rows, want none", len(rows))
	}
}

func TestReplayDryRunMovesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	for i := range 4 {
		f.deadLetter(t, f.job(t, f.tenantA, fmt.Sprintf("d%d", i)), nil, worker.DeadLetterInfo{Reason: "handler_failed"})
	}
	before := peek(t, f.client, f.dlqURL)
	cfg := replayConfig(f)
	cfg.DryRun = true
	var would int
	cfg.OnResult = func(r dlq.Result) {
		if r.Outcome == dlq.OutcomeWouldReplay {
			would++
		}
	}
	st, err := newReplayer(t, f, cfg, db).Replay(opCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.WouldReplay != 4 || would != 4 || st.Replayed != 0 {
		t.Errorf("stats %+v, %d would-replay results; want 4 would-replay", st, would)
	}
	if n := len(peek(t, f.client, f.queueURL)); n != 0 {
		t.Errorf("dry run sent %d messages", n)
	}
	if diff := cmp.Diff(ids(before), ids(peek(t, f.client, f.dlqURL))); diff != "" {
		t.Errorf("dry run changed the DLQ:\n%s", diff)
	}
	if rows := auditRows(t, db, f.tenantA); len(rows) != 0 {
		t.Errorf("dry run wrote %d audit rows", len(rows))
	}
	// Without a gateway a dry run still works.
	if _, err := newReplayer(t, f, cfg, nil).Replay(opCtx(t)); err != nil {
		t.Errorf("dry run without a gateway: %v", err)
	}
}

func TestReplayNeverReplaysForgedOrExpiredMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, tdb := newDB(t)
	const validJob = `{"type":"reindex","document_id":"doc-1"}`
	target := envelopetest.Target{Tenant: f.tenantA, Bucket: "tenantry-docs", Key: f.tenantA.String() + "/d/f.txt", Body: []byte(validJob)}
	var want []string
	// Object cases are presented as ingest jobs of their object: a forged
	// token must fail whatever it is presented as. (The S3 path is covered
	// case by case in internal/binding's TestResolveHostileEnvelopes.)
	ingestJob := `{"type":"ingest","bucket":"tenantry-docs","key":"` + target.Key + `"}`
	for _, c := range f.kit.Hostile(t, target) {
		body := jobBody(c.Token, ingestJob)
		if c.Binding == envelopetest.BindJob {
			body = jobBody(c.Token, string(c.Body))
		}
		f.deadLetter(t, body, nil, worker.DeadLetterInfo{Reason: "bad_envelope", Stage: "envelope"})
		want = append(want, body)
	}
	// A valid envelope on a body it does not bind (the body was swapped).
	tok := f.kit.Job(t, f.tenantA, envelope.ActionReindex, "doc:d1", []byte(`{"type":"reindex","document_id":"d1"}`))
	swapped := jobBody(tok, `{"type":"reindex","document_id":"d2"}`)
	f.deadLetter(t, swapped, nil, worker.DeadLetterInfo{Reason: "bad_envelope"})
	want = append(want, swapped)
	// A valid envelope in the attribute, a body that claims another tenant.
	other := `{"type":"reindex","document_id":"d1","tenant_id":"` + f.tenantB.String() + `"}`
	f.deadLetter(t, other, map[string]string{event.AttrEnvelope: tok}, worker.DeadLetterInfo{Reason: "bad_envelope"})
	want = append(want, other)
	// A valid envelope for another document than the job names.
	misbound := f.kit.Job(t, f.tenantA, envelope.ActionReindex, "doc:d9", []byte(`{"type":"reindex","document_id":"d1"}`))
	f.deadLetter(t, jobBody(misbound, `{"type":"reindex","document_id":"d1"}`), nil, worker.DeadLetterInfo{Reason: "bad_envelope"})
	want = append(want, jobBody(misbound, `{"type":"reindex","document_id":"d1"}`))
	// A valid delete envelope on a reindex job.
	wrongAct := f.kit.Job(t, f.tenantA, envelope.ActionDelete, "doc:d1", []byte(`{"type":"reindex","document_id":"d1"}`))
	f.deadLetter(t, jobBody(wrongAct, `{"type":"reindex","document_id":"d1"}`), nil, worker.DeadLetterInfo{Reason: "bad_envelope"})
	want = append(want, jobBody(wrongAct, `{"type":"reindex","document_id":"d1"}`))
	// No envelope at all, and a body that is not ours.
	f.deadLetter(t, `{"job":{"type":"reindex"}}`, nil, worker.DeadLetterInfo{Reason: "no_envelope"})
	f.deadLetter(t, `not json`, nil, worker.DeadLetterInfo{Reason: "malformed_event"})
	want = append(want, `{"job":{"type":"reindex"}}`, `not json`)
	slices.Sort(want)

	cfg := replayConfig(f)
	var codes []string
	cfg.OnResult = func(r dlq.Result) {
		if r.Outcome != dlq.OutcomeRejected {
			t.Errorf("message %s: outcome %s (%s), want rejected", r.Message.ID, r.Outcome, r.Code)
		}
		codes = append(codes, r.Code)
	}
	st, err := newReplayer(t, f, cfg, db).Replay(opCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Replayed != 0 || st.Rejected != len(want) {
		t.Errorf("stats %+v, want %d rejected, none replayed", st, len(want))
	}
	if n := len(peek(t, f.client, f.queueURL)); n != 0 {
		t.Fatalf("%d forged messages reached the queue", n)
	}
	if diff := cmp.Diff(want, bodies(drain(t, f.client, f.dlqURL))); diff != "" {
		t.Errorf("DLQ content changed (-want +got):\n%s", diff)
	}
	for _, tenant := range []uuid.UUID{f.tenantA, f.tenantB} {
		if rows := auditRows(t, db, tenant); len(rows) != 0 {
			t.Errorf("tenant %s has %d audit rows after forged replays", tenant, len(rows))
		}
	}
	for _, c := range []string{"bad_signature", "expired", "unknown_key", "alg_not_allowed", "alg_mismatch", "bad_tenant",
		"wrong_audience", "wrong_issuer", "not_yet_valid", "lifetime_exceeded", "body_hash_mismatch", "binding_mismatch",
		"wrong_action", "malformed", "too_large", "malformed_envelope", "malformed_event"} {
		if !slices.Contains(codes, c) {
			t.Errorf("no message rejected with %s (got %v)", c, codes)
		}
	}
	// Each rejection is a security event (source dlq-replay).
	var n int
	if err := tenantdbtest.Conn(t, tdb.AdminURL).QueryRow(opCtx(t),
		"SELECT count(*) FROM security_events WHERE source = $1", dlq.SecurityEventSource).Scan(&n); err != nil {
		t.Fatal(err)
	}
	// All but the body that is not even an event ("not json").
	if n != len(want)-1 {
		t.Errorf("%d security events, want %d", n, len(want)-1)
	}
}

// failingAPI wraps a real client and fails chosen calls.
type failingAPI struct {
	*sqs.Client
	deleteErr  error
	sendErr    error
	sends      atomic.Int32
	failSendAt int32 // fail the n-th send (1-based); 0 never
}

func (a *failingAPI) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	if a.deleteErr != nil {
		return nil, a.deleteErr
	}
	return a.Client.DeleteMessage(ctx, in, opts...)
}

func (a *failingAPI) SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if n := a.sends.Add(1); a.failSendAt != 0 && n == a.failSendAt {
		return nil, a.sendErr
	}
	return a.Client.SendMessage(ctx, in, opts...)
}

func TestInterruptedReplayLosesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// setup returns the API to use and a hook run on each result.
		setup         func(f *fixture, cancel context.CancelFunc) (dlq.ReplayAPI, func(dlq.Result))
		wantDuplicate bool
	}{
		{name: "context cancelled mid-way", setup: func(f *fixture, cancel context.CancelFunc) (dlq.ReplayAPI, func(dlq.Result)) {
			n := 0
			return f.client, func(r dlq.Result) {
				if n++; n == 3 {
					cancel()
				}
			}
		}},
		{name: "delete from the DLQ fails", wantDuplicate: true, setup: func(f *fixture, _ context.CancelFunc) (dlq.ReplayAPI, func(dlq.Result)) {
			return &failingAPI{Client: f.client, deleteErr: errors.New("injected delete failure")}, nil
		}},
		{name: "a send fails", setup: func(f *fixture, _ context.CancelFunc) (dlq.ReplayAPI, func(dlq.Result)) {
			return &failingAPI{Client: f.client, failSendAt: 2, sendErr: errors.New("injected send failure")}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			db, _ := newDB(t)
			var want []string
			for i := range 7 {
				body := f.job(t, f.tenantA, fmt.Sprintf("d%d", i))
				f.deadLetter(t, body, nil, worker.DeadLetterInfo{Reason: "handler_failed"})
				want = append(want, body)
			}
			slices.Sort(want)
			ctx, cancel := context.WithCancel(opCtx(t))
			defer cancel()
			api, hook := tc.setup(f, cancel)
			cfg := replayConfig(f)
			cfg.OnResult = hook
			r, err := dlq.NewReplayer(cfg, api, f.resolver, db, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.Replay(ctx)
			t.Logf("stats %+v, err %v", st, err)
			moved := bodies(drain(t, f.client, f.queueURL))
			kept := bodies(drain(t, f.client, f.dlqURL))
			union := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(moved), kept...))))
			if diff := cmp.Diff(want, union); diff != "" {
				t.Fatalf("messages lost (-want +got):\n%s", diff)
			}
			dups := len(moved) + len(kept) - len(want)
			if tc.wantDuplicate != (dups > 0) || dups != st.Duplicated {
				t.Errorf("%d duplicates, stats say %d, want duplicates: %v", dups, st.Duplicated, tc.wantDuplicate)
			}
			// Every message that left the DLQ was audited, exactly once.
			if rows := auditRows(t, db, f.tenantA); len(rows) != st.Replayed || len(moved) != st.Replayed {
				t.Errorf("%d audit rows, %d moved, %d replayed", len(rows), len(moved), st.Replayed)
			}
			if len(kept) == 0 && !tc.wantDuplicate {
				t.Errorf("nothing kept: the interruption happened too late to test anything")
			}
		})
	}
}

// TestReplayAuditFailure: the send happens inside the audit's transaction, so
// without an audit row nothing is sent; and if the commit fails after the
// send, the DLQ copy is kept (a duplicate, never a loss or an unaudited
// removal).
func TestReplayAuditFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		gw        func(db *tenantdb.DB) dlq.Gateway
		wantSent  int
		wantCode  string
		duplicate bool
	}{
		{name: "database down", gw: func(db *tenantdb.DB) dlq.Gateway { return downGateway{db} }, wantCode: dlq.FailedAudit},
		{name: "commit fails after the send", gw: func(db *tenantdb.DB) dlq.Gateway { return commitFailsGateway{db} },
			wantSent: 1, wantCode: dlq.FailedAuditCommit, duplicate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			db, _ := newDB(t)
			f.deadLetter(t, f.job(t, f.tenantA, "d1"), nil, worker.DeadLetterInfo{Reason: "handler_failed"})
			cfg := replayConfig(f)
			var res []dlq.Result
			cfg.OnResult = func(r dlq.Result) { res = append(res, r) }
			st, err := newReplayer(t, f, cfg, tc.gw(db)).Replay(opCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if st.Failed != 1 || st.Replayed != 0 || len(res) != 1 || res[0].Code != tc.wantCode || res[0].Duplicated != tc.duplicate {
				t.Errorf("stats %+v, results %+v", st, res)
			}
			if n := len(peek(t, f.client, f.queueURL)); n != tc.wantSent {
				t.Errorf("%d messages sent, want %d", n, tc.wantSent)
			}
			if n := len(peek(t, f.client, f.dlqURL)); n != 1 {
				t.Errorf("DLQ holds %d, want 1", n)
			}
			if rows := auditRows(t, db, f.tenantA); len(rows) != 0 {
				t.Errorf("%d audit rows committed", len(rows))
			}
		})
	}
}

// downGateway fails every tenant transaction before it starts.
type downGateway struct{ dlq.Gateway }

func (downGateway) WithTenant(context.Context, tenantdb.Scope, func(context.Context, tenantdb.Tx) error) error {
	return errors.New("database down")
}

// commitFailsGateway runs the callback, then fails as a commit would.
type commitFailsGateway struct{ *tenantdb.DB }

func (g commitFailsGateway) WithTenant(ctx context.Context, s tenantdb.Scope, fn func(context.Context, tenantdb.Tx) error) error {
	return g.DB.WithTenant(ctx, s, func(ctx context.Context, tx tenantdb.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errors.New("commit failed")
	})
}

func TestPoisonLoopIsVisibleAndBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	body := f.job(t, f.tenantA, "poison")
	f.deadLetter(t, body, map[string]string{"producer": "backend-7"}, worker.DeadLetterInfo{Reason: "handler_failed", Stage: "extract"})
	cfg := replayConfig(f)
	cfg.MaxReplays = 2
	reasons := []string{"handler_failed", "embed_failed", "store_failed"}
	for round := range 3 {
		var results []dlq.Result
		cfg.OnResult = func(r dlq.Result) { results = append(results, r) }
		if _, err := newReplayer(t, f, cfg, db).Replay(opCtx(t)); err != nil {
			t.Fatal(err)
		}
		if len(results) != 1 {
			t.Fatalf("round %d: %d results", round, len(results))
		}
		m := results[0].Message
		if m.ReplayCount != round || len(m.History) != round {
			t.Errorf("round %d: replay count %d, history %+v", round, m.ReplayCount, m.History)
		}
		if round == 2 {
			if results[0].Outcome != dlq.OutcomeRefused || results[0].Code != dlq.RefusedMaxReplays {
				t.Fatalf("round 2: %s %s, want refused max_replays", results[0].Outcome, results[0].Code)
			}
			var got []string
			for _, h := range m.History {
				got = append(got, h.Reason)
			}
			if diff := cmp.Diff(reasons[:2], got); diff != "" {
				t.Errorf("history reasons (-want +got):\n%s", diff)
			}
			break
		}
		if results[0].Outcome != dlq.OutcomeReplayed {
			t.Fatalf("round %d: %s %s %v", round, results[0].Outcome, results[0].Code, results[0].Err)
		}
		// The worker fails it again and dead-letters it (with the replay
		// attributes it carries).
		f.deadLetterByID(t, results[0].NewMessageID, worker.DeadLetterInfo{Reason: reasons[round+1], Stage: "store"})
	}
	left := drain(t, f.client, f.dlqURL)
	if len(left) != 1 || left[0].str("producer") != "backend-7" || left[0].str(dlq.AttrReplayCount) != "2" {
		t.Errorf("DLQ after the loop: %+v", left)
	}
	if rows := auditRows(t, db, f.tenantA); len(rows) != 2 {
		t.Errorf("%d audit rows, want 2", len(rows))
	}
}

func TestReplayRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	// Expires in 30s: verifies, but not for long enough.
	const soon = `{"type":"reindex","document_id":"soon"}`
	c := f.kit.JobClaims(f.tenantA, envelope.ActionReindex, "doc:soon", []byte(soon))
	c.Expiry = time.Now().Add(30 * time.Second)
	f.deadLetter(t, jobBody(f.kit.Sign(t, c), soon), nil, worker.DeadLetterInfo{Reason: "handler_failed"})
	// Eight attributes of its own: with count and history it would have 10
	// only after dropping the dead-letter ones; with nine it cannot fit.
	attrs := map[string]string{}
	for i := range 9 {
		attrs[fmt.Sprintf("a%d", i)] = "v"
	}
	f.deadLetter(t, f.job(t, f.tenantA, "crowded"), attrs, worker.DeadLetterInfo{Reason: "handler_failed"})
	cfg := replayConfig(f)
	var codes []string
	cfg.OnResult = func(r dlq.Result) {
		if r.Outcome != dlq.OutcomeRefused {
			t.Errorf("outcome %s, want refused", r.Outcome)
		}
		codes = append(codes, r.Code)
	}
	if _, err := newReplayer(t, f, cfg, db).Replay(opCtx(t)); err != nil {
		t.Fatal(err)
	}
	slices.Sort(codes)
	if diff := cmp.Diff([]string{dlq.RefusedAttributeLimit, dlq.RefusedExpiresSoon}, codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
	if n := len(peek(t, f.client, f.dlqURL)); n != 2 {
		t.Errorf("DLQ holds %d, want 2", n)
	}
}

func TestReplayFindsTheSourceQueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	srcs, err := dlq.SourceQueues(opCtx(t), f.client, f.dlqURL)
	if err != nil || len(srcs) != 1 || srcs[0] != f.queueURL {
		t.Fatalf("SourceQueues = %v, %v; want [%s]", srcs, err, f.queueURL)
	}
	f.deadLetter(t, f.job(t, f.tenantA, "d"), nil, worker.DeadLetterInfo{Reason: "handler_failed"})
	cfg := replayConfig(f)
	cfg.TargetURL = ""
	st, err := newReplayer(t, f, cfg, db).Replay(opCtx(t))
	if err != nil || st.Target != f.queueURL || st.Replayed != 1 {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	// A DLQ that no queue uses needs an explicit target.
	cfg.DLQURL, cfg.TargetURL = f.queueURL, ""
	if _, err := newReplayer(t, f, cfg, db).Replay(opCtx(t)); !errors.Is(err, dlq.ErrNoSourceQueue) {
		t.Errorf("replay from a queue nobody dead-letters to: %v, want ErrNoSourceQueue", err)
	}
}

// TestReplayRateLimit checks the pacing on a fake clock: the replayer asks
// to wait exactly 1/rate between sends, and its own stats measure the rate.
// (Wall-clock throughput is in BenchmarkReplay.)
func TestReplayRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	db, _ := newDB(t)
	const n, perSecond = 6, 4.0
	for i := range n {
		f.deadLetter(t, f.job(t, f.tenantA, fmt.Sprintf("d%d", i)), nil, worker.DeadLetterInfo{Reason: "handler_failed"})
	}
	var (
		mu    sync.Mutex
		now   = time.Now()
		slept []time.Duration
	)
	cfg := replayConfig(f)
	cfg.Rate = perSecond
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dlq.SetSleep(&cfg, func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		slept = append(slept, d)
		now = now.Add(d)
		return nil
	})
	st, err := newReplayer(t, f, cfg, db).Replay(opCtx(t))
	if err != nil || st.Replayed != n {
		t.Fatalf("stats %+v, err %v", st, err)
	}
	var total time.Duration
	for _, d := range slept {
		total += d
	}
	if want := time.Duration(float64(n-1) / perSecond * float64(time.Second)); total < want-time.Millisecond || total > want+time.Millisecond {
		t.Errorf("paced %s in total (%v), want %s", total, slept, want)
	}
	if got := st.SendRate(); got < perSecond*0.99 || got > perSecond*1.01 {
		t.Errorf("measured rate %.3f/s, want %.1f/s", got, perSecond)
	}
}
