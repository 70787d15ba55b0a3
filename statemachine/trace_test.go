package statemachine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/statemachine"
)

// TestInputTrace: a start input may carry the starter's W3C trace context;
// anything else under "trace" is refused like any other bad input.
func TestInputTrace(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name, trace string
		ok          bool
	}{
		{"traceparent", `{"traceparent":"` + tp + `"}`, true},
		{"with tracestate", `{"traceparent":"` + tp + `","tracestate":"vendor=x"}`, true},
		{"empty", `{}`, true},
		{"baggage", `{"baggage":"tenant_id=other"}`, false},
		{"tenant smuggled", `{"traceparent":"` + tp + `","tenant_id":"x"}`, false},
		{"oversized", `{"tracestate":"` + strings.Repeat("a", 600) + `"}`, false},
		{"control character", `{"traceparent":"00-\n"}`, false},
		{"not strings", `{"traceparent":1}`, false},
		{"not an object", `"` + tp + `"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := statemachine.ParseInput([]byte(`{"bucket":"uploads","key":"t/d/f.txt","trace":` + tc.trace + `}`))
			if tc.ok != (err == nil) {
				t.Fatalf("ParseInput: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, statemachine.ErrBadInput) {
				t.Fatalf("%v does not wrap ErrBadInput", err)
			}
			if tc.ok && tc.name == "traceparent" && in.Trace["traceparent"] != tp {
				t.Fatalf("trace %v", in.Trace)
			}
		})
	}
}
