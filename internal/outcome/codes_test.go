package outcome_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/binding"
	"github.com/tenantry/tenantry/internal/breaker"
	"github.com/tenantry/tenantry/internal/dlq"
	"github.com/tenantry/tenantry/internal/envelope"
	"github.com/tenantry/tenantry/internal/event"
	"github.com/tenantry/tenantry/internal/outcome"
	"github.com/tenantry/tenantry/internal/retrieval"
	"github.com/tenantry/tenantry/internal/searchapi"
	"github.com/tenantry/tenantry/internal/sfntask"
	"github.com/tenantry/tenantry/internal/tenantdb"
	"github.com/tenantry/tenantry/pipeline"
	"github.com/tenantry/tenantry/worker"
)

var update = flag.Bool("update", false, "rewrite docs/reasons.md")

// TestEveryCodeIsDocumented: every reason code a package defines is in
// outcome.Codes, once.
func TestEveryCodeIsDocumented(t *testing.T) {
	t.Parallel()
	known := map[string]int{}
	for _, c := range outcome.Codes() {
		known[c.Code]++
		if worker.SanitizeReason(c.Code) != c.Code || c.Meaning == "" || c.Class == "" {
			t.Errorf("code %+v", c)
		}
	}
	for code, n := range known {
		if n > 1 {
			t.Errorf("%s listed %d times", code, n)
		}
	}
	var defined []string
	for _, r := range envelope.Reasons() {
		defined = append(defined, string(r))
	}
	defined = append(defined,
		binding.ReasonMissingEnvelope, binding.ReasonEnvelopeMismatch, binding.ReasonUnknownBucket,
		binding.ReasonObjectUnavailable, binding.ReasonObjectExists, binding.ReasonKeysUnavailable,
		event.ReasonMalformed, event.ReasonUnsupported, event.ReasonUnsupportedJob, event.ReasonMalformedEnvelope,
		event.ReasonTooLarge, event.ReasonBadKeyEncoding, event.IgnoreTestEvent, event.IgnoreUnhandledType,
		sfntask.ReasonMalformedTask, sfntask.ReasonBadInput, sfntask.ReasonIntermediateMissing,
		sfntask.ReasonOutputTooLarge, sfntask.ReasonNotRecorded,
		outcome.ReasonObjectNotFound, outcome.ReasonAccessDenied, outcome.ReasonRLSViolation, outcome.ReasonThrottled,
		dlq.ReasonMixedTenants, breaker.ReasonOpen,
		binding.ReasonMissingCredentials, binding.ReasonAmbiguousCredentials, binding.ReasonNoTokenVerifier, binding.ReasonInvalidToken,
		binding.ReasonMissingToken, binding.ReasonForeignIssuer, binding.ReasonWrongTokenUse, binding.ReasonNoTenant,
		searchapi.ReasonBadRequest, searchapi.ReasonBadFilter, searchapi.ReasonEmbedFailed, searchapi.ReasonInternal,
		searchapi.ReasonDatabaseUnavailable, retrieval.ReasonBadMetadata,
		worker.ReasonPermanent, worker.ReasonTransient, worker.ReasonRetryAfter, worker.ReasonPanic,
		worker.ReasonTimeout, worker.ReasonCanceled, worker.ReasonMaxReceives,
		tenantdb.ReasonSupportNoGrant, tenantdb.ReasonSupportWrongTenant, tenantdb.ReasonSupportWrongOperator,
		tenantdb.ReasonSupportRevoked, tenantdb.ReasonSupportExpired, tenantdb.ReasonSupportBadRequest,
	)
	for _, err := range []error{pipeline.ErrUnsupported, pipeline.ErrMalformed, pipeline.ErrTooLarge, pipeline.ErrEmpty, pipeline.ErrRejected, pipeline.ErrSourceChanged} {
		defined = append(defined, pipeline.Reason(err))
	}
	for _, code := range defined {
		if known[code] == 0 {
			t.Errorf("reason %q is not in outcome.Codes (nor docs/reasons.md)", code)
		}
	}
}

// TestClassify: one classifier for every transport.
func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		class  outcome.Class
		reason string
	}{
		{&binding.Error{Kind: binding.KindRejected, Code: "expired"}, outcome.Rejected, "expired"},
		{&binding.Error{Kind: binding.KindUnavailable, Code: binding.ReasonKeysUnavailable}, outcome.Transient, "keys_unavailable"},
		{&binding.Error{Kind: binding.KindNotServed, Code: binding.ReasonUnknownBucket}, outcome.Permanent, "unknown_bucket"},
		{worker.Permanent(errors.New("x"), "bad_key_layout"), outcome.Permanent, "bad_key_layout"},
		{&pipeline.StageError{Stage: "extract", Err: pipeline.ErrUnsupported}, outcome.Permanent, "unsupported_media_type"},
		{&pipeline.TransientError{Err: errors.New("429"), RetryAfter: 1e9}, outcome.Throttled, "throttled"},
		{errors.New("connection reset"), outcome.Transient, "transient"},
		// The envelope package's own verdict, wrapped by a caller.
		{fmt.Errorf("verify: %w", &envelope.Error{Code: envelope.ReasonBadSignature}), outcome.Rejected, "bad_signature"},
		{fmt.Errorf("verify: %w", envelope.ErrKeysUnavailable), outcome.Transient, "transient"},
		// A task turned away by its tenant's breaker: retry later.
		{fmt.Errorf("extract: %w", breaker.ErrOpen), outcome.Transient, breaker.ReasonOpen},
	} {
		v := outcome.Classify(tc.err)
		if v.Class != tc.class || v.Reason != tc.reason {
			t.Errorf("%v: %s (%s), want %s (%s)", tc.err, v.Class, v.Reason, tc.class, tc.reason)
		}
	}
	if v := outcome.Classify(&pipeline.StageError{Stage: "extract", Err: pipeline.ErrEmpty}); v.Stage != "extract" {
		t.Errorf("stage %q, want extract", v.Stage)
	}
}

const (
	beginMarker = "<!-- BEGIN GENERATED: go test ./internal/outcome -run TestReasonsDoc -update -->\n"
	endMarker   = "<!-- END GENERATED -->"
)

func reasonsTable() string {
	var b strings.Builder
	b.WriteString("| code | class | assigned by | meaning |\n|---|---|---|---|\n")
	for _, c := range outcome.Codes() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Code, c.Class, c.Source, strings.ReplaceAll(c.Meaning, "|", "\\|"))
	}
	return b.String()
}

// TestReasonsDocIsCurrent keeps docs/reasons.md equal to outcome.Codes.
func TestReasonsDocIsCurrent(t *testing.T) {
	path := "../../docs/reasons.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		t.Fatal("docs/reasons.md lacks the generated-section markers")
	}
	want := s[:i+len(beginMarker)] + reasonsTable() + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("docs/reasons.md is out of date: run go test ./internal/outcome -run TestReasonsDoc -update")
}
