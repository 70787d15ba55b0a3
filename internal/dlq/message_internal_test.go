package dlq

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tenantry/tenantry/worker"
)

func strAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func sqsMessage(attrs map[string]types.MessageAttributeValue, receiveCount int, sent time.Time) *types.Message {
	return &types.Message{
		MessageId: aws.String("m-1"), ReceiptHandle: aws.String("h-1"), Body: aws.String("{}"),
		MessageAttributes: attrs,
		Attributes: map[string]string{
			"ApproximateReceiveCount": strconv.Itoa(receiveCount),
			"SentTimestamp":           strconv.FormatInt(sent.UnixMilli(), 10),
		},
	}
}

func TestNewDelivery(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	dlAt := now.Add(-2 * time.Hour)
	worked := map[string]types.MessageAttributeValue{}
	for _, a := range worker.DeadLetterAttributes(nil, worker.DeadLetterInfo{Reason: "Handler Failed", Stage: "embed", Error: "boom", Attempts: 5, At: dlAt}, "orig-1") {
		worked[a.Name] = strAttr(a.Value)
	}
	withReplays := map[string]types.MessageAttributeValue{
		AttrReplayCount: {DataType: aws.String("Number"), StringValue: aws.String("2")},
		AttrHistory:     strAttr(FormatHistory([]HistoryEntry{{Reason: "a", ReplayedAt: dlAt}, {Reason: "b", ReplayedAt: dlAt}})),
	}
	for k, v := range worked {
		withReplays[k] = v
	}
	for _, tc := range []struct {
		name  string
		msg   *types.Message
		check func(t *testing.T, m Message)
	}{
		{name: "dead-lettered by the worker", msg: sqsMessage(worked, 1, now.Add(-time.Hour)), check: func(t *testing.T, m Message) {
			if m.Reason != "handler_failed" || m.Stage != "embed" || m.Attempts != 5 || m.OriginalID != "orig-1" ||
				!m.DeadLetteredAt.Equal(dlAt) || m.Age != 2*time.Hour || m.ReceiveCount != 1 || m.ReplayCount != 0 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "moved by the redrive policy", msg: sqsMessage(nil, 4, now.Add(-time.Hour)), check: func(t *testing.T, m Message) {
			if m.Reason != ReasonRedrivePolicy || m.Stage != "" || m.Attempts != 4 || m.Age != time.Hour {
				t.Errorf("%+v", m)
			}
		}},
		{name: "replayed twice", msg: sqsMessage(withReplays, 1, now), check: func(t *testing.T, m Message) {
			if m.ReplayCount != 2 || len(m.History) != 2 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "history longer than the count wins", msg: sqsMessage(map[string]types.MessageAttributeValue{
			AttrReplayCount: strAttr("0"), AttrHistory: withReplays[AttrHistory]}, 1, now), check: func(t *testing.T, m Message) {
			if m.ReplayCount != 2 {
				t.Errorf("replay count %d, want 2 (the history's length)", m.ReplayCount)
			}
		}},
		{name: "forged attributes stay safe", msg: sqsMessage(map[string]types.MessageAttributeValue{
			worker.AttrReason: strAttr("<b>x</b> " + strings.Repeat("y", 500)), worker.AttrAttempts: strAttr("-7"),
			worker.AttrDeadLetteredAt: strAttr("2999-01-01T00:00:00Z"), AttrReplayCount: strAttr("-3"), AttrHistory: strAttr("[{")}, 1, now),
			check: func(t *testing.T, m Message) {
				if len(m.Reason) > 64 || strings.ContainsAny(m.Reason, "<> ") || m.Attempts != 0 || m.Age != 0 || m.ReplayCount != 0 || m.History != nil {
					t.Errorf("%+v", m)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, ok := newDelivery(tc.msg, now)
			if !ok {
				t.Fatal("newDelivery refused a well-formed message")
			}
			tc.check(t, d.msg)
		})
	}
	if _, ok := newDelivery(&types.Message{MessageId: aws.String("x")}, now); ok {
		t.Error("newDelivery accepted a message without handle and body")
	}
}

func TestReplayAttributes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	build := func(own int, extra map[string]types.MessageAttributeValue) *delivery {
		attrs := map[string]types.MessageAttributeValue{}
		for i := range own {
			attrs["own"+strconv.Itoa(i)] = strAttr("v")
		}
		for k, v := range extra {
			attrs[k] = v
		}
		d, _ := newDelivery(sqsMessage(attrs, 1, now), now)
		return d
	}
	dl := map[string]types.MessageAttributeValue{}
	for _, a := range worker.DeadLetterAttributes(make([]string, 4), worker.DeadLetterInfo{Reason: "r", Stage: "s", Error: "e", Attempts: 2, At: now}, "o") {
		dl[a.Name] = strAttr(a.Value)
	}
	for _, tc := range []struct {
		name  string
		d     *delivery
		ok    bool
		total int
	}{
		{name: "no attributes", d: build(0, nil), ok: true, total: 2},
		{name: "dead-letter attributes are dropped", d: build(4, dl), ok: true, total: 6},
		{name: "eight of its own fit", d: build(8, dl), ok: true, total: 10},
		{name: "nine of its own do not", d: build(9, nil)},
		{name: "earlier replay attributes are replaced", d: build(8, map[string]types.MessageAttributeValue{
			AttrReplayCount: strAttr("1"), AttrHistory: strAttr("[]")}), ok: true, total: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			attrs, ok := replayAttributes(tc.d, now)
			if ok != tc.ok || len(attrs) != tc.total {
				t.Fatalf("ok %v with %d attributes, want %v with %d", ok, len(attrs), tc.ok, tc.total)
			}
			if !ok {
				return
			}
			for _, n := range deadLetterAttrs {
				if _, found := attrs[n]; found {
					t.Errorf("dead-letter attribute %s kept", n)
				}
			}
			if got := aws.ToString(attrs[AttrReplayCount].StringValue); got != strconv.Itoa(tc.d.msg.ReplayCount+1) {
				t.Errorf("replay count %s", got)
			}
			h, err := ParseHistory(aws.ToString(attrs[AttrHistory].StringValue))
			if err != nil || len(h) != len(tc.d.msg.History)+1 || !h[len(h)-1].ReplayedAt.Equal(now) {
				t.Errorf("history %+v, %v", h, err)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "InvalidAction"}, true},
		{&smithy.GenericAPIError{Code: "com.amazonaws.sqs#InvalidAction"}, true},
		{&smithy.GenericAPIError{Code: "AWS.SimpleQueueService.UnsupportedOperation"}, true},
		{&smithy.GenericAPIError{Code: "UnknownOperationException"}, true},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, false},
		{&smithy.GenericAPIError{Code: "QueueDoesNotExist"}, false},
		{&smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 501}}, Err: errors.New("x")}, true},
		{&smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: errors.New("x")}, false},
		{errors.New("connection refused"), false},
	} {
		if got := unsupported(tc.err); got != tc.want {
			t.Errorf("unsupported(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// FuzzNewDelivery: dead-letter and replay attributes come from whoever could
// send to the queue; none of them may yield unsafe codes or negative counts.
func FuzzNewDelivery(f *testing.F) {
	f.Add("handler_failed", "embed", "3", "2026-11-23T10:00:00Z", "1", `[{"reason":"a","replayed_at":"2026-11-23T10:00:00Z"}]`, "7")
	f.Add("", "", "", "", "", "", "")
	f.Add("<x>", "\n", "-1", "not a time", "-9", "[{", "x")
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, reason, stage, attempts, at, count, history, receives string) {
		attrs := map[string]types.MessageAttributeValue{
			worker.AttrStage: strAttr(stage), worker.AttrAttempts: strAttr(attempts), worker.AttrDeadLetteredAt: strAttr(at),
			AttrReplayCount: strAttr(count), AttrHistory: strAttr(history),
		}
		if reason != "" {
			attrs[worker.AttrReason] = strAttr(reason)
		}
		msg := sqsMessage(attrs, 1, now)
		msg.Attributes["ApproximateReceiveCount"] = receives
		d, ok := newDelivery(msg, now)
		if !ok {
			t.Fatal("refused")
		}
		m := d.msg
		for _, code := range []string{m.Reason, m.Stage} {
			if len(code) > 64 || strings.ContainsAny(code, " \n<>\"") {
				t.Fatalf("unsafe code %q", code)
			}
		}
		if m.Attempts < 0 || m.ReplayCount < 0 || m.Age < 0 || len(m.History) > MaxHistoryEntries {
			t.Fatalf("bad counts %+v", m)
		}
	})
}
