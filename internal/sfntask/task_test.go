package sfntask_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/objects"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

const doc = `"doc":{"envelope":"a.b.c","bucket":"b","key":"t/d/f"}`

var decodeCases = []struct {
	name string
	body string
	ok   bool
}{
	{"verify", `{"taskToken":"tok","stage":"verify","execution":"e-1","input":{"bucket":"b","key":"k"}}`, true},
	{"extract", `{"taskToken":"tok","stage":"extract","execution":"e-1",` + doc + `}`, true},
	{"embed", `{"taskToken":"tok","stage":"embed","execution":"e-1",` + doc + `,"batch":3}`, true},
	{"markfailed before verify", `{"taskToken":"tok","stage":"markfailed","execution":"e","doc":{"envelope":""},"failure":{"Error":"E","Cause":"c"}}`, true},
	{"no token", `{"stage":"verify","execution":"e","input":{}}`, false},
	{"token with spaces", `{"taskToken":"t o k","stage":"verify","execution":"e","input":{}}`, false},
	{"huge token", `{"taskToken":"` + strings.Repeat("t", 4096) + `","stage":"verify","execution":"e","input":{}}`, false},
	{"unknown stage", `{"taskToken":"tok","stage":"compile","execution":"e"}`, false},
	{"unknown field", `{"taskToken":"tok","stage":"verify","execution":"e","input":{},"tenant":"x"}`, false},
	{"bad execution name", `{"taskToken":"tok","stage":"verify","execution":"../e","input":{}}`, false},
	{"verify without input", `{"taskToken":"tok","stage":"verify","execution":"e"}`, false},
	{"extract without doc", `{"taskToken":"tok","stage":"extract","execution":"e"}`, false},
	{"extract before verify", `{"taskToken":"tok","stage":"extract","execution":"e","doc":{"envelope":""}}`, false},
	{"embed without batch", `{"taskToken":"tok","stage":"embed","execution":"e",` + doc + `}`, false},
	{"negative batch", `{"taskToken":"tok","stage":"embed","execution":"e",` + doc + `,"batch":-1}`, false},
	{"markfailed without failure", `{"taskToken":"tok","stage":"markfailed","execution":"e",` + doc + `}`, false},
	{"bad sequencer", `{"taskToken":"tok","stage":"chunk","execution":"e","doc":{"envelope":"x","bucket":"b","key":"k","sequencer":"zz"}}`, false},
	{"trailing data", `{"taskToken":"tok","stage":"verify","execution":"e","input":{}} {}`, false},
	{"not JSON", `tok`, false},
	{"not UTF-8", "{\"taskToken\":\"tok\xff\"}", false},
}

func TestDecodeTask(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		task, err := sfntask.DecodeTask([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, sfntask.ErrMalformedTask) {
			t.Errorf("%s: %v does not wrap ErrMalformedTask", tc.name, err)
		}
		if err == nil && task.Token != "tok" {
			t.Errorf("%s: token %q", tc.name, task.Token)
		}
	}
}

func FuzzDecodeTask(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		task, err := sfntask.DecodeTask(body)
		if err != nil {
			return
		}
		if task.Token == "" || len(task.Token) > 2048 {
			t.Fatalf("accepted token %q", task.Token)
		}
		if task.Stage != sfntask.StageVerify && task.Doc == nil {
			t.Fatal("accepted a later stage without doc")
		}
		if task.Stage == sfntask.StageEmbed && (task.Batch == nil || *task.Batch < 0) {
			t.Fatal("accepted an embed task without a batch")
		}
		if strings.ContainsAny(task.Execution, "/.: ") {
			t.Fatalf("accepted execution %q", task.Execution)
		}
	})
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		name   string
		reason string
	}{
		{&binding.Error{Kind: binding.KindRejected, Code: "expired", Err: &envelope.Error{Code: envelope.ReasonExpired}}, sfntask.ErrorEnvelopeRejected, "expired"},
		{fmt.Errorf("s3 get: %w", objects.ErrNotFound), sfntask.ErrorPermanent, "object_not_found"},
		{fmt.Errorf("s3 get: %w", objects.ErrAccessDenied), sfntask.ErrorPermanent, "access_denied"},
		{fmt.Errorf("extract: %w", pipeline.ErrUnsupported), sfntask.ErrorPermanent, "unsupported_media_type"},
		{fmt.Errorf("chunk: %w", pipeline.ErrEmpty), sfntask.ErrorPermanent, "empty_document"},
		{worker.Permanent(errors.New("x"), "bad_thing"), sfntask.ErrorPermanent, "bad_thing"},
		{&pgconn.PgError{Code: "42501"}, sfntask.ErrorPermanent, "rls_violation"},
		{&pipeline.TransientError{Err: errors.New("429"), RetryAfter: time.Second}, sfntask.ErrorThrottled, "throttled"},
		{&pipeline.TransientError{Err: errors.New("503")}, sfntask.ErrorTransient, "transient"},
		{&binding.Error{Kind: binding.KindUnavailable, Code: binding.ReasonKeysUnavailable, Err: envelope.ErrKeysUnavailable}, sfntask.ErrorTransient, "keys_unavailable"},
		{context.DeadlineExceeded, sfntask.ErrorTransient, "timeout"},
		{errors.New("connection reset by peer"), sfntask.ErrorTransient, "transient"},
		{fmt.Errorf("admit: %w", breaker.ErrOpen), sfntask.ErrorBreakerOpen, breaker.ReasonOpen},
	}
	for _, tc := range tests {
		f := sfntask.Classify(sfntask.StageEmbed, tc.err)
		if f.Name != tc.name || f.Reason != tc.reason || f.Stage != sfntask.StageEmbed {
			t.Errorf("%v: %+v, want %s/%s", tc.err, f, tc.name, tc.reason)
		}
		c, ok := sfntask.ParseCause(f.CauseJSON())
		if !ok || c.Reason != tc.reason || strings.Contains(f.CauseJSON(), tc.err.Error()) && tc.err.Error() != tc.reason {
			t.Errorf("%v: cause %s leaks the error or does not parse", tc.err, f.CauseJSON())
		}
	}
}

func TestErrorNames(t *testing.T) {
	t.Parallel()
	all := append(append([]string{}, sfntask.RetriedErrorNames...), sfntask.CaughtErrorNames...)
	if fmt.Sprint(all) != fmt.Sprint(sfntask.ErrorNames()) {
		t.Errorf("retried %v + caught %v != all %v", sfntask.RetriedErrorNames, sfntask.CaughtErrorNames, sfntask.ErrorNames())
	}
	for _, n := range all {
		// Step Functions: at most 256 characters; "States." is reserved.
		if !strings.HasPrefix(n, "Tenantry.") || len(n) > 256 {
			t.Errorf("error name %q", n)
		}
	}
}
