package binding_test

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/internal/archtest"
)

// The one-gate rule, pinned by parsing the module's own source (the way
// tenantdb's TestOnlyVerifiersMintScopes pins minting): whatever transport a
// tenant arrives by, only internal/binding turns outside input into a
// verified scope, and only internal/objects reads S3.

const moduleRoot = "../.."

// verifyAPI are the envelope verification calls. Only the gate combines
// them; the envelope package itself is the exception (its Verifier.Check,
// behind `tenantry envelope verify`, returns an operator's verdict, never a
// scope for the database).
var verifyAPI = []string{"Verify", "VerifyObject", "VerifyJob", "VerifyRemoval", "RequireAction"}

// s3ReadAPI are the S3 reads. Only internal/objects makes them (the
// presign tool uploads and never reads).
var s3ReadAPI = []string{"HeadObject", "GetObject", "GetObjectTagging"}

// rule is one architecture rule: files outside allowed (or, with only, the
// files under only) may not use api or import a path with a forbidden prefix.
type rule struct {
	name      string
	allowed   []string
	only      []string
	api       []string
	forbidden string
	fix       string
}

var rules = []rule{
	{name: "TestOnlyTheGateVerifies", allowed: []string{"internal/binding/", "internal/envelope/"},
		api: verifyAPI, fix: "establish the tenant with internal/binding"},
	{name: "TestOnlyObjectsReadsS3", allowed: []string{"internal/objects/", "internal/presign/"},
		api: s3ReadAPI, fix: "read S3 through internal/objects"},
	{name: "TestStepFunctionsKnowNoEnvelope", only: []string{"internal/sfntask/", "internal/sfnctl/", "internal/sfnlambda/"},
		forbidden: "github.com/tenantry/tenantry/internal/envelope", fix: "go through internal/binding (never SFN -> Envelope)"},
	{name: "TestCmdHoldsNoDatabase", only: []string{"cmd/"},
		forbidden: "github.com/tenantry/tenantry/internal/tenantdb", fix: "build it in internal/service"},
}

// TestOneGate checks every rule against the module: no package but
// internal/binding (and the envelope package itself) calls the envelope
// verification API, so the SQS worker, every Step Functions task, sfn
// start/replay, dlq replay, search and the demo establish tenants through
// binding.Resolver; no package but
// internal/objects calls HeadObject or GetObject; the Step Functions
// packages do not import internal/envelope; cmd/ opens no database.
func TestOneGate(t *testing.T) {
	t.Parallel()
	files := archtest.Files(t, moduleRoot)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			for rel, f := range files {
				if archtest.Under(rel, r.allowed...) || len(r.only) > 0 && !archtest.Under(rel, r.only...) {
					continue
				}
				for _, name := range archtest.Uses(f, r.api...) {
					t.Errorf("%s uses %s: %s", rel, name, r.fix)
				}
				if r.forbidden != "" {
					for _, p := range archtest.Imports(f, r.forbidden) {
						t.Errorf("%s imports %s: %s", rel, p, r.fix)
					}
				}
			}
		})
	}
}

// TestGateBypassesDetected: the checker itself finds a bypass, so the rules
// above would fail if a package verified or read S3 on its own.
func TestGateBypassesDetected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		api       []string
		want      int
	}{
		{"verify an object", `package p; func f() { v.VerifyObject(ctx, tok, b, k) }`, verifyAPI, 1},
		{"verify and require", `package p; func f() { x, _ := h.verifier.Verify(ctx, t); x.RequireAction(a) }`, verifyAPI, 2},
		{"removal", `package p; func f() { envelope.VerifyRemoval(b, k, id) }`, verifyAPI, 1},
		{"through the gate", `package p; func f() { gate.Object(ctx, req); gate.Resolve(ctx, ev, id) }`, verifyAPI, 0},
		{"audit chains are another API", `package p; func f() { audit.VerifyAll(ctx, r, nil) }`, verifyAPI, 0},
		{"head and get", `package p; func f() { c.HeadObject(ctx, in); h.s3.GetObject(ctx, in) }`, s3ReadAPI, 2},
		{"a method value", `package p; func f() { get := c.GetObject; _ = get }`, s3ReadAPI, 1},
		{"intermediate writes", `package p; func f() { c.PutObject(ctx, in); c.DeleteObject(ctx, in) }`, s3ReadAPI, 0},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", tc.src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := archtest.Uses(f, tc.api...); len(got) != tc.want {
			t.Errorf("%s: found %v, want %d", tc.name, got, tc.want)
		}
	}
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", `package p; import "github.com/tenantry/tenantry/internal/envelope"`, 0)
	if err != nil || len(archtest.Imports(f, rules[2].forbidden)) != 1 || !strings.HasPrefix(rules[2].name, "TestStepFunctions") {
		t.Errorf("an import of internal/envelope is not detected (%v)", err)
	}
}
