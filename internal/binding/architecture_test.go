package binding_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The one-gate rule, pinned by parsing the module's own source (the way
// tenantdb's TestOnlyVerifiersMintScopes pins minting): whatever transport a
// tenant arrives by, only internal/binding turns outside input into a
// verified scope, and only internal/objects reads S3.

const moduleRoot = "../.."

// verifyAPI are the envelope verification calls. Only the gate combines
// them; the envelope package itself and `tenantry envelope verify` (an
// operator's tool that prints a verdict, never a scope for the database)
// are the exceptions.
var verifyAPI = []string{"Verify", "VerifyObject", "VerifyJob", "VerifyRemoval", "RequireAction"}

var verifyAllowed = []string{"internal/binding/", "internal/envelope/", "cmd/tenantry/envelope.go"}

// s3ReadAPI are the S3 reads. Only internal/objects makes them (the
// presign tool uploads and never reads).
var s3ReadAPI = []string{"HeadObject", "GetObject"}

var s3ReadAllowed = []string{"internal/objects/", "internal/presign/"}

// gateBypasses lists, for one file, every use of a name in api on any
// receiver: a call x.Name(...) or a method value x.Name.
func gateBypasses(f *ast.File, api []string) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && slices.Contains(api, sel.Sel.Name) {
			out = append(out, sel.Sel.Name)
		}
		return true
	})
	return out
}

// moduleFiles parses every non-test .go file of the module (tools/, a
// separate module, and testdata excluded), keyed by slash path.
func moduleFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	fset := token.NewFileSet()
	out := map[string]*ast.File{}
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "tools" || d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("found only %d Go files: wrong root?", len(out))
	}
	return out
}

func allowedPath(rel string, allowed []string) bool {
	return slices.ContainsFunc(allowed, func(p string) bool { return strings.HasPrefix(rel, p) })
}

// TestOnlyTheGateVerifies: no package but internal/binding (and the
// envelope package, and `tenantry envelope verify`) calls the envelope
// verification API. The SQS worker, every Step Functions task, sfn
// start/replay, dlq replay, search and the demo establish tenants through
// binding.Resolver.
func TestOnlyTheGateVerifies(t *testing.T) {
	t.Parallel()
	for rel, f := range moduleFiles(t) {
		if allowedPath(rel, verifyAllowed) {
			continue
		}
		for _, name := range gateBypasses(f, verifyAPI) {
			t.Errorf("%s calls %s: establish the tenant with internal/binding", rel, name)
		}
	}
}

// TestOnlyObjectsReadsS3: no package but internal/objects calls HeadObject
// or GetObject, so there is one version-aware, size-limited reader and one
// S3 error classifier.
func TestOnlyObjectsReadsS3(t *testing.T) {
	t.Parallel()
	for rel, f := range moduleFiles(t) {
		if allowedPath(rel, s3ReadAllowed) {
			continue
		}
		for _, name := range gateBypasses(f, s3ReadAPI) {
			t.Errorf("%s calls %s: read S3 through internal/objects", rel, name)
		}
	}
}

// TestStepFunctionsKnowNoEnvelope: the Step Functions packages do not even
// import internal/envelope (architecture: never SFN -> Envelope); their
// tenant is binding's verdict.
func TestStepFunctionsKnowNoEnvelope(t *testing.T) {
	t.Parallel()
	sfn := []string{"internal/sfntask/", "internal/sfnctl/", "internal/sfnlambda/"}
	for rel, f := range moduleFiles(t) {
		if !allowedPath(rel, sfn) {
			continue
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/tenantry/tenantry/internal/envelope" {
				t.Errorf("%s imports internal/envelope: go through internal/binding", rel)
			}
		}
	}
}

// TestCmdHoldsNoDatabase: cmd/ parses flags into settings and calls
// internal/service; it never opens the tenant gateway itself.
func TestCmdHoldsNoDatabase(t *testing.T) {
	t.Parallel()
	for rel, f := range moduleFiles(t) {
		if !strings.HasPrefix(rel, "cmd/") {
			continue
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "github.com/tenantry/tenantry/internal/tenantdb" {
				t.Errorf("%s imports internal/tenantdb: build it in internal/service", rel)
			}
		}
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
		if got := gateBypasses(f, tc.api); len(got) != tc.want {
			t.Errorf("%s: found %v, want %d", tc.name, got, tc.want)
		}
	}
}
