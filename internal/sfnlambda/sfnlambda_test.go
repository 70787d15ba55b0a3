package sfnlambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/tenantry/tenantry/internal/sfnlambda"
	"github.com/tenantry/tenantry/internal/sfntask"
)

type invoker struct {
	out json.RawMessage
	f   *sfntask.Failure
	got []byte
}

func (i *invoker) Invoke(_ context.Context, payload []byte) (json.RawMessage, *sfntask.Failure) {
	i.got = payload
	return i.out, i.f
}

// A task's output is the function's response; a task's failure is the
// function error whose Lambda error type is the failure's name (what the
// definition's Retry and Catch match) and whose message is its cause.
func TestHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inv      invoker
		wantOut  string
		wantType string
	}{
		{name: "output", inv: invoker{out: json.RawMessage(`{"documentId":"d1"}`)}, wantOut: `{"documentId":"d1"}`},
		{name: "permanent", inv: invoker{f: &sfntask.Failure{Name: sfntask.ErrorPermanent, Stage: "extract", Reason: "malformed_document"}},
			wantType: sfntask.ErrorPermanent},
		{name: "envelope rejected", inv: invoker{f: &sfntask.Failure{Name: sfntask.ErrorEnvelopeRejected, Stage: "verify", Reason: "bad_signature"}},
			wantType: sfntask.ErrorEnvelopeRejected},
		{name: "transient", inv: invoker{f: &sfntask.Failure{Name: sfntask.ErrorTransient, Stage: "store", Reason: "not_recorded"}},
			wantType: sfntask.ErrorTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := tt.inv
			payload := json.RawMessage(`{"stage":"verify","execution":"e-1","input":{}}`)
			out, err := sfnlambda.Handler(&inv)(context.Background(), payload)
			if string(inv.got) != string(payload) {
				t.Fatalf("the task got %s, want the payload unchanged", inv.got)
			}
			if tt.wantType == "" {
				if err != nil || string(out) != tt.wantOut {
					t.Fatalf("got %s, %v; want %s", out, err, tt.wantOut)
				}
				return
			}
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) || ie.Type != tt.wantType || ie.Message != inv.f.CauseJSON() || out != nil {
				t.Fatalf("got %s, %#v; want error type %s with message %s", out, err, tt.wantType, inv.f.CauseJSON())
			}
		})
	}
}
