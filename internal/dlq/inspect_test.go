package dlq_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/worker"
)

func TestInspectLeavesTheDLQIntact(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// 12 messages of tenant A (two reasons), 3 of tenant B, 1 forged.
	type want struct {
		tenant   string
		reason   string
		stage    string
		resource string
	}
	wants := map[string]want{} // by original id
	for i := range 15 {
		tenant, reason, stage := f.tenantA, "handler_failed", "embed"
		switch {
		case i >= 12:
			tenant, reason, stage = f.tenantB, "max_receives", "handler"
		case i%2 == 1:
			reason, stage = "extract_failed", "extract"
		}
		doc := fmt.Sprintf("doc-%d", i)
		id := f.deadLetter(t, f.job(t, tenant, doc), nil, worker.DeadLetterInfo{Reason: reason, Stage: stage, Error: "boom"})
		wants[id] = want{tenant.String(), reason, stage, envelope.DocumentResource(doc)}
	}
	forgedJob := `{"type":"reindex","document_id":"doc-x"}`
	forged := f.kit.SignWith(t, f.kit.Stranger, f.kit.JobClaims(f.tenantA, envelope.ActionReindex, "doc:doc-x", []byte(forgedJob)))
	id := f.deadLetter(t, jobBody(forged, forgedJob), nil, worker.DeadLetterInfo{Reason: "bad_signature", Stage: "envelope"})
	wants[id] = want{dlq.Unverified, "bad_signature", "envelope", ""}

	before := peek(t, f.client, f.dlqURL)
	if len(before) != 16 {
		t.Fatalf("DLQ holds %d messages before, want 16", len(before))
	}
	var streamed int
	in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: f.dlqURL, OnMessage: func(dlq.Message) { streamed++ }}, f.client, f.resolver, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := in.Inspect(opCtx(t))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	after := peek(t, f.client, f.dlqURL)
	if diff := cmp.Diff(ids(before), ids(after)); diff != "" {
		t.Fatalf("DLQ changed by inspect (-before +after):\n%s", diff)
	}
	if len(rep.Messages) != 16 || rep.Scanned != 16 || streamed != 16 || rep.Truncated {
		t.Fatalf("report: %d messages, %d scanned, %d streamed, truncated %v; want 16", len(rep.Messages), rep.Scanned, streamed, rep.Truncated)
	}
	var gotIDs []string
	for _, m := range rep.Messages {
		gotIDs = append(gotIDs, m.ID)
		w, ok := wants[m.OriginalID]
		if !ok {
			t.Errorf("message %s: unknown original id %q", m.ID, m.OriginalID)
			continue
		}
		got := want{m.TenantLabel(), m.Reason, m.Stage, m.Resource}
		if got != w {
			t.Errorf("message %s: got %+v, want %+v", m.ID, got, w)
		}
		if m.Verified && m.Action != "reindex" {
			t.Errorf("message %s: action %q", m.ID, m.Action)
		}
		if !m.Verified && m.UnverifiedReason != string(envelope.ReasonUnknownKey) {
			t.Errorf("forged message: unverified reason %q, want unknown_key", m.UnverifiedReason)
		}
		if m.Attempts < 1 || m.ReceiveCount < 1 || m.Age < 0 || m.Age > time.Hour || m.ReplayCount != 0 {
			t.Errorf("message %s: attempts %d, receive count %d, age %s, replays %d", m.ID, m.Attempts, m.ReceiveCount, m.Age, m.ReplayCount)
		}
	}
	slices.Sort(gotIDs)
	if diff := cmp.Diff(ids(before), gotIDs); diff != "" {
		t.Errorf("reported ids differ from the DLQ's (-dlq +report):\n%s", diff)
	}
	wantGroups := []dlq.Group{
		{Tenant: f.tenantA.String(), Reason: "extract_failed", Count: 6},
		{Tenant: f.tenantA.String(), Reason: "handler_failed", Count: 6},
		{Tenant: f.tenantB.String(), Reason: "max_receives", Count: 3},
		{Tenant: dlq.Unverified, Reason: "bad_signature", Count: 1},
	}
	if diff := cmp.Diff(wantGroups, rep.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestInspectFilterAndLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 6 {
		tenant := f.tenantA
		if i%3 == 0 {
			tenant = f.tenantB
		}
		f.deadLetter(t, f.job(t, tenant, fmt.Sprintf("d%d", i)), nil, worker.DeadLetterInfo{Reason: "handler_failed", Stage: "store"})
	}
	for _, tc := range []struct {
		name   string
		filter dlq.Filter
		limit  int
		want   int
		trunc  bool
	}{
		{name: "tenant A", filter: dlq.Filter{Tenants: []uuid.UUID{f.tenantA}}, want: 4},
		{name: "tenant B", filter: dlq.Filter{Tenants: []uuid.UUID{f.tenantB}}, want: 2},
		{name: "other reason", filter: dlq.Filter{Reasons: []string{"max_receives"}}, want: 0},
		{name: "stage", filter: dlq.Filter{Stages: []string{"store"}}, want: 6},
		{name: "older than a day", filter: dlq.Filter{MinAge: 24 * time.Hour}, want: 0},
		{name: "younger than a day", filter: dlq.Filter{MaxAge: 24 * time.Hour}, want: 6},
		{name: "limit", limit: 4, want: 4, trunc: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: the subtests share one DLQ and each walk moves
			// messages to the tail.
			in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: f.dlqURL, Filter: tc.filter, Limit: tc.limit}, f.client, f.resolver, nil)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := in.Inspect(opCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Messages) != tc.want || rep.Truncated != tc.trunc {
				t.Errorf("%d messages (truncated %v), want %d (%v)", len(rep.Messages), rep.Truncated, tc.want, tc.trunc)
			}
		})
	}
	if n := len(peek(t, f.client, f.dlqURL)); n != 6 {
		t.Errorf("DLQ holds %d messages after the inspections, want 6", n)
	}
}

func TestInspectEmptyDLQ(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: f.dlqURL}, f.client, f.resolver, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := in.Inspect(opCtx(t))
	if err != nil || len(rep.Messages) != 0 || rep.Receives != 1 {
		t.Fatalf("report %+v, err %v; want empty after one receive", rep, err)
	}
}

// losingAPI is a real client whose n-th receive reaches the server but
// whose answer is lost (as when a request is retried after its response
// broke): the messages it took stay in flight until their visibility
// timeout ends.
type losingAPI struct {
	dlq.API
	receives, loseAt int
	lost             []string
}

func (a *losingAPI) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	a.receives++
	out, err := a.API.ReceiveMessage(ctx, in, opts...)
	if err == nil && a.receives == a.loseAt {
		for _, m := range out.Messages {
			a.lost = append(a.lost, aws.ToString(m.MessageId))
		}
		return a.API.ReceiveMessage(ctx, in, opts...)
	}
	return out, err
}

func TestInspectWaitsForMessagesALostReceiveTook(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var ids []string
	for i := range 25 {
		ids = append(ids, f.deadLetter(t, f.job(t, f.tenantA, fmt.Sprintf("d%d", i)), nil, worker.DeadLetterInfo{Reason: "handler_failed"}))
	}
	api := &losingAPI{API: f.client, loseAt: 2}
	// The shortest visibility timeout SQS allows: the lost messages return
	// after a second, and the walk must still be polling then.
	in, err := dlq.NewInspector(dlq.InspectConfig{QueueURL: f.dlqURL, VisibilityTimeout: time.Second}, api, f.resolver, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := in.Inspect(opCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(api.lost) == 0 {
		t.Fatal("no receive answer was lost; the test proves nothing")
	}
	var got []string
	for _, m := range rep.Messages {
		got = append(got, m.OriginalID)
	}
	slices.Sort(ids)
	slices.Sort(got)
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("inspect missed messages a lost receive had taken (%d lost) (-want +got):\n%s", len(api.lost), diff)
	}
}
